"""The warm-up names the observation terms too faint for the actor's first layer."""

import numpy as np
import pytest
import torch

from symphony_ros.core.config import TrainConfig
from symphony_ros.core.input_balance import FAINT, faint_terms_note, term_shares
from symphony_ros.core.trainer import Trainer

TERMS = (('big', 2), ('small', 3), ('zero', 1))


def test_shares_are_each_terms_part_of_the_mean_square():
    obs = np.array([[10.0, -10.0, 0.1, 0.1, -0.1, 0.0]] * 4)
    shares = term_shares(obs, TERMS)
    assert shares['big'] == pytest.approx(200.0 / 200.03) and shares['zero'] == 0.0
    assert shares['small'] == pytest.approx(0.03 / 200.03)
    assert sum(shares.values()) == pytest.approx(1.0)


def test_a_faint_term_is_named_with_its_share_and_the_heaviest_one():
    obs = np.array([[10.0, -10.0, 0.1, 0.1, -0.1, 0.0]] * 4)
    note = faint_terms_note(obs, TERMS, 'spec_x')
    assert note.startswith('observation spec_x: small 1e-04 of the input')
    assert '(big 100%)' in note and 'zero' not in note   # all-zero: nothing to see yet
    balanced = np.array([[1.0, -1.0, 0.5, 0.5, 0.5, 0.2]])
    assert min(term_shares(balanced, TERMS).values()) > FAINT
    assert faint_terms_note(balanced, TERMS, 'spec_x') is None


@pytest.mark.parametrize('history', [1, 2])
def test_the_trainer_notes_faint_terms_once_when_its_warm_up_ends(tmp_path, history):
    torch.set_num_threads(1)
    cfg = TrainConfig(env='symphony/Humanoid-v4', obs_spec='humanoid_v4_action', steps=60,
                      run_dir=str(tmp_path / 'run'), seed=1, eval_every=1000,
                      eval_episodes=1, checkpoint_every=1000, history=history,
                      overrides=dict(hidden_dim=16, critic_heads=4, batch_size=16,
                                     capacity=400, explore_steps=40))
    trainer = Trainer(cfg, progress=False, tensorboard=False)
    heard = []
    trainer.on_note.append(heard.append)
    try:
        trainer.run()
    finally:
        trainer.close()
    faint = [line for line in heard if line.startswith('observation humanoid_v4_action:')]
    assert len(faint) == 1 and 'previous_action' in faint[0], heard
    assert '(cfrc_ext' in faint[0]

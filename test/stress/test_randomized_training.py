"""symphony train --randomize default: the draws are logged, and a resumed run draws the same."""

import json
import os

import pytest
import torch

from symphony_ros.cli.main import main
from symphony_ros.core.config import TrainConfig
from symphony_ros.core.run_branch import branch_run
from symphony_ros.core.trainer import Trainer
from symphony_ros.robot.randomize import OUTCOME_KEYS

TINY = dict(hidden_dim=16, critic_heads=4, batch_size=16, capacity=400, explore_steps=60)


def _train(run_dir, resume=False, max_steps=None, **kw):
    cfg = TrainConfig(env='symphony/Humanoid-v4', steps=150, run_dir=str(run_dir), seed=2,
                      eval_every=1000, eval_episodes=1, checkpoint_every=50,
                      randomize='default', overrides=dict(TINY), **kw)
    with Trainer(cfg, resume=resume, progress=False, tensorboard=False) as trainer:
        trainer.run(max_steps)
    with open(os.path.join(run_dir, 'randomization.jsonl')) as fh:
        return [json.loads(line) for line in fh]


def test_resumed_randomized_run_draws_as_the_uninterrupted_one(tmp_path):
    torch.set_num_threads(1)
    whole = _train(tmp_path / 'a')
    assert len(whole) >= 3 and len({json.dumps(d) for d in whole}) == len(whole)
    assert all(0.9 <= d['mass_scale_mean'] <= 1.1 for d in whole)
    _train(tmp_path / 'b', max_steps=120)
    resumed = _train(tmp_path / 'b', resume=True)
    # The episodes after the checkpoint at step 100 are drawn again on resume, identically,
    # and end as they did; the one the stop at 120 cut short is logged as not fallen.
    assert len(resumed) > len(whole)
    assert {json.dumps(d) for d in resumed} >= {json.dumps(d) for d in whole}
    extra = [d for d in resumed if d not in whole]
    assert len(extra) == 1 and extra[0]['fell'] is False
    assert {json.dumps(_draws(d)) for d in resumed} == {json.dumps(_draws(d)) for d in whole}
    steps = [d['step'] for d in whole]      # each line: the step its episode ended at
    assert steps == sorted(steps) and 0 < steps[0] and steps[-1] <= 150


def test_a_branch_carries_the_episodes_before_its_step_and_resumes_the_rest_alike(tmp_path):
    torch.set_num_threads(1)
    whole = _train(tmp_path / 'a', keep_checkpoints=True)
    made = branch_run(str(tmp_path / 'a'), str(tmp_path / 'b'), at=100)
    before = [d for d in whole if d['step'] < made.step]
    assert 0 < made.draws == len(before) < len(whole)
    with open(tmp_path / 'b' / 'randomization.jsonl') as fh:
        assert [json.loads(line) for line in fh] == before
    assert _train(tmp_path / 'b', resume=True, keep_checkpoints=True) == whole
    assert main(['inspect', str(tmp_path / 'b'), '--falls', '--since', str(made.step)]) == 0


def _draws(line):
    return {k: v for k, v in line.items() if k not in OUTCOME_KEYS}


def test_ramp_widens_the_draws_from_nominal_and_resumes_identically(tmp_path):
    torch.set_num_threads(1)

    def ramped(run_dir, **kw):
        return _train(run_dir, randomize_ramp=300, **kw)

    whole = ramped(tmp_path / 'a')
    scales = [d['scale'] for d in whole]
    assert scales[0] == 0.0 and scales == sorted(scales) and 0.0 < scales[-1] < 0.5
    first = whole[0]
    assert first['mass_scale_mean'] == 1.0 and first['payload_kg'] == 0.0
    assert first['first_push_s'] is None and first['delay_s'] == 0.0
    assert any(d['payload_kg'] != 0.0 for d in whole[1:])
    ramped(tmp_path / 'b', max_steps=120)
    resumed = ramped(tmp_path / 'b', resume=True)
    assert {json.dumps(_draws(d)) for d in resumed} == {json.dumps(_draws(d)) for d in whole}


def test_ramp_without_randomisation_is_refused(tmp_path):
    cfg = TrainConfig(env='symphony/Humanoid-v4', steps=10, run_dir=str(tmp_path / 'r'),
                      randomize_ramp=100, overrides=dict(TINY))
    with pytest.raises(ValueError, match='--randomize-ramp'):
        Trainer(cfg, progress=False, tensorboard=False)
    assert not os.path.exists(tmp_path / 'r')


def test_a_refill_acts_at_the_checkpoints_width_outside_the_step_count(tmp_path):
    torch.set_num_threads(1)
    run = tmp_path / 'r'
    before = len(_train(run, randomize_ramp=300, exact_resume=False, max_steps=120))
    cfg = TrainConfig(env='symphony/Humanoid-v4', steps=150, run_dir=str(run), seed=2,
                      eval_every=1000, eval_episodes=1, checkpoint_every=50,
                      randomize='default', randomize_ramp=300, exact_resume=False,
                      refill_steps=80, overrides=dict(TINY))
    with Trainer(cfg, resume=True, progress=False, tensorboard=False) as trainer:
        step, episodes = trainer.step_count, trainer.episodes
        assert 50 <= step <= 120 and not trainer.learning
        for _ in range(79):
            trainer.step()
        assert trainer.step_count == step and not trainer.learning
        trainer.step()
        assert trainer.learning and trainer.buffer.size == TINY['capacity']
        assert (trainer.step_count, trainer.episodes) == (step, episodes)
        refilled = trainer._refill_counts[0]
        assert refilled >= 1
        trainer.run()
        assert trainer.step_count == 150
    with open(run / 'randomization.jsonl') as fh:
        after = [json.loads(line) for line in fh][before:]
    # Every episode begun in the refill is drawn at the checkpoint's width; those after at
    # the widths of their own steps, which a refill counted as training steps would have
    # pushed up by 80.
    assert [d['scale'] for d in after[:refilled + 1]] == [step / 300] * (refilled + 1)
    assert after[-1]['scale'] < (step + 80) / 300

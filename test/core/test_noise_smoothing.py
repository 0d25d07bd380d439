"""--noise-smoothing: the actor learns to act alike on an observation with and without noise."""

import os
import re

import pytest
import torch

from symphony_ros.core.config import TrainConfig
from symphony_ros.core.trainer import Trainer

TINY = dict(hidden_dim=16, critic_heads=4, batch_size=32, capacity=2000, explore_steps=100)
# The raw observation: its joint-velocity noise at full size, which the penalty is to narrow.
G1 = dict(env='velocity:g1', obs_spec='velocity_gait', eval_every=10_000, eval_episodes=1,
          overrides=TINY)


def _trainer(run_dir, **kw):
    return Trainer(TrainConfig(run_dir=str(run_dir), **dict(G1, **kw)), progress=False,
                   tensorboard=False)


def _gap(trainer, batch):
    actor = trainer.agent.actor
    with torch.no_grad():
        return float((actor.deterministic(batch.next_obs)
                      - actor.deterministic(batch.next_clean_obs)).square().mean())


def test_noise_smoothing_needs_sensor_noise_and_one_process(tmp_path):
    for kw in ({}, {'randomize': 'default', 'randomize_scale': 0.0}):
        with pytest.raises(ValueError, match='--noise-smoothing: the randomisation adds no '
                                             'sensor noise to smooth over'):
            _trainer(tmp_path / 'a', noise_smoothing=1.0, **kw)
    from symphony_ros.distributed.config import DistributedConfig
    from symphony_ros.distributed.entry import make_trainer
    cfg = TrainConfig(run_dir=str(tmp_path / 'a'), noise_smoothing=1.0, randomize='default',
                      **G1)
    with pytest.raises(ValueError, match='--noise-smoothing runs in a single process only'):
        make_trainer(cfg, DistributedConfig(collectors=2))
    assert not os.path.exists(tmp_path / 'a')


def _trained(run_dir, weight):
    trainer = _trainer(run_dir, steps=400, seed=4, checkpoint_every=400, randomize='default',
                       noise_smoothing=weight)
    # The clean observation is stored whenever the penalty weighs in.
    assert trainer.buffer.clean_obs == (weight > 0)
    try:
        trainer.run()
    finally:
        trainer.close()
    return trainer


def test_the_penalty_narrows_the_actors_answer_to_noise(tmp_path):
    plain = _trained(tmp_path / 'plain', 0.0)
    smooth = _trained(tmp_path / 'smooth', 30.0)
    batch = smooth.buffer.sample(256)
    terms = smooth.agent.loss(batch)
    # The loss's term is the actor's own gap on the batch.
    assert float(terms['noise_gap']) == pytest.approx(_gap(smooth, batch), rel=1e-4)
    smooth.agent.noise_smoothing = 0.0
    assert 'noise_gap' not in smooth.agent.loss(batch)
    # On the same transitions the actor trained without the penalty answers the noise more.
    gaps = _gap(smooth, batch), _gap(plain, batch)
    assert gaps[0] < 0.5 * gaps[1], gaps
    # A run taking over the plain run's buffer says which transitions the term can count on.
    taken = _trainer(tmp_path / 'taken', steps=500, randomize='default', noise_smoothing=1.0,
                     init_from=str(tmp_path / 'plain'), init_buffer=True)
    taken.close()
    assert taken.buffer.clean_obs
    assert any(re.match(r'--noise-smoothing: the [\d,]+ transitions taken over carry no '
                        'observation without its noise', n) for n in taken.notes), taken.notes

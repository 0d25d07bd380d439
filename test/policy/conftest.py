"""Runs to export, built directly from core APIs (fast), plus one real training run."""

from __future__ import annotations

import os
from typing import Optional

import onnx
import pytest
import torch

from symphony_ros.core.checkpoint import save_checkpoint
from symphony_ros.core.config import SymphonyConfig, TrainConfig
from symphony_ros.core.networks import Actor
from symphony_ros.core.snapshot import save_best_actor
from symphony_ros.policy.contract import METADATA_KEY
from symphony_ros.robot import get_robot
from symphony_ros.robot.obs_specs import get_obs_spec

OBS_DIM = get_obs_spec('humanoid_v4_full').dim
ACT_DIM = get_robot('humanoid').n_joints

STEP = 1000


def make_run(run_dir: str, env: str, obs_dim: int, act_dim: int, hidden: int = 32,
             obs_spec: Optional[str] = None, replay_rows: int = 1200, seed: int = 0) -> Actor:
    """Write a run folder: best_actor.pt and a checkpoint with its replay buffer."""
    torch.manual_seed(seed)
    actor = Actor(obs_dim, act_dim, hidden).eval()
    cfg = SymphonyConfig(hidden_dim=hidden, critic_heads=8)
    info = dict(train_config=TrainConfig(env=env, steps=STEP, obs_spec=obs_spec).to_dict(),
                symphony_config=cfg.to_dict(), obs_dim=obs_dim, act_dim=act_dim,
                obs_spec=obs_spec, step=STEP, test_return=42.5)
    save_best_actor(run_dir, actor, info)
    if replay_rows:
        capacity = replay_rows + 100
        obs = torch.zeros(capacity, obs_dim)
        # Replay-like rows: wider spread than N(0, 1), with the tail of the ring left empty.
        obs[:replay_rows] = torch.randn(replay_rows, obs_dim) * 3.0
        replay = {'obs': obs, 'action': torch.zeros(capacity, act_dim), 'head': 0,
                  'size': replay_rows, 'reward_scale': 1.0}
        state = dict(info, agent={'actor': actor.state_dict()})
        save_checkpoint(run_dir, STEP, state, replay)
    return actor


def rewrite_contract(src: str, dst: str, edit) -> None:
    """Copy an exported file with its contract JSON replaced by ``edit(json_text)``."""
    model = onnx.load(src)
    for p in model.metadata_props:
        if p.key == METADATA_KEY:
            p.value = edit(p.value)
    onnx.save(model, dst)


@pytest.fixture(name='make_run')
def make_run_fixture():
    """:func:`make_run`, for tests."""
    return make_run


@pytest.fixture(name='rewrite_contract')
def rewrite_contract_fixture():
    """:func:`rewrite_contract`, for tests."""
    return rewrite_contract


@pytest.fixture(scope='session')
def runs(tmp_path_factory):
    """Build and export two runs: a pendulum-sized gym env and a Humanoid-sized robot env."""
    from symphony_ros.policy.export import export_policy
    root = str(tmp_path_factory.mktemp('policy_runs'))
    out = {}
    for name, env, o, a in (('pendulum', 'InvertedPendulum-v4', 4, 1),
                            ('humanoid', 'Humanoid-v4', OBS_DIM, ACT_DIM)):
        run = os.path.join(root, name)
        actor = make_run(run, env, o, a)
        result = export_policy(run, os.path.join(root, f'{name}.onnx'))
        out[name] = dict(run=run, actor=actor, result=result, onnx=result.path)
    out['root'] = root
    return out


@pytest.fixture(scope='session')
def trained_run(tmp_path_factory):
    """Train a real (tiny) run with the learner; it leaves a checkpoint and replay."""
    from symphony_ros.core.trainer import Trainer
    run = str(tmp_path_factory.mktemp('trained') / 'pendulum')
    cfg = TrainConfig(env='InvertedPendulum-v4', steps=64, run_dir=run, eval_every=64,
                      eval_episodes=1, checkpoint_every=64,
                      overrides=dict(hidden_dim=16, critic_heads=4, batch_size=8,
                                     capacity=256, explore_steps=48))
    with Trainer(cfg, progress=False, tensorboard=False) as trainer:
        trainer.run()
    return run

"""A run saved before its env's critic view grew: the branch gives the critic the new terms.

The pure part (`symphony_ros.core.critic_grow`) against what the env itself computes; then a
G1 run made old (its critic and replay cut back to the view before ``yaw_rate_stride``),
branched and resumed weighing the stride term.
"""

import json

import numpy as np
import pytest
import torch

from symphony_ros.cli.main import main as cli
from symphony_ros.core.agent import Symphony
from symphony_ros.core.checkpoint import (atomic_torch_save, latest_checkpoint,
                                          load_checkpoint, replay_path)
from symphony_ros.core.config import TrainConfig, get_config
from symphony_ros.core.critic_grow import grow_agent, grow_replay, grown_terms, yaw_windows
from symphony_ros.core.replay import FadingReplayBuffer
from symphony_ros.core.trainer import Trainer
from symphony_ros.robot.description import get_robot
from symphony_ros.robot.velocity_env import REWARD_TERMS, make_velocity_env

WEIGHTS = {'track_yaw_stride': 1.0}


def _env():
    return make_velocity_env(get_robot('g1'), obs_spec='velocity_gait_scaled',
                             reward_weights=WEIGHTS).unwrapped


def _rollout(steps, seed=4, reset_at=()):
    """Rows (obs, action, reward, next_obs, done, critic, next_critic, terms) of the env."""
    env = _env()
    obs, info = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(steps):
        if i in reset_at:
            obs, info = env.reset()
        action = rng.uniform(-0.3, 0.3, env.action_space.shape)
        nobs, reward, term, _, ninfo = env.step(action)
        rows.append((obs, action, reward, nobs, term, info['critic_obs'], ninfo['critic_obs'],
                     ninfo['reward_raw']))
        obs, info = nobs, ninfo
    return env, rows


def test_the_stride_yaw_of_stored_steps_is_what_the_env_observed():
    env, rows = _rollout(110, reset_at=(70,))       # past a cycle (40 steps), then a reset
    crit = np.array([r[5] for r in rows])
    nxt = np.array([r[6] for r in rows])
    before, after = yaw_windows(crit[:, :-1], nxt[:, :-1], env.command_layout(), 40)
    np.testing.assert_allclose(before, crit[:, -1], atol=1e-12)
    np.testing.assert_allclose(after, nxt[:, -1], atol=1e-12)
    assert before[70] == 0.0 and abs(after[69]) > 1e-3   # the reset starts a window


def test_only_terms_computed_from_stored_steps_grow():
    terms = (('obs', 5), ('base_lin_vel', 3), ('yaw_rate_stride', 1))
    assert grown_terms(8, terms) == (('yaw_rate_stride', 1),)
    assert grown_terms(9, terms) == ()
    with pytest.raises(ValueError, match='not where a term of its view'):
        grown_terms(7, terms)
    with pytest.raises(ValueError, match='grew by base_lin_vel, which cannot be computed'):
        grown_terms(5, terms)


def test_a_grown_critic_judges_as_before_whatever_the_new_input():
    torch.manual_seed(0)
    cfg = get_config('s3', hidden_dim=16, critic_heads=4, batch_size=8)
    old = Symphony(6, 2, cfg, critic_dim=9)
    grown = Symphony(6, 2, cfg, critic_dim=10)
    state = grow_agent(old.state_dict(), 9, 1)
    grown.load_state_dict(state)
    critic, action = torch.randn(5, 9), torch.rand(5, 2)
    wide = torch.cat([critic, torch.randn(5, 1) * 3], 1)
    with torch.no_grad():
        for net in ('critic', 'target_critic'):
            torch.testing.assert_close(getattr(grown, net)(wide, action),
                                       getattr(old, net)(critic, action))
    first = [k for k in state['critic'] if k.endswith('.0.weight')]
    assert all(state['critic'][k][:, 9].abs().max() == 0 for k in first)


def _buffer(rows, cut):
    """A buffer of ``rows`` as a run saved it: a warm-up of 30 tiled, then the rest;
    ``cut``: as one saved before the new critic term and reward term."""
    dim = len(rows[0][5]) - cut
    names = REWARD_TERMS[:len(REWARD_TERMS) - cut]
    buf = FadingReplayBuffer(128, 98, 29, critic_dim=dim, term_names=names)
    for i, (o, a, r, no, d, c, nc, t) in enumerate(rows):
        buf.add(o, a, r, no, d, critic_obs=c[:dim], next_critic_obs=nc[:dim],
                terms=t[:len(names)])
        if i == 29:
            buf.finish_warmup()
    return buf.state_dict()


def test_a_grown_replay_holds_what_a_run_with_the_new_view_stored():
    env, rows = _rollout(100)
    old, want = _buffer(rows, cut=1), _buffer(rows, cut=0)
    assert len(old['warm_obs']) == 30 and len(old['obs']) == 70     # tiles, and rows of its own
    got = grow_replay(old, env.command_layout(), 40, REWARD_TERMS)
    assert got['term_names'] == list(REWARD_TERMS) and old['term_names'] != got['term_names']
    # The warm-up rows, from the reset on: exact. The buffer's own rows (steps 30-99) begin
    # a window at their oldest, where the run's went on from the warm-up: exact a cycle on.
    step = {r[6][:20].astype(np.float32).tobytes(): i for i, r in enumerate(rows)}
    own = np.array([step[x[:20].numpy().tobytes()] for x in old['next_critic_obs']])
    for key, ok in (('warm_critic_obs', slice(None)), ('warm_next_critic_obs', slice(None)),
                    ('warm_terms', slice(None)), ('critic_obs', own >= 70),
                    ('next_critic_obs', own >= 70), ('terms', own >= 70)):
        torch.testing.assert_close(got[key][ok], want[key][ok], atol=1e-6, rtol=1e-5, msg=key)
    assert (own >= 70).sum() == 30
    stride = got['terms'][:, REWARD_TERMS.index('track_yaw_stride')]
    assert stride.min() < 0.99 and stride.max() > 0.0


# ---- a G1 run saved before the view grew, branched and resumed ------------------------------
TINY = dict(hidden_dim=16, critic_heads=4, batch_size=16, capacity=400, explore_steps=40)


def _cfg(run_dir, steps, weights=''):
    return TrainConfig(env='velocity:g1', steps=steps, run_dir=str(run_dir), seed=1,
                       eval_every=1000, eval_episodes=1, checkpoint_every=40, episode_limit=30,
                       privileged_critic=True, obs_spec='velocity_gait_scaled',
                       reward_weights=weights, relabel_commands=0.5, overrides=dict(TINY))


def _make_old(run):
    """Cut the run's newest checkpoint and replay back to the view before the stride term."""
    path = latest_checkpoint(str(run))
    state = load_checkpoint(path)
    dim = state['critic_dim'] - 1
    for net in ('critic', 'target_critic'):
        for k, w in state['agent'][net].items():
            if k.endswith('.0.weight'):
                state['agent'][net][k] = torch.cat([w[:, :dim], w[:, dim + 1:]], 1)
    state['agent']['optimizer'] = dict(state['agent']['optimizer'])
    for key in ('m', 'v'):
        state['agent']['optimizer'][key] = [
            torch.cat([x[:, :dim], x[:, dim + 1:]], 1)
            if x.dim() == 2 and x.shape[1] == dim + 1 + state['act_dim'] else x
            for x in state['agent']['optimizer'][key]]
    atomic_torch_save(dict(state, critic_dim=dim), path)
    replay = torch.load(replay_path(str(run), state['step']), weights_only=True)
    for key in [k for k in replay if 'critic_obs' in k]:
        replay[key] = replay[key][:, :-1]
    for key in [k for k in replay if k.endswith('terms') and k != 'term_names']:
        replay[key] = replay[key][:, :-1]
    replay['term_names'] = replay['term_names'][:-1]
    atomic_torch_save(replay, replay_path(str(run), state['step']))
    return state['step']


def test_an_old_run_is_refused_at_resume_and_branched_onto_the_grown_view(tmp_path, capsys):
    torch.set_num_threads(1)
    src = tmp_path / 'old'
    with Trainer(_cfg(src, 120), progress=False, tensorboard=False) as trainer:
        trainer.run()
    step = _make_old(src)
    with pytest.raises(Exception, match='branch RUN NEW gives a critic the terms it lacks'):
        with Trainer(_cfg(src, step + 40), resume=True, progress=False, tensorboard=False) as t:
            t.run()
    new = tmp_path / 'grown'
    assert cli(['branch', str(src), str(new)]) == 0
    assert 'its critic given yaw_rate_stride' in capsys.readouterr().out
    with open(new / 'branch.json') as f:
        assert json.load(f)['critic_grown'] == ['yaw_rate_stride']
    assert load_checkpoint(latest_checkpoint(str(new)))['critic_dim'] == 107
    cfg = _cfg(new, step + 60, weights='track_yaw_stride=1.0')
    with Trainer(cfg, resume=True, progress=False, tensorboard=False) as trainer:
        trainer.run()
    assert trainer.progress.step >= step + 60
    assert any('re-scored from their reward terms' in n for n in trainer.notes)
    capsys.readouterr()
    assert cli(['inspect', str(new)]) == 0
    assert 'its critic given yaw_rate_stride' in capsys.readouterr().out


def test_a_privileged_run_of_an_env_without_critic_terms_branches_as_before(tmp_path):
    torch.set_num_threads(1)
    src = tmp_path / 'humanoid'
    cfg = TrainConfig(env='symphony/Humanoid-v4', steps=60, run_dir=str(src), seed=1,
                      eval_every=1000, eval_episodes=1, checkpoint_every=40, episode_limit=30,
                      privileged_critic=True, overrides=dict(TINY))
    with Trainer(cfg, progress=False, tensorboard=False) as trainer:
        trainer.run()
    assert cli(['branch', str(src), str(tmp_path / 'b')]) == 0
    with open(tmp_path / 'b' / 'branch.json') as f:
        assert 'critic_grown' not in json.load(f)

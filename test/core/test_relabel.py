"""--relabel-commands: a stored step under a new command earns what the env pays for it."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from symphony_ros.core.config import TrainConfig
from symphony_ros.core.envs import reward_terms
from symphony_ros.core.relabel import CommandRelabel
from symphony_ros.core.replay import Batch
from symphony_ros.core.trainer import Trainer
from symphony_ros.robot.command_terms import tracking_errors
from symphony_ros.robot.description import get_robot
from symphony_ros.robot.velocity_env import make_velocity_env, REWARD_TERMS

# Every command term weighs in, so a wrong one shows in the reward.
WEIGHTS = {'track_lin_vel': 2.0, 'track_ang_vel': 1.0, 'track_yaw_stride': 1.5,
           'lin_vel_error': -0.25, 'ang_vel_error': -0.3, 'gait_contact': 0.6, 'air_time': 0.5}
SCALE = 2.5
"""A replay's reward scale: stored rewards are divided by it."""


def _env(gait_free_error=None):
    # No resampling: each rollout keeps the command it is given.
    return make_velocity_env(get_robot('g1'), obs_spec='velocity_gait_scaled',
                             reward_weights=WEIGHTS, commands={'resample_steps': 10_000},
                             gait_free_error=gait_free_error)


def _rollout(command, steps=40, seed=3, gait_free_error=None):
    """Transitions of one episode under ``command``; the same actions for every command."""
    env = _env(gait_free_error)
    env.reset(seed=seed)
    env.command[:] = command
    obs, info = env.reobserve()
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(steps):
        action = rng.uniform(-0.3, 0.3, env.action_space.shape)
        nobs, reward, term, _, ninfo = env.step(action)
        rows.append((obs, action, reward, nobs, term, info['critic_obs'], ninfo['critic_obs'],
                     ninfo['reward_raw']))
        obs, info = nobs, ninfo
        if term:
            break
    return env, rows


def _batch(rows):
    def col(i):
        return torch.as_tensor(np.array([r[i] for r in rows]), dtype=torch.float32)
    return Batch(col(0), col(1), col(2)[:, None] / SCALE, col(3), col(4)[:, None].float(),
                 col(5), col(6))


def _relabel(env, to, fraction=1.0):
    """A relabelling whose draw is always ``to`` (ranges of zero width)."""
    layout = dataclasses.replace(env.command_layout(), ranges=tuple((c, c) for c in to))
    names, weights = reward_terms(env)
    return CommandRelabel(layout, names, weights, fraction)


@pytest.mark.parametrize('old,new', [((0.3, 0.1, 0.2), (0.6, -0.2, -0.5)),
                                     ((-0.2, 0.0, 0.6), (0.5, 0.25, 0.0))])
def test_a_relabelled_step_is_the_step_under_the_new_command(old, new):
    env, rows = _rollout(old)
    _, truth = _rollout(new)
    assert len(rows) == len(truth) > 10
    before = _batch(rows)
    after = _relabel(env, new)(before, SCALE)
    want = _batch(truth)
    # Same motion: the rewards differ by the command terms alone, and those are recomputed.
    assert not torch.allclose(before.reward, want.reward, atol=1e-3)
    torch.testing.assert_close(after.reward * SCALE, want.reward * SCALE, atol=2e-5, rtol=1e-5)
    for name in ('obs', 'next_obs', 'critic_obs', 'next_critic_obs'):
        torch.testing.assert_close(getattr(after, name), getattr(want, name), atol=1e-6,
                                   rtol=1e-6, msg=name)
    torch.testing.assert_close(after.action, before.action)
    assert not torch.equal(before.obs, after.obs)   # the input batch is left as it was


def test_the_gait_terms_pay_nothing_past_gait_free_error_and_relabelling_keeps_that():
    """A kick's error frees the gait terms; a relabel that would free them otherwise waits.

    The threshold splits the steps under the new command (errors about it either way), so
    some rows are freed by one command and not the other: those keep their reward; the rest
    earn what the env pays under the new command, freed or not.
    """
    old, new = (0.3, 0.1, 0.2), (0.6, -0.2, -0.5)
    env, rows = _rollout(new)
    layout = env.command_layout()
    reached = layout.reached(np.array([r[6] for r in rows], dtype=np.float64))
    errors = np.sqrt(tracking_errors(np.array(new), *reached)[0])
    # Between two steps' errors, the widest gap of the middle half: no error sits near it.
    e = np.sort(errors)
    k = len(e) // 4 + int(np.argmax(np.diff(e[len(e) // 4:3 * len(e) // 4])))
    free = float(e[k] + e[k + 1]) / 2
    _, truth = _rollout(new, gait_free_error=free)
    names = list(REWARD_TERMS)
    gait = [names.index(k) for k in ('gait_contact', 'swing_height', 'joint_ref')]
    raw, plain = np.array([r[7] for r in truth]), np.array([r[7] for r in rows])
    freed = errors > free
    assert 0 < freed.sum() < len(freed)
    assert np.all(raw[freed][:, gait] == 0.0) and np.all(raw[~freed] == plain[~freed])
    assert np.any(plain[freed][:, gait] != 0.0)     # what the free rule took away
    env, rows = _rollout(old, gait_free_error=free)
    before = _batch(rows)
    after = _relabel(env, new)(before, SCALE)
    want = _batch(truth)
    errors_old = np.sqrt(tracking_errors(np.array(old), *reached)[0])
    same = (errors_old > free) == freed
    assert 0 < same.sum() < len(same)
    moved = torch.as_tensor(same)
    torch.testing.assert_close(after.reward[moved] * SCALE, want.reward[moved] * SCALE,
                               atol=2e-5, rtol=1e-5)
    assert torch.equal(after.reward[~moved], before.reward[~moved])


def test_standing_and_class_changes_are_left_alone_and_the_share_is_kept():
    env, rows = _rollout((0.0, 0.0, 0.0))
    still = _batch(rows)
    kept = _relabel(env, (0.6, 0.0, 0.0))(still, SCALE)
    # A standing command's gait terms differ from a walking one's: not relabelled.
    for name in ('obs', 'reward', 'next_critic_obs'):
        assert torch.equal(getattr(kept, name), getattr(still, name)), name
    env, rows = _rollout((0.4, 0.0, 0.0))
    walking = _batch(rows)
    # Turning in place scores air time differently from walking: not relabelled either.
    assert torch.equal(_relabel(env, (0.0, 0.0, 0.5))(walking, SCALE).reward, walking.reward)
    torch.manual_seed(0)
    half = _relabel(env, (0.7, 0.0, 0.0), fraction=0.5)(walking, SCALE)
    a, b = env.command_layout().command
    moved = (half.obs[:, a:b] != walking.obs[:, a:b]).any(dim=1)
    assert 0 < int(moved.sum()) < len(moved)
    assert torch.equal(half.reward[~moved], walking.reward[~moved])


TINY = dict(hidden_dim=16, critic_heads=4, batch_size=32, capacity=2000, explore_steps=100)


def _config(run, **kw):
    base = dict(run_dir=str(run), env='velocity:g1', eval_every=10_000, eval_episodes=1,
                overrides=TINY, privileged_critic=True, checkpoint_every=150, steps=150,
                seed=2)
    return TrainConfig(**dict(base, **kw))


def test_the_trainer_refuses_what_it_cannot_relabel(tmp_path):
    with pytest.raises(ValueError, match='--relabel-commands: needs --privileged-critic true'):
        Trainer(_config(tmp_path / 'a', relabel_commands=0.5, privileged_critic=False))
    with pytest.raises(ValueError, match='--relabel-commands: env .* has no velocity command'):
        Trainer(_config(tmp_path / 'b', relabel_commands=0.5, env='Humanoid-v4'),
                progress=False, tensorboard=False)
    with pytest.raises(ValueError, match='relabel_commands'):
        _config(tmp_path / 'c', relabel_commands=1.5)


def test_a_resume_may_start_relabelling_and_the_run_records_it(tmp_path):
    run = tmp_path / 'run'
    with Trainer(_config(run), progress=False, tensorboard=False) as trainer:
        trainer.run()
    assert trainer.relabel is None
    with Trainer(_config(run, steps=300, relabel_commands=0.5), resume=True,
                 progress=False, tensorboard=False) as resumed:
        assert any(n.startswith('--relabel-commands 0.5: that share') for n in resumed.notes)
        resumed.run()
    assert resumed.step_count == 300 and resumed.updates > 150
    entry = json.loads((run / 'config.json').read_text())['train_config']['curriculum'][-1]
    assert entry['relabel_commands'] == [0.0, 0.5] and entry['step'] == 150


def test_an_actor_of_stacked_frames_gets_the_new_command_in_every_frame(tmp_path):
    from symphony_ros.core.obs_history import stack_rows
    old, new = (0.3, 0.1, 0.2), (0.6, -0.2, -0.5)
    env, rows = _rollout(old)
    _, truth = _rollout(new)

    def stacked(rows):
        b = _batch(rows)
        s = stack_rows(b.obs.numpy(), b.next_obs.numpy(), 3)
        return b._replace(obs=torch.as_tensor(s['obs']), next_obs=torch.as_tensor(s['next_obs']))
    before, want = stacked(rows), stacked(truth)
    layout = dataclasses.replace(env.command_layout(), ranges=tuple((c, c) for c in new))
    names, weights = reward_terms(env)
    dim = env.observation_space.shape[0]
    after = CommandRelabel(layout, names, weights, 1.0, frames=3, frame_dim=dim)(before, SCALE)
    # Every frame holds the new command: the rollout under it, stacked alike.
    for name in ('obs', 'next_obs', 'critic_obs', 'next_critic_obs'):
        torch.testing.assert_close(getattr(after, name), getattr(want, name), atol=1e-6,
                                   rtol=1e-6, msg=name)
    torch.testing.assert_close(after.reward * SCALE, want.reward * SCALE, atol=2e-5, rtol=1e-5)
    # The trainer of a history run relabels so.
    with Trainer(_config(tmp_path / 'h', relabel_commands=0.5, history=3), progress=False,
                 tensorboard=False) as trainer:
        assert (trainer.relabel.frames, trainer.relabel.frame_dim) == (3, trainer.obs_dim // 3)
        trainer.run()
    assert trainer.step_count == 150 and trainer.updates > 0

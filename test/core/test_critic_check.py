"""`symphony inspect RUN --critic`: a run's critic against the loss's noise and the returns."""

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from g1_tiny_run import TINY, tiny_g1_config
from trained_runs import trained_run

from symphony_ros.cli.main import main as cli
from symphony_ros.core import critic_check
from symphony_ros.core.checkpoint import checkpoint_step, list_checkpoints, load_checkpoint
from symphony_ros.core.critic_check import (check_critic, episode_figures, loss_noise_note,
                                            replay_figures, returns_to_go)
from symphony_ros.core.config import SymphonyConfig, TrainConfig
from symphony_ros.core.envs import make_test_env
from symphony_ros.core.run_dir import RunDirError
from symphony_ros.core.trainer import Trainer


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    """A tiny G1 run with a privileged critic: kept checkpoints, the replay at 120 alone."""
    return trained_run(tmp_path_factory, 'critic', tiny_g1_config)


@pytest.fixture(scope='module')
def plain(tmp_path_factory):
    """The same without a privileged critic (the env still offers a privileged view)."""
    return trained_run(tmp_path_factory, 'critic_plain',
                       lambda d: dataclasses.replace(tiny_g1_config(d),
                                                     privileged_critic=False))


def test_returns_to_go_are_discounted_and_a_cut_episode_keeps_its_head():
    r = np.array([1.0, 1.0, 1.0, 2.0])
    np.testing.assert_allclose(returns_to_go(r, 0.5, fell=True), [2.0, 2.0, 2.0, 2.0])
    # Cut by its time limit, the return stops where the value does not: the tail is left out.
    np.testing.assert_allclose(returns_to_go(r, 0.5, fell=False, tail=2), [2.0, 2.0])
    assert returns_to_go(r, 0.5, fell=False, tail=10).size == 0


def _agent(run):
    state = load_checkpoint(list_checkpoints(str(run))[-1])
    return critic_check._agent(state) + (state,)


def _flat_critic(agent, value):
    """Make every head of both critics say ``value`` whatever they are given."""
    for critic in (agent.critic, agent.target_critic):
        for net in critic.nets:
            torch.nn.init.zeros_(net.linear_out.weight)
            torch.nn.init.constant_(net.linear_out.bias, value)


def test_a_critic_that_says_one_value_everywhere_gives_its_td_error_and_no_noise_cost(run):
    agent, sym, state = _agent(run)
    batch, _ = critic_check._replay_rows(str(run), int(state['step']), 256, seed=0)
    _flat_critic(agent, 7.0)
    reward, value, td, cost = replay_figures(agent, sym, batch)
    r, d = batch['reward'].double(), batch['done'].double()
    assert reward == pytest.approx(float(r.mean()), rel=1e-5)
    assert value == pytest.approx(7.0, rel=1e-6) and cost == pytest.approx(0.0, abs=1e-5)
    want = float((r + sym.gamma * (1 - d) * 7.0 - 7.0).mean())
    assert td == pytest.approx(want, abs=1e-4)


def test_the_noise_cost_is_the_loss_noise_s_and_vanishes_with_it(run):
    agent, sym, state = _agent(run)
    batch, _ = critic_check._replay_rows(str(run), int(state['step']), 512, seed=0)
    cost = replay_figures(agent, sym, batch)[3]
    assert abs(cost) > 1e-4                     # the paper's noise moves the value
    agent.actor.noise_clip = 1e6                # a loss without noise: the same action
    quiet = dataclasses.replace(sym, noise_clip=1e6)
    assert abs(replay_figures(agent, quiet, batch)[3]) < 1e-4
    agent.actor.noise_clip = sym.noise_clip     # the actor's objective noisy, the target not
    split = dataclasses.replace(sym, target_noise_clip=1e6)
    assert abs(replay_figures(agent, split, batch)[3]) < 1e-4


def test_episode_values_are_the_critic_s_at_the_steps_acted(run):
    agent, sym, state = _agent(run)
    _flat_critic(agent, 5.0)
    env = make_test_env(TrainConfig(**state['train_config']))
    try:
        q, g, falls = episode_figures(agent, env, 2, sym.gamma, 1.0, privileged=True)
    finally:
        env.close()
    assert len(q) == len(g) and set(q) == {5.0}
    assert np.all(np.isfinite(g)) and 0 <= falls <= 2


def test_a_kept_checkpoint_without_replay_is_checked_on_the_newest_replay(run):
    first = checkpoint_step(list_checkpoints(str(run))[0])
    f = check_critic(str(run), at=first, rows=64, episodes=1)
    assert f.step == first < 120 and f.replay_step == 120 and f.rows == 64
    assert f.test_episodes == 1 and f.test_steps > 0
    for x in (f.reward, f.value, f.td_error, f.noise_cost, f.test_value, f.test_return):
        assert np.isfinite(x)
    assert f.steady_value == pytest.approx(f.reward / (1 - f.gamma))


def test_a_critic_that_sees_the_actor_s_observation_is_given_it(plain):
    # The env offers a privileged view of another size: a plain critic must not get it.
    f = check_critic(str(plain), episodes=1, rows=64)
    assert f.test_steps > 0 and np.isfinite(f.test_value)


def test_the_cli_says_the_figures_and_gives_them_as_json(run, capsys):
    assert cli(['inspect', str(run), '--critic', '--episodes', '1']) == 0
    out = capsys.readouterr().out
    assert f'critic of {run} at step 120 (4,096 transitions drawn from its own replay' in out
    assert 'the target\'s next-action noise (clip 2.72, std about 0.37) costs' in out
    assert 'test episodes (1, the deterministic actor' in out
    first = checkpoint_step(list_checkpoints(str(run))[0])
    assert cli(['inspect', str(run), '--critic', '--at', str(first), '--episodes', '0',
                '--json']) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc['step'] == first and doc['replay_step'] == 120 and doc['test_episodes'] == 0


@pytest.mark.parametrize('argv, message', [
    (['--at', '40'], '--at: picks what --critic checks; it goes with --critic'),
    (['--episodes', '2'], '--episodes: picks what --critic checks'),
    (['--critic', '--falls'], '--critic and --falls: one at a time'),
])
def test_critic_flags_out_of_place_are_refused(run, capsys, argv, message):
    assert cli(['inspect', str(run)] + argv) == 2
    assert message in capsys.readouterr().err


def test_a_folder_without_checkpoints_or_a_policy_file_is_refused(tmp_path, capsys):
    assert cli(['inspect', str(tmp_path), '--critic']) == 2
    assert f'{tmp_path}: no checkpoint (checkpoints/ckpt_<step>.pt)' in capsys.readouterr().err
    onnx = tmp_path / 'p.onnx'
    onnx.write_bytes(b'')
    assert cli(['inspect', str(onnx), '--critic']) == 2
    assert 'is not a folder' in capsys.readouterr().err
    with pytest.raises(RunDirError, match='no checkpoint'):
        check_critic(str(tmp_path))


def test_a_loss_noisier_than_the_acting_is_said_at_the_start(tmp_path):
    quiet = dataclasses.replace(tiny_g1_config(tmp_path / 'a', steps=10),
                                overrides=dict(TINY, act_noise_clip=10.0))
    with Trainer(quiet, progress=False, tensorboard=False) as trainer:
        said = [n for n in trainer.notes if 'the critic target\'s next action carries noise' in n]
    assert said == ['the critic target\'s next action carries noise of std 0.37 '
                    '(--noise-clip 2.72), 3.7x the acting noise\'s 0.10 (--act-noise-clip): '
                    'the critic is fit to the value of a noisier policy than the one that '
                    'acts, at actions no stored step took (symphony inspect RUN_DIR --critic '
                    'says what it costs)']
    alike = tiny_g1_config(tmp_path / 'b', steps=10)
    with Trainer(alike, progress=False, tensorboard=False) as trainer:
        assert not any('the critic target\'s next action' in n for n in trainer.notes)


def test_the_note_follows_the_targets_noise_not_the_actors_objective():
    split = SymphonyConfig(act_noise_clip=10.0, target_noise_clip=10.0)   # noise_clip e
    assert split.target_clip == 10.0 and loss_noise_note(split) is None
    wide = SymphonyConfig(noise_clip=10.0, act_noise_clip=10.0, target_noise_clip=math.e)
    assert loss_noise_note(wide).startswith(
        'the critic target\'s next action carries noise of std 0.37 (--target-noise-clip 2.72), '
        '3.7x the acting noise\'s 0.10')


FIGURES = dict(step=1000, replay_step=1000, rows=64, gamma=0.99, noise_clip=math.e,
               reward=1.0, value=50.0, td_error=0.0, test_steps=500, test_episodes=2)


@pytest.mark.parametrize('value, returns, falls, cost, says', [
    (10.0, 80.0, 0, 0.9, 'far below what it earns'),      # a noisier policy valued
    (10.0, 80.0, 0, 0.1, None),                            # low, but not for the noise
    (90.0, 20.0, 2, 0.1, 'far above what they earn'),     # an actor past its data
    (90.0, 20.0, 0, 0.1, None),                            # high, and it stands
    (90.0, 80.0, 2, 0.1, None)])                           # fell, and valued about right
def test_the_check_says_which_way_a_critic_is_off(value, returns, falls, cost, says):
    f = critic_check.CriticFigures(**FIGURES, noise_cost=cost, test_value=value,
                                   test_return=returns, test_falls=falls)
    hints = [line for line in critic_check.lines('runs/x', f) if 'far' in line]
    assert len(hints) == (0 if says is None else 1)
    assert says is None or says in hints[0]


def test_a_step_no_checkpoint_was_kept_near_is_refused_naming_the_nearest(run, capsys):
    assert cli(['inspect', str(run), '--critic', '--at', '100000']) == 2
    assert 'no checkpoint near step 100,000 (the nearest kept: 120)' in capsys.readouterr().err

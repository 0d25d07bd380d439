"""Moving a run onto a spec that appends terms its critic saw: it acts alike, then learns them.

`symphony branch --obs-spec velocity_gait_odom` on a small G1 run (symmetric actor,
privileged critic) observing velocity_gait_turn, with the resume and export that follow.
"""

import dataclasses
import json
import os

import numpy as np
import pytest
import torch

from symphony_ros.cli.main import main as cli
from symphony_ros.core.agent import Symphony
from symphony_ros.core.checkpoint import latest_checkpoint, load_checkpoint, replay_path
from symphony_ros.core.config import get_config
from symphony_ros.core.envs import make_env, obs_terms
from symphony_ros.core.obs_extend import added_terms
from symphony_ros.core.run_branch import branch_run
from symphony_ros.core.run_dir import RunDirError
from symphony_ros.core.trainer import Trainer
from symphony_ros.deploy.policy_loop import PolicyLoop
from symphony_ros.robot import get_robot
from symphony_ros.util.layout import term_slices

from g1_tiny_run import G1, TINY, TURN, tiny_g1_config
from trained_runs import trained_run

ODOM = 'velocity_gait_odom'


@pytest.fixture(scope='module')
def turn_run(tmp_path_factory):
    return trained_run(tmp_path_factory, 'extend', tiny_g1_config)


def _agent(state, critic_dim):
    agent = Symphony(state['obs_dim'], 29, get_config('s3', **TINY), critic_dim=critic_dim)
    agent.load_state_dict(state['agent'])
    return agent


def test_the_odom_spec_is_the_turn_spec_then_the_velocity_at_legged_gym_s_scale():
    turn, odom = obs_terms(G1, TURN), obs_terms(G1, ODOM)
    assert odom == turn + (('odom_lin_vel', 3),)
    assert added_terms(turn, odom) == (('odom_lin_vel', 3),)
    env = make_env(G1, obs_spec=ODOM)
    obs, _ = env.reset(seed=4)
    for _ in range(15):
        obs, *_ = env.step(np.full(29, 0.2))
    np.testing.assert_allclose(obs[-3:], 2.0 * env.unwrapped.robot_state().base_lin_vel)
    assert np.abs(obs[-3:]).max() > 0.01                       # it moves: not a zero column
    index, sign = env.unwrapped.mirror_maps()[0].index, env.unwrapped.mirror_maps()[0].sign
    assert index[-3:].tolist() == [98, 99, 100] and sign[-3:].tolist() == [1, -1, 1]
    # On a robot the velocity comes from odometry: a state without it is named.
    state = dataclasses.replace(env.unwrapped.robot_state(), base_lin_vel=None)
    with pytest.raises(ValueError, match=r"'velocity_gait_odom' needs RobotState.base_lin_vel"):
        env.unwrapped.builder.build(state, np.zeros(29), command=np.zeros(3),
                                    gait_phase=np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match='it adds command, which a branch cannot compute'):
        added_terms(turn, turn + (('command', 3),))


def test_a_branch_onto_the_odom_spec_acts_and_judges_alike_and_trains_on(
        turn_run, tmp_path, capsys):
    src_ckpt = latest_checkpoint(str(turn_run))
    old = load_checkpoint(src_ckpt)
    step = old['step']
    new = tmp_path / 'odom'
    assert cli(['branch', str(turn_run), str(new), '--obs-spec', ODOM]) == 0
    assert f'moved onto observation {ODOM}' in capsys.readouterr().out
    with open(new / 'config.json') as f:
        assert json.load(f)['train_config']['obs_spec'] == ODOM
    moved = load_checkpoint(latest_checkpoint(str(new)))
    assert (moved['obs_dim'], moved['critic_dim']) == (101, old['critic_dim'] + 3)
    assert moved['obs_scales']['odom_lin_vel'] == [2.0, 2.0, 2.0]
    src = torch.load(replay_path(str(turn_run), step), weights_only=True)
    replay = torch.load(replay_path(str(new), step), weights_only=True)
    # The new term is the critic's exact base velocity, x2, in the observation and in the
    # critic's view right after it; what came before and after is unchanged.
    vel = term_slices(make_env(G1, obs_spec=TURN).unwrapped.critic_terms)['base_lin_vel']
    for obs, view in (('obs', 'critic_obs'), ('next_obs', 'next_critic_obs')):
        torch.testing.assert_close(replay[obs][:, :98], src[obs])
        torch.testing.assert_close(replay[obs][:, 98:], src[view][:, vel] * 2)
        torch.testing.assert_close(replay[view][:, 98:101], src[view][:, vel] * 2)
        torch.testing.assert_close(replay[view][:, :98], src[view][:, :98])
        torch.testing.assert_close(replay[view][:, 101:], src[view][:, 98:])
    assert float(src['obs'][:, -1].abs().max()) > 0           # some steps had moved
    before, after = _agent(old, old['critic_dim']), _agent(moved, moved['critic_dim'])
    torch.testing.assert_close(after.actor.asb(replay['obs'][:50])[0],
                               before.actor.asb(src['obs'][:50])[0])
    act = replay['action'][:50]
    torch.testing.assert_close(after.critic(replay['critic_obs'][:50], act),
                               before.critic(src['critic_obs'][:50], act))
    cfg = tiny_g1_config(new, steps=step + 60, obs_spec=ODOM)
    with Trainer(cfg, resume=True, progress=False, tensorboard=False) as trainer:
        trainer.run()
    trained = load_checkpoint(latest_checkpoint(str(new)))
    assert trained['step'] >= step + 60
    # Learning reaches the new columns (they start at zero).
    assert float(trained['agent']['actor']['net.0.weight'][:, 98:].abs().max()) > 0
    out = tmp_path / 'odom.onnx'
    newest = sorted(os.listdir(new / 'actors'))[-1]
    assert cli(['export', str(new / 'actors' / newest), '-o', str(out)]) == 0
    capsys.readouterr()
    assert cli(['inspect', str(out)]) == 0
    assert ('inputs         imu, joint_states, previous_action, command, gait_clock, odom '
            '(odom: a state estimator on a robot)') in capsys.readouterr().out
    loop = PolicyLoop(str(out), get_robot('g1'))
    assert loop.policy.contract.observation.name == ODOM
    assert 'odom' in loop.needs


def test_a_run_of_stacked_frames_gets_the_new_terms_in_each_frame_and_leg_odometry(
        tmp_path, capsys):
    hist = tmp_path / 'hist'
    with Trainer(tiny_g1_config(hist, steps=50, history=2), progress=False,
                 tensorboard=False) as t:
        t.run()
    old = load_checkpoint(latest_checkpoint(str(hist)))
    new = tmp_path / 'odom'
    assert cli(['branch', str(hist), str(new), '--obs-spec', ODOM, '--odometry', 'legs']) == 0
    out = capsys.readouterr().out
    assert 'its odometry from legs' in out and 'new terms of its older frames' in out
    with open(new / 'config.json') as f:
        train = json.load(f)['train_config']
    assert (train['obs_spec'], train['odometry'], train['history']) == (ODOM, 'legs', 2)
    moved = load_checkpoint(latest_checkpoint(str(new)))
    assert moved['train_config']['odometry'] == 'legs'
    assert cli(['inspect', str(new)]) == 0
    said = capsys.readouterr().out
    assert 'observation velocity_gait_odom, odometry from the legs (--odometry legs)' in said
    assert 'onto velocity_gait_odom, its odometry from legs (symphony branch' in said
    assert (moved['obs_dim'], moved['critic_dim']) == (202, old['critic_dim'] + 3)
    # Each frame gets the velocity after its own terms, at weight 0: the actor acts alike
    # whatever the velocity, and stays symmetric under the new map.
    before, after = _agent(old, old['critic_dim']), _agent(moved, moved['critic_dim'])
    frames = torch.randn(8, 2, 98)
    velocity = torch.randn(8, 2, 3)
    stacked = torch.cat([frames, velocity], dim=2).reshape(8, 202)
    torch.testing.assert_close(after.actor.asb(stacked)[0],
                               before.actor.asb(frames.reshape(8, 196))[0])
    index, sign = after.actor.mirror_obs_index, after.actor.mirror_obs_sign
    assert index[98:101].tolist() == [98, 99, 100] and index[199:].tolist() == [199, 200, 201]
    assert sign[98:101].tolist() == [1, -1, 1] == sign[199:].tolist()
    view = torch.randn(8, old['critic_dim'])
    grown = torch.cat([view[:, :98], torch.randn(8, 3), view[:, 98:]], dim=1)
    act = torch.rand(8, 29) * 2 - 1
    torch.testing.assert_close(after.critic(grown, act), before.critic(view, act))
    assert not os.path.exists(replay_path(str(new), moved['step']))
    cfg = tiny_g1_config(new, steps=moved['step'] + 40, obs_spec=ODOM, history=2,
                         odometry='legs', refill_steps=40)
    with Trainer(cfg, resume=True, progress=False, tensorboard=False) as trainer:
        assert trainer.env.unwrapped.odometry is not None
        trainer.run()
    assert load_checkpoint(latest_checkpoint(str(new)))['step'] >= moved['step'] + 40


def test_appending_is_refused_where_the_critic_cannot_give_the_term(turn_run, tmp_path):
    plain = tmp_path / 'plain'
    cfg = dataclasses.replace(tiny_g1_config(plain, steps=50), privileged_critic=False)
    with Trainer(cfg, progress=False, tensorboard=False) as t:
        t.run()
    with pytest.raises(RunDirError, match='it adds odom_lin_vel.*this run has none'):
        branch_run(str(plain), str(tmp_path / 'x'), obs_spec=ODOM)
    assert not os.path.exists(tmp_path / 'x')
    with pytest.raises(RunDirError, match="--odometry legs: odometry legs: observation "
                                          "'velocity_gait_turn' reads no odometry"):
        branch_run(str(turn_run), str(tmp_path / 'z'), odometry='legs')
    assert not os.path.exists(tmp_path / 'z')
    with pytest.raises(RunDirError, match=("not the terms of the run's 'velocity_gait_turn'.*"
                                           'or a spec that appends odom_lin_vel')):
        branch_run(str(turn_run), str(tmp_path / 'y'), obs_spec='velocity')

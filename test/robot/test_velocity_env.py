"""The velocity task: observation from the one builder, named reward terms, commands, falls."""

import dataclasses

import mujoco
import numpy as np
import pytest

from symphony_ros.core.envs import default_obs_spec, episode_limit, make_env
from symphony_ros.robot import get_robot
from symphony_ros.robot.gait import GaitClock
from symphony_ros.robot.observations import ObservationBuilder
from symphony_ros.robot.velocity_env import (DEFAULT_WEIGHTS, make_velocity_env, VelocityEnv,
                                             VelocityTask)

from user_robot import robot_doc, write_robot


@pytest.fixture(scope='module')
def g1_env():
    env = make_env('velocity:g1')
    yield env
    env.close()


def test_g1_velocity_env_shapes_and_limits(g1_env):
    n = get_robot('g1').n_joints
    assert g1_env.observation_space.shape == (3 + 3 + 3 * n + 3 + 2,)
    assert g1_env.action_space.shape == (n,)
    assert episode_limit(g1_env) == 1000  # 20 s at 50 Hz
    assert default_obs_spec('velocity:g1') == 'velocity_gait_scaled'
    assert make_env('velocity:g1', obs_spec='velocity').observation_space.shape == (3 * n + 9,)


def test_observation_is_the_builders_and_reward_the_sum_of_named_terms(g1_env):
    builder = ObservationBuilder('velocity_gait_scaled', get_robot('g1'))
    clock = GaitClock(0.8, 0.02)
    obs, info = g1_env.reset(seed=3)
    start = g1_env.clock_start
    np.testing.assert_allclose(obs[-2:], clock.observe(start, np.zeros(2)))
    rng = np.random.default_rng(0)
    for k in range(start + 1, start + 41):
        prev = g1_env.previous_action()
        assert prev.shape == (29,)
        obs, reward, terminated, truncated, info = g1_env.step(rng.uniform(-0.2, 0.2, 29))
        expect = builder.build(g1_env.robot_state(), g1_env.previous_action(),
                               command=info['command'], gait_phase=clock.observe(k, np.zeros(2)))
        np.testing.assert_array_equal(obs, expect)
        # The command as legged_gym scales it (the default observation is the scaled one).
        np.testing.assert_allclose(obs[-5:-2], info['command'] * np.array([2.0, 2.0, 0.25]),
                                   rtol=1e-6)
        assert set(info['reward_terms']) == set(DEFAULT_WEIGHTS)
        assert reward == pytest.approx(sum(info['reward_terms'].values()))
        assert np.isfinite(obs).all() and np.isfinite(reward)
        if terminated:
            break


def test_commands_are_drawn_per_episode_and_redrawn_within_it():
    robot = get_robot('g1')
    env = VelocityEnv(robot, VelocityTask(resample_steps=5, standing_fraction=0.0))
    _, info = env.reset(seed=1)
    seen = [info['command']]
    for _ in range(10):
        seen.append(env.step(np.zeros(29))[4]['command'])
    assert not np.array_equal(seen[0], seen[5]) and np.array_equal(seen[5], seen[9])
    assert not np.array_equal(seen[9], seen[10])
    t = env.task
    for c in seen:
        assert t.lin_vel_x[0] <= c[0] <= t.lin_vel_x[1] and t.yaw_rate[0] <= c[2] <= t.yaw_rate[1]
    standing = VelocityEnv(robot, VelocityTask(standing_fraction=1.0))
    assert np.array_equal(standing.reset(seed=0)[1]['command'], np.zeros(3))


def test_a_tipped_robot_terminates(g1_env):
    g1_env.reset(seed=0)
    env = g1_env.unwrapped
    env.data.qpos[3:7] = [np.cos(0.6), np.sin(0.6), 0.0, 0.0]  # 1.2 rad roll > max_tilt 1.0
    mujoco.mj_forward(env.model, env.data)
    assert env.step(np.zeros(29))[2] is True


def test_tracking_rewards_peak_at_the_commanded_velocity(g1_env):
    g1_env.reset(seed=0)
    env = g1_env.unwrapped
    env.command[:] = 0.0
    standing = env.step(np.zeros(29))[4]['reward_terms']
    assert standing['track_lin_vel'] > 0.9 * DEFAULT_WEIGHTS['track_lin_vel']
    env.command[:] = (1.0, 0.0, 1.0)
    moving = env.step(np.zeros(29))[4]['reward_terms']
    assert moving['track_lin_vel'] < 0.1 + np.exp(-1.0 / 0.25) * DEFAULT_WEIGHTS['track_lin_vel']
    assert moving['track_ang_vel'] < standing['track_ang_vel']


def test_error_penalties_are_the_errors_magnitudes_weighted_only_when_asked():
    robot = get_robot('g1')
    weights = {'lin_vel_error': -1.0, 'ang_vel_error': -0.5}
    env = make_velocity_env(robot, reward_weights=weights).unwrapped
    env.reset(seed=0)
    for command in ((0.0, 0.0, 0.0), (0.5, 0.0, 1.5), (0.8, -0.3, -0.8)):
        env.command[:] = command
        terms = env.step(np.zeros(29))[4]['reward_terms']
        lin, yaw, _ = env.rewards.errors
        assert terms['lin_vel_error'] == -np.sqrt(lin)
        assert terms['ang_vel_error'] == -0.5 * np.sqrt(yaw)
    # Far from the command the kernel is flat and the penalty is not: a robot standing when
    # told to turn at 1.5 rad/s earns almost no track_ang_vel, and pays about 0.5 x 1.5.
    env.command[:] = (0.0, 0.0, 1.5)
    terms = env.step(np.zeros(29))[4]['reward_terms']
    assert terms['track_ang_vel'] < 1e-3 and terms['ang_vel_error'] < -0.6
    default = make_velocity_env(robot).unwrapped
    default.reset(seed=0)
    default.command[:] = (0.8, -0.3, -0.8)
    terms = default.step(np.zeros(29))[4]['reward_terms']
    assert terms['lin_vel_error'] == 0.0 and terms['ang_vel_error'] == 0.0


def test_a_user_robot_file_sets_the_task_and_refuses_unknown_settings(tmp_path):
    path = write_robot(str(tmp_path / 'ok'))
    env = make_env(f'velocity:{path}')
    assert episode_limit(env) == 100  # from the robot file's tasks.velocity
    obs, _ = env.reset(seed=0)
    assert obs.shape == (3 + 3 + 3 * 4 + 3,)
    bad = write_robot(str(tmp_path / 'bad'), robot_doc(tasks={'velocity': {'speed': 2}}))
    with pytest.raises(ValueError, match=r'bad/biped3.yaml: tasks.velocity.speed: unknown'):
        make_env(f'velocity:{bad}')


def test_velocity_needs_a_pd_robot():
    with pytest.raises(ValueError, match="needs a pd_position robot; 'humanoid'"):
        make_env('velocity:humanoid')


def _standing_feet_reward(task, command, steps):
    """Gait terms of ``steps`` zero-action steps of the G1 under a fixed ``command``."""
    task = dataclasses.replace(task, standing_fraction=0.0, resample_steps=10_000)
    env = VelocityEnv(get_robot('g1'), task)
    env.reset(seed=0)
    env.clock_start = 0  # the walking check below counts from phase 0
    env.command[:] = command
    out = []
    for _ in range(steps):
        terms = env.step(np.zeros(29))[4]['reward_terms']
        out.append((terms['gait_contact'], terms['swing_height']))
    return np.array(out)


def test_gait_terms_reward_feet_down_on_a_standing_command_and_a_rhythm_on_a_moving_one():
    task = VelocityTask.for_robot(get_robot('g1'))
    w_contact, w_swing = task.weights['gait_contact'], task.weights['swing_height']
    assert w_contact > 0 > w_swing and task.gait_period == 0.8
    # Standing still on both feet is what a zero command asks: full contact reward, no swing.
    stand = _standing_feet_reward(task, [0.0, 0.0, 0.0], 10)
    np.testing.assert_allclose(stand[:, 0], 2 * w_contact)
    np.testing.assert_allclose(stand[:, 1], 0.0)
    # The same feet under a walking command miss the swing the clock asks of one foot:
    # 0.55 stance means both feet are wanted down only around each step.
    walk = _standing_feet_reward(task, [0.5, 0.0, 0.0], 20)
    assert (walk[:, 0] == w_contact).sum() >= 15
    assert (walk[:, 1] < -20 * 0.07 ** 2 * 0.5).sum() >= 15


def test_a_stepping_stand_asks_a_standing_command_for_the_walking_rhythm():
    task = dataclasses.replace(VelocityTask.for_robot(get_robot('g1')), stand_gait='step')
    # Feet planted under a zero command now miss the clock's swings, as under a walking one.
    stand = _standing_feet_reward(task, [0.0, 0.0, 0.0], 20)
    walk = _standing_feet_reward(task, [0.5, 0.0, 0.0], 20)
    np.testing.assert_allclose(stand, walk)
    assert (stand[:, 1] < 0).sum() >= 15


def test_stand_gait_is_one_of_still_and_step_for_a_task_with_a_clock(tmp_path):
    assert make_env('velocity:g1').unwrapped.task.stand_gait == 'still'
    assert make_env('velocity:g1', stand_gait='step').unwrapped.task.stand_gait == 'step'
    with pytest.raises(ValueError, match=r"--stand-gait: expected one of still, step, got "
                                         r"'hop'"):
        make_env('velocity:g1', stand_gait='hop')
    path = write_robot(str(tmp_path / 'noclock'))
    with pytest.raises(ValueError, match=r"--stand-gait: 'biped3' \(.*noclock/biped3.yaml\) "
                                         r"has no gait clock to step on"):
        make_env(f'velocity:{path}', stand_gait='step')
    bad = write_robot(str(tmp_path / 'bad'), robot_doc(tasks={'velocity': {'stand_gait': 'x'}}))
    with pytest.raises(ValueError, match=r"bad/biped3.yaml: tasks.velocity.stand_gait: expected "
                                         r"one of still, step, got 'x'"):
        make_env(f'velocity:{bad}')


def test_episodes_start_at_every_phase_of_the_clock(g1_env):
    starts = set()
    for seed in range(40):
        g1_env.reset(seed=seed)
        starts.add(g1_env.clock_start)
    assert len(starts) >= 15 and min(starts) >= 0 and max(starts) < 40


def test_a_clock_observation_needs_a_task_with_a_clock():
    robot = get_robot('g1')
    for spec in ('velocity_gait', 'velocity_gait_scaled'):
        with pytest.raises(ValueError, match=f"observation '{spec}'; expected one of velocity "
                                             r"\(the others need a gait clock"):
            VelocityEnv(robot, VelocityTask(), obs_spec=spec)
    assert VelocityEnv(robot, VelocityTask()).observation_space.shape == (96,)


def test_the_scaled_observation_is_the_plain_one_times_its_scales():
    robot = get_robot('g1')
    plain, scaled = make_env('velocity:g1', 'velocity_gait'), make_env('velocity:g1')
    spec = scaled.unwrapped.builder.spec
    assert spec.to_dict()['scales'] == {'imu_angular_velocity': [0.25] * 3,
                                        'joint_vel': [0.05] * robot.n_joints,
                                        'command': [2.0, 2.0, 0.25]}
    assert 'scales' not in plain.unwrapped.builder.spec.to_dict()   # older contracts match
    factor = spec.scale_vector()
    obs = [plain.reset(seed=2)[0], scaled.reset(seed=2)[0]]
    rng = np.random.default_rng(0)
    for _ in range(20):
        np.testing.assert_allclose(obs[1], obs[0] * factor, atol=1e-12)
        a = rng.uniform(-0.4, 0.4, robot.n_joints)
        obs = [plain.step(a)[0], scaled.step(a)[0]]


def test_gait_clock_phase_and_feet():
    clock = GaitClock(0.8, 0.02, stance=0.55)
    assert clock.phase(0) == 0.0 and clock.phase(10) == pytest.approx(0.25)
    assert clock.phase(40) == pytest.approx(0.0) and clock.phase(50) == pytest.approx(0.25)
    assert clock.cycle_ticks == 40
    np.testing.assert_allclose(clock.observe(20, np.zeros(2)), [0.0, -1.0], atol=1e-12)
    # Left down for the first 55 % of the cycle, right half a cycle apart: both down near
    # 0 and 0.5, one swinging otherwise.
    assert clock.stance_feet(0, 2).tolist() == [True, True]
    assert clock.stance_feet(10, 2).tolist() == [True, False]
    assert clock.stance_feet(30, 2).tolist() == [False, True]
    for bad in (dict(period=0.0, dt=0.02), dict(period=0.8, dt=0.02, stance=1.0)):
        with pytest.raises(ValueError, match='gait clock: expected period > 0'):
            GaitClock(**bad)


def _legs_at(env, ticks, lift):
    """Pose the G1's reference joints at default + shape x lift (per foot); forward."""
    task, robot = env.task, env.robot
    names = list(robot.joint_names)
    default = robot.default_pose()
    for foot, row in enumerate(task.ref_joints):
        for j, value in zip(row, task.ref_shape):
            k = names.index(j)
            env.data.qpos[env.qa[k]] = default[k] + value * lift[foot]
    mujoco.mj_forward(env.model, env.data)


def test_joint_ref_peaks_on_the_reference_swing_and_the_default_pose_when_standing():
    robot = get_robot('g1')
    task = VelocityTask.for_robot(robot)
    assert task.ref_joints[0] == ('left_hip_pitch_joint', 'left_knee_joint',
                                  'left_ankle_pitch_joint')
    env = VelocityEnv(robot, dataclasses.replace(task, weights={**task.weights, 'joint_ref': 1.0}))
    env.reset(seed=0)
    clock = env.rewards.clock
    ticks = 10  # a quarter cycle: the right foot mid-swing, the left one down
    lift = clock.swing_lift(ticks, 2)
    assert lift[0] == 0.0 and lift[1] == pytest.approx(np.sin(np.pi * 0.25 / 0.45))

    def joint_ref(command):
        state = env.reader.read(env.data)
        return env.rewards.terms(env.data, state, np.zeros(29), np.zeros(29),
                                 np.array(command), np.zeros(29), np.array([0, 0, -1.0]),
                                 ticks)['joint_ref']
    _legs_at(env, ticks, lift)
    assert joint_ref([0.5, 0.0, 0.0]) == pytest.approx(1.0)
    assert joint_ref([0.0, 0.0, 0.0]) < 0.5          # standing wants the default pose
    _legs_at(env, ticks, np.zeros(2))
    assert joint_ref([0.0, 0.0, 0.0]) == pytest.approx(1.0)
    assert joint_ref([0.5, 0.0, 0.0]) < 0.5


def test_a_reference_swing_must_fit_the_robot(tmp_path):
    for ref, match in (([['left_hip', 'left_knee']], r'expected one row per foot \(2\), got 1'),
                       ([['left_hip'], ['right_hip']],
                        r"row \['left_hip'\] has 1 joints, ref_shape 2 values"),
                       ([['left_hip', 'elbow'], ['right_hip', 'right_knee']],
                        "'elbow' is not a joint of 'biped3'")):
        tasks = {'velocity': {'ref_joints': ref, 'ref_shape': [-0.2, 0.4]}}
        path = write_robot(str(tmp_path / str(len(match))), robot_doc(tasks=tasks))
        with pytest.raises(ValueError, match='biped3.yaml: tasks.velocity.ref_joints: ' + match):
            make_env(f'velocity:{path}')


def test_gait_free_error_needs_gait_terms_to_free(tmp_path):
    """A robot without a gait clock scores no gait terms: freeing them is refused, by name."""
    path = write_robot(str(tmp_path / 'noclock'))
    with pytest.raises(ValueError, match=r"--gait-free-error: 'biped3' \(.*noclock/biped3.yaml"
                                         r"\) scores no gait terms to free: its "
                                         r"tasks.velocity.gait_period is 0"):
        make_env(f'velocity:{path}', gait_free_error=0.5)
    env = make_env('velocity:g1', gait_free_error=0.5)
    assert env.unwrapped.task.gait_free_error == 0.5

"""Leg odometry against the simulator's truth: the G1 walking on its shipped policy, kicked."""

import dataclasses

import mujoco
import numpy as np
import pytest

from symphony_ros.core.envs import make_env
from symphony_ros.policy.runtime import OnnxPolicy
from symphony_ros.robot import get_robot
from symphony_ros.robot.frame_stack import FrameStack
from symphony_ros.robot.leg_odometry import LegOdometry, LegOdometryConfig
from symphony_ros.robot.pd import PDLaw
from symphony_ros.robot.rotations import rotate_to_body, rotation_matrix
from symphony_ros.sim.config import SimConfig
from symphony_ros.sim.robot_sim import RobotSim

from shipped_models import G1_SYM

G1 = get_robot('g1')
STEPS = 300
KICK_STEP = 150


def _walk(kick=(0.0, 0.0), seed=3):
    """Yield the true `RobotState` of each control step of the sym file walking on command."""
    policy = OnnxPolicy(G1_SYM)
    c = policy.contract
    env = make_env(c.env, c.observation.name)
    obs, _ = env.reset(seed=seed)
    stacked = FrameStack(c.observation.history, len(obs)).push
    state_of, data = env.get_wrapper_attr('robot_state'), env.unwrapped.data
    for step in range(STEPS):
        if step == KICK_STEP:
            data.qvel[0:2] += kick                     # the free joint's world velocity
        obs, _, terminated, truncated, _ = env.step(policy.act(stacked(obs)))
        assert not terminated, f'the shipped G1 policy fell at step {step}'
        yield step, state_of()


def _errors(states, odometry, noise=None, since=5):
    """Return ([steps, 3] velocity errors in the base frame, [steps] height errors)."""
    rng, velocity, height = np.random.default_rng(0), [], []
    for step, truth in states:
        measured = truth if noise is None else noise(truth, rng)
        estimate = odometry.update(measured)
        if step >= since:
            velocity.append(estimate.base_lin_vel - truth.base_lin_vel)
            height.append(estimate.base_position[2] - truth.base_position[2])
    return np.array(velocity), np.array(height)


def _rms(x, axis=None):
    return np.sqrt(np.mean(np.square(x), axis=axis))


def test_it_tracks_the_base_velocity_and_height_of_the_walking_g1():
    velocity, height = _errors(_walk(), LegOdometry(G1))
    assert np.all(_rms(velocity, axis=0) < 0.06), _rms(velocity, axis=0)
    assert _rms(height) < 0.005
    # No drift: the error at the end is as small as along the way.
    assert np.all(np.abs(velocity[-20:].mean(axis=0)) < 0.05)


def test_after_a_kick_the_legs_bring_the_estimate_back_within_a_few_steps():
    """The sim's kick changes the velocity at once, which no accelerometer sees; the legs do."""
    states = list(_walk(kick=(0.8, 0.0)))
    velocity, _ = _errors(states, LegOdometry(G1), since=0)
    after = velocity[KICK_STEP:]
    assert abs(after[0][0]) > 0.3, 'the kick should show as an error at first'
    assert _rms(after[10:60]) < 0.09


def test_the_accelerometer_smooths_noisy_joint_velocities():
    """Encoder-differentiated velocities are noisy; fusing the IMU beats the legs alone."""
    def noisy(state, rng):
        return dataclasses.replace(
            state, joint_velocities=state.joint_velocities + rng.uniform(-1.5, 1.5, G1.n_joints))
    states = list(_walk())
    legs_alone = LegOdometryConfig(leg_velocity_noise=1e-3)
    fused, _ = _errors(states, LegOdometry(G1), noisy)
    alone, _ = _errors(states, LegOdometry(G1, legs_alone), noisy)
    assert _rms(fused) < 0.6 * _rms(alone), (_rms(fused), _rms(alone))


def test_without_an_accelerometer_it_runs_on_the_legs():
    states = [(k, dataclasses.replace(s, imu_linear_acceleration=None)) for k, s in _walk()]
    velocity, height = _errors(states, LegOdometry(G1))
    assert np.all(_rms(velocity, axis=0) < 0.15) and _rms(height) < 0.01


def test_orientation_and_angular_velocity_are_the_imus():
    _, state = next(iter(_walk()))
    estimate = LegOdometry(G1).update(state)
    np.testing.assert_allclose(estimate.base_orientation, state.imu_orientation)
    np.testing.assert_allclose(estimate.base_ang_vel, state.imu_angular_velocity)


def test_bad_input_is_refused_with_what_is_wrong():
    with pytest.raises(ValueError, match="robot 'humanoid' names no feet"):
        LegOdometry(get_robot('humanoid'))
    with pytest.raises(ValueError, match='stance_band must be a positive number'):
        LegOdometry(G1, LegOdometryConfig(stance_band=0.0))
    _, state = next(iter(_walk()))
    with pytest.raises(ValueError, match='needs the IMU'):
        LegOdometry(G1).update(dataclasses.replace(state, imu_orientation=None))


def test_until_its_first_step_the_sims_accelerometer_reads_the_robot_at_rest():
    """A robot just reset (on its gantry, its state republished) has not moved yet."""
    sim = RobotSim(SimConfig(robot='g1', command_input='position'))
    for _ in range(2):
        state = sim.state()
        up = rotation_matrix(state.base_orientation)[2]
        np.testing.assert_allclose(state.imu_linear_acceleration, 9.81 * up, atol=1e-9)
        dynamics = sim.reader.read(sim.data).imu_linear_acceleration
        assert np.linalg.norm(dynamics - 9.81 * up) > 1.0, dynamics  # what it would do next
        law = PDLaw(G1)
        moved = sim.step_targets(law.target(np.zeros(G1.n_joints)), G1.kp, G1.kd)
        np.testing.assert_array_equal(moved.imu_linear_acceleration,
                                      sim.reader.read(sim.data).imu_linear_acceleration)
        sim.reset()


def test_a_kick_reaches_the_sims_accelerometer_over_the_step_after_it():
    """The sim's kick is a step in velocity no qacc shows: the IMU feels it as push / period."""
    sim = RobotSim(SimConfig(robot='g1', command_input='position'))
    hold = PDLaw(G1).target(np.zeros(G1.n_joints))
    sim.step_targets(hold, G1.kp, G1.kd)
    sim.kick((0.5, -0.2))
    felt = sim.step_targets(hold, G1.kp, G1.kd).imu_linear_acceleration
    raw = sim.reader.read(sim.data)
    push = rotate_to_body(raw.imu_orientation, np.array([0.5, -0.2, 0.0]) / G1.control_dt)
    np.testing.assert_allclose(felt - raw.imu_linear_acceleration, push, atol=1e-9)
    after = sim.step_targets(hold, G1.kp, G1.kd).imu_linear_acceleration    # felt once
    np.testing.assert_array_equal(after, sim.reader.read(sim.data).imu_linear_acceleration)


def test_the_sims_accelerometer_reads_gravity_at_rest_and_nothing_in_free_fall():
    sim = RobotSim(SimConfig(robot='g1', command_input='position', reset_noise=0.0))
    law = PDLaw(G1)
    hold = law.target(np.zeros(G1.n_joints))
    for _ in range(400):                               # come to rest (standing or not)
        state = sim.step_targets(hold, G1.kp, G1.kd)
    assert np.linalg.norm(state.base_lin_vel) < 0.01
    up = rotation_matrix(state.base_orientation)[2]    # world z in the base frame
    np.testing.assert_allclose(state.imu_linear_acceleration, 9.81 * up, atol=0.3)
    sim.data.qpos[2] += 5.0                           # lifted clear of the floor
    sim.data.qvel[:] = 0.0
    mujoco.mj_forward(sim.model, sim.data)
    limp = np.zeros(G1.n_joints)                       # no motor pushes the base about
    state = sim.step_targets(hold, limp, limp)
    np.testing.assert_allclose(state.imu_linear_acceleration, 0.0, atol=0.05)

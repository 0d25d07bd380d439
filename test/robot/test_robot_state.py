"""RobotState converters: velocity frames, quaternion order, JointState reordering."""

import math

from hypothesis import given, settings, strategies as st
import mujoco
import numpy as np
import pytest

from symphony_ros.robot import get_robot
from symphony_ros.robot.mujoco_state import MujocoStateReader, state_from_mujoco
from symphony_ros.robot.rotations import normalize, rotate_to_world, wxyz_to_xyzw
from symphony_ros.robot.state import (
    JointStateMapper, imu_to_arrays, joint_state_to_arrays, odometry_to_base)

ROBOT = get_robot()
S45 = math.sqrt(0.5)


def _random_sim_state(seed):
    model = mujoco.MjModel.from_xml_path(ROBOT.mjcf_path)
    data = mujoco.MjData(model)
    rng = np.random.default_rng(seed)
    data.qpos[:] = model.qpos0 + rng.normal(0, 0.1, model.nq)
    data.qpos[3:7] = normalize(rng.normal(size=4))
    data.qvel[:] = rng.normal(0, 1.0, model.nv)
    mujoco.mj_forward(model, data)
    return model, data


@pytest.mark.parametrize('seed', range(5))
def test_base_twist_is_in_the_base_frame_like_odometry(seed):
    """MuJoCo's free joint: linear velocity world frame, angular body frame; ours: both base."""
    model, data = _random_sim_state(seed)
    state = state_from_mujoco(model, data, ROBOT)
    torso = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, 'torso')
    vel = np.zeros(6)  # [angular, linear] of the body frame origin, in the body frame
    mujoco.mj_objectVelocity(model, data, mujoco.mjtObj.mjOBJ_XBODY, torso, vel, 1)
    np.testing.assert_allclose(state.base_ang_vel, vel[:3], atol=1e-12)
    np.testing.assert_allclose(state.base_lin_vel, vel[3:], atol=1e-12)
    # The world-frame velocity is what moves the base position.
    qpos = data.qpos.copy()
    dt = 1e-7
    mujoco.mj_integratePos(model, qpos, data.qvel, dt)
    np.testing.assert_allclose((qpos[:3] - data.qpos[:3]) / dt,
                               rotate_to_world(state.base_orientation, state.base_lin_vel),
                               atol=1e-6)
    np.testing.assert_array_equal(state.imu_angular_velocity, state.base_ang_vel)


@pytest.mark.parametrize('seed', range(3))
def test_odometry_twist_frames(seed):
    """Child-frame twist passes through; a parent-frame twist is rotated into the base frame."""
    rng = np.random.default_rng(seed)
    q = normalize(rng.normal(size=4))
    lin_b, ang_b = rng.normal(size=3), rng.normal(size=3)
    child = odometry_to_base([1, 2, 3], wxyz_to_xyzw(q), lin_b, ang_b)
    np.testing.assert_allclose(child['base_orientation'], q, atol=1e-15)
    np.testing.assert_array_equal(child['base_lin_vel'], lin_b)
    parent = odometry_to_base([1, 2, 3], wxyz_to_xyzw(q), rotate_to_world(q, lin_b),
                              rotate_to_world(q, ang_b), twist_frame='parent')
    np.testing.assert_allclose(parent['base_lin_vel'], lin_b, atol=1e-12)
    np.testing.assert_allclose(parent['base_ang_vel'], ang_b, atol=1e-12)


def test_odometry_bad_input_names_the_field():
    with pytest.raises(ValueError, match='odometry orientation.*nonzero'):
        odometry_to_base([0, 0, 1], [0, 0, 0, 0], [0] * 3, [0] * 3)
    with pytest.raises(ValueError, match='odometry twist linear: expected 3'):
        odometry_to_base([0, 0, 1], [0, 0, 0, 1], [0] * 2, [0] * 3)
    with pytest.raises(ValueError, match='odometry position: expected finite'):
        odometry_to_base([0, np.nan, 1], [0, 0, 0, 1], [0] * 3, [0] * 3)
    with pytest.raises(ValueError, match='twist_frame'):
        odometry_to_base([0, 0, 1], [0, 0, 0, 1], [0] * 3, [0] * 3, twist_frame='odom')


def test_imu_quaternion_is_read_as_ros_xyzw():
    """90 deg roll about x, as ROS orders it: (x, y, z, w) = (s45, 0, 0, s45)."""
    imu = imu_to_arrays([S45, 0, 0, S45], [0.1, 0.2, 0.3], [0, 0, 9.81])
    np.testing.assert_allclose(imu['imu_orientation'], [S45, S45, 0, 0], atol=1e-15)
    np.testing.assert_array_equal(imu['imu_angular_velocity'], [0.1, 0.2, 0.3])
    assert imu_to_arrays([0, 0, 0, 1], [0, 0, 0])['imu_linear_acceleration'] is None
    with pytest.raises(ValueError, match='imu angular_velocity'):
        imu_to_arrays([0, 0, 0, 1], [0, 0])


def test_state_from_mujoco_reads_joints_in_actuator_order():
    model, data = _random_sim_state(7)
    state = MujocoStateReader(model, ROBOT).read(data)
    for i, name in enumerate(ROBOT.joint_names):
        j = model.joint(name)
        assert state.joint_positions[i] == data.qpos[j.qposadr[0]]
        assert state.joint_velocities[i] == data.qvel[j.dofadr[0]]
        assert state.joint_efforts[i] == data.qfrc_actuator[j.dofadr[0]]
    # The model's joint order differs from the actuator order: the test would notice a mix-up.
    assert ROBOT.joint_names[:2] == ('abdomen_y', 'abdomen_z')
    assert model.joint(1).name == 'abdomen_z'


@settings(max_examples=30, deadline=None)
@given(st.permutations(list(get_robot().joint_names)))
def test_joint_state_is_reordered_by_name(names):
    truth = {n: (i + 0.1, -i - 0.2, 3 * i + 0.3) for i, n in enumerate(ROBOT.joint_names)}
    out = JointStateMapper(ROBOT).reorder(
        names, [truth[n][0] for n in names], [truth[n][1] for n in names],
        [truth[n][2] for n in names])
    expected = np.array([truth[n] for n in ROBOT.joint_names])
    np.testing.assert_array_equal(out['joint_positions'], expected[:, 0])
    np.testing.assert_array_equal(out['joint_velocities'], expected[:, 1])
    np.testing.assert_array_equal(out['joint_efforts'], expected[:, 2])


def test_mapper_follows_a_change_of_names():
    mapper = JointStateMapper(ROBOT)
    names = list(ROBOT.joint_names)
    n = len(names)
    first = mapper.reorder(names, np.arange(n), np.zeros(n))
    second = mapper.reorder(names[::-1], np.arange(n), np.zeros(n))
    np.testing.assert_array_equal(first['joint_positions'], np.arange(n))
    np.testing.assert_array_equal(second['joint_positions'], np.arange(n)[::-1])
    assert first['joint_efforts'] is None  # an empty effort array: not reported


def test_missing_and_unknown_joints_are_named():
    names = list(ROBOT.joint_names)
    n = len(names)
    with pytest.raises(ValueError, match=r"missing joints \['left_knee'\]"):
        joint_state_to_arrays([x for x in names if x != 'left_knee'], [0] * (n - 1),
                              [0] * (n - 1))
    with pytest.raises(ValueError, match=r"unknown joints \['gripper'\]"):
        joint_state_to_arrays(names + ['gripper'], [0] * (n + 1), [0] * (n + 1))
    out = JointStateMapper(ROBOT, ignore_unknown=True).reorder(
        ['gripper'] + names, np.arange(n + 1), np.zeros(n + 1))
    np.testing.assert_array_equal(out['joint_positions'], np.arange(1, n + 1))
    with pytest.raises(ValueError, match="'left_knee' appears more than once"):
        joint_state_to_arrays(names + ['left_knee'], [0] * (n + 1), [0] * (n + 1))


def test_joint_state_field_errors_name_the_field():
    names = list(ROBOT.joint_names)
    n = len(names)
    with pytest.raises(ValueError, match=f'joint_state velocity: expected {n} values'):
        joint_state_to_arrays(names, [0] * n, [0] * (n - 1))
    with pytest.raises(ValueError, match='joint_state effort: expected finite'):
        joint_state_to_arrays(names, [0] * n, [0] * n, [np.inf] + [0] * (n - 1))
    with pytest.raises(ValueError, match='position and velocity'):
        joint_state_to_arrays(names, [0] * n, [])

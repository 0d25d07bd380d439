"""StateInputs: the policy node's state assembly and stamp matching, without rclpy."""

from types import SimpleNamespace as Msg

import numpy as np
import pytest

from symphony_ros.deploy.state_inputs import StateInputs
from symphony_ros.robot.description import get_robot

ROBOT = get_robot('humanoid')
ALL = ('joint_states', 'imu', 'odom')


def header(sec, nanosec=0):
    return Msg(stamp=Msg(sec=sec, nanosec=nanosec))


def vec(x=0.0, y=0.0, z=0.0):
    return Msg(x=x, y=y, z=z)


def joint_states(sec, names=None, offset=0.0):
    names = list(ROBOT.joint_names) if names is None else names
    return Msg(header=header(sec), name=names,
               position=[offset + i for i in range(len(names))],
               velocity=[-(offset + i) for i in range(len(names))], effort=[])


def imu(sec):
    return Msg(header=header(sec), orientation=Msg(x=0.0, y=0.0, z=0.0, w=1.0),
               angular_velocity=vec(0.1, 0.2, 0.3), linear_acceleration=vec(z=9.81))


def odom(sec, z=1.3):
    pose = Msg(pose=Msg(position=vec(z=z), orientation=Msg(x=0.0, y=0.0, z=0.0, w=1.0)))
    return Msg(header=header(sec), pose=pose,
               twist=Msg(twist=Msg(linear=vec(1.0), angular=vec())))


def feed(inputs, msg_kind, msg):
    return getattr(inputs, msg_kind)(msg)


@pytest.mark.parametrize('order', [('joint_states', 'imu', 'odom'),
                                   ('odom', 'joint_states', 'imu'),
                                   ('imu', 'odom', 'joint_states')])
def test_a_state_is_due_once_when_every_needed_input_carries_its_stamp(order):
    inputs = StateInputs(ROBOT, ALL, on_state=True)
    makers = {'joint_states': joint_states, 'imu': imu, 'odom': odom}
    due = [feed(inputs, k, makers[k](5)) for k in order]
    assert due == [False, False, True], 'due on the last of the three, whichever it is'
    assert not inputs.odom(odom(5)) and not inputs.imu(imu(5)), 'once per joint_states'
    assert inputs.stamp.sec == 5


def test_inputs_of_different_stamps_are_no_state_to_act_on():
    inputs = StateInputs(ROBOT, ALL, on_state=True)
    assert not inputs.joint_states(joint_states(6))
    assert not inputs.imu(imu(6))
    assert not inputs.odom(odom(5))   # the previous state's odometry: wait
    assert inputs.odom(odom(6))


def test_inputs_the_policy_does_not_need_never_hold_a_state_back():
    inputs = StateInputs(ROBOT, ('joint_states', 'imu'), on_state=True)
    assert inputs.missing() == ['joint_states', 'imu']
    assert not inputs.imu(imu(3))
    assert inputs.joint_states(joint_states(3))
    assert inputs.missing() == []
    state = inputs.state()
    assert state is not None and state.base_position is None


def test_the_state_is_in_robot_order_and_waits_for_needed_inputs():
    inputs = StateInputs(ROBOT, ALL, on_state=False)
    names = list(reversed(ROBOT.joint_names)) + ['gripper']   # an extra joint is ignored
    assert not inputs.joint_states(joint_states(1, names, offset=10.0))
    assert inputs.state() is None and inputs.missing() == ['imu', 'odom']
    assert not inputs.imu(imu(1)) and not inputs.odom(odom(1)), 'a timer acts, not arrivals'
    state = inputs.state()
    n = len(ROBOT.joint_names)
    np.testing.assert_allclose(state.joint_positions, 10.0 + np.arange(n)[::-1])
    np.testing.assert_allclose(state.joint_velocities, -(10.0 + np.arange(n)[::-1]))
    assert state.joint_efforts is None
    assert state.base_position[2] == pytest.approx(1.3)
    np.testing.assert_allclose(state.imu_angular_velocity, [0.1, 0.2, 0.3])
    assert state.imu_linear_acceleration is None, 'the policy node reads no acceleration'

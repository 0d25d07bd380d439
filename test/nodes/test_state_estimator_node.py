"""state_estimator_node as a real process over DDS: start-up refusals, the wait for the IMU."""

import sys
import time

import numpy as np
import pytest
import rclpy
from rclpy.node import Node

from process_helpers import ChildProcess
from ros_spin import spin_until
from symphony_ros.robot import get_robot

pytestmark = pytest.mark.ros
G1 = get_robot('g1')


def _start(ros_env, *params):
    cmd = [sys.executable, '-m', 'symphony_ros.nodes.state_estimator_node', '--ros-args']
    for p in params:
        cmd += ['-p', p]
    return ChildProcess(cmd, ros_env)


def test_a_robot_without_feet_is_refused_in_one_line_naming_feet(ros_env):
    node = _start(ros_env, 'robot:=humanoid')
    try:
        assert node.finish() == 2, node.text
    finally:
        node.kill()
    lines = [line for line in node.lines if line.strip()]
    assert len(lines) == 1, node.text
    assert lines[0].startswith("state_estimator_node: refusing to start: leg odometry: robot "
                               "'humanoid' names no feet (the robot file's `feet:`)"), lines


def test_it_waits_for_the_imu_then_publishes_one_odometry_per_joint_state(ros_env):
    from diagnostic_msgs.msg import DiagnosticArray
    from nav_msgs.msg import Odometry
    from sensor_msgs.msg import Imu, JointState

    from symphony_ros.nodes.messages import STATE_QOS
    node = _start(ros_env, 'robot:=g1')
    rclpy.init()
    robot = Node('robot')
    pub_js = robot.create_publisher(JointState, 'joint_states', STATE_QOS)
    pub_imu = robot.create_publisher(Imu, 'imu/data', STATE_QOS)
    got, diagnostics = [], []
    robot.create_subscription(Odometry, 'state_estimator/odom', got.append, 100)
    robot.create_subscription(
        DiagnosticArray, '/diagnostics',
        lambda m: diagnostics.extend({v.key: v.value for v in s.values} | {'message': s.message}
                                     for s in m.status
                                     if s.name == 'symphony/state_estimator_node'), 10)

    def joint_states(sec):
        msg = JointState(name=list(G1.joint_names), position=G1.default_pose().tolist(),
                         velocity=[0.0] * G1.n_joints)
        msg.header.stamp.sec = sec
        return msg

    def spin(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            rclpy.spin_once(robot, timeout_sec=0.02)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (
                pub_js.get_subscription_count() and pub_imu.get_subscription_count()
                and robot.count_publishers('/state_estimator/odom')):
            spin(0.1)
        for sec in range(1, 4):               # no IMU yet: said once, nothing published
            pub_js.publish(joint_states(sec))
            spin(0.2)
        node.wait_for('no IMU on /imu/data yet: no odometry until it comes')
        assert got == []
        imu = Imu()
        imu.header.stamp.sec = 9              # another driver's clock: no waiting for a match
        imu.orientation.w, imu.linear_acceleration.z = 1.0, 9.81
        pub_imu.publish(imu)
        spin(0.3)
        stamps = [10, 11, 12]
        for sec in stamps:
            pub_js.publish(joint_states(sec))
            spin(0.2)
        deadline = time.monotonic() + 30
        while len(got) < len(stamps) and time.monotonic() < deadline:
            spin(0.1)
        # Once a second the node says how it goes: wait for a status that counts them all.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
                diagnostics and diagnostics[-1]['estimates'] == str(len(stamps))):
            spin(0.1)
    finally:
        robot.destroy_node()
        rclpy.shutdown()
        node.stop()
    assert [m.header.stamp.sec for m in got] == stamps, node.text
    assert diagnostics and diagnostics[-1]['estimates'] == '3', diagnostics
    last = diagnostics[-1]
    assert (last['message'], last['dropped_before_imu'], last['stamps']) == (
        'estimating', '3', 'separate clocks'), last
    assert float(last['callback_p99_us']) > 0, last
    for msg in got:
        assert (msg.header.frame_id, msg.child_frame_id) == ('odom', 'base_link')
        p = msg.pose.pose.position
        assert np.isfinite([p.x, p.y, p.z]).all() and 0.5 < p.z < 1.0  # the G1 stands ~0.8 m
    assert sum('no IMU on' in line for line in node.lines) == 1, node.text
    assert 'estimating: first odometry on /state_estimator/odom (3 joint_states before the ' \
        'IMU dropped)' in node.text, node.text
    # Stopped, it says what the run estimated.
    assert 'leg odometry: 3 estimates (0 restarts, 0 IMU stand-ins, 3 joint_states before ' \
        'the IMU dropped); callback p50' in node.text, node.text


def test_a_robot_held_on_its_gantry_in_realtime_is_estimated_standing_still(ros_env):
    """The sim republishes the held robot's state with fresh stamps: the filter predicts on.

    Its accelerometer must read the robot at rest there, not the acceleration the dynamics
    would give it once let go (the G1, reset a millimetre into the floor: 47 m/s^2 upward),
    which the filter would integrate for as long as the robot hangs. No watchdog runs, so
    the robot hangs for as long as the test listens.
    """
    from nav_msgs.msg import Odometry

    sim = ChildProcess([sys.executable, '-m', 'symphony_ros.nodes.mujoco_sim_node',
                        '--ros-args', '-p', 'robot:=g1', '-p', 'command_input:=position',
                        '-p', 'wait_for_active:=true'], ros_env)
    node = _start(ros_env, 'robot:=g1')
    rclpy.init()
    probe = Node('probe')
    got = []
    probe.create_subscription(Odometry, 'state_estimator/odom', got.append, 100)
    try:
        spin_until(probe, lambda: len(got) >= 25, 120)
    finally:
        probe.destroy_node()
        rclpy.shutdown()
        node.stop()
        sim.stop()
    assert len(got) >= 25, node.text + sim.text
    stamps = [m.header.stamp.sec + 1e-9 * m.header.stamp.nanosec for m in got]
    assert stamps[-1] - stamps[0] > 0.3, stamps          # fresh stamps: the filter predicts
    speeds = [np.linalg.norm([m.twist.twist.linear.x, m.twist.twist.linear.y,
                              m.twist.twist.linear.z]) for m in got]
    assert max(speeds) < 0.05, np.round(speeds, 3)

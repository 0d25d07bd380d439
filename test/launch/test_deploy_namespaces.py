"""Two deploy graphs in two namespaces on one ROS domain: each watchdog gates its own robot."""

import signal
import time

import numpy as np
import pytest
from ros_spin import spin_until

pytestmark = pytest.mark.ros

A, B = 'robot_a', 'robot_b'


def test_two_namespaced_graphs_arm_and_gate_their_own_robot_only(launcher, policy_file,
                                                                 tmp_path):
    import rclpy
    from rclpy.node import Node
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Bool, Float64MultiArray, String
    from std_srvs.srv import Trigger

    from symphony_ros.nodes.messages import LATCHED_QOS
    from symphony_ros.safety import WatchdogConfig

    kd = np.array(WatchdogConfig().resolved().damping_kd)
    # Two graphs on a shared machine: timeouts loose enough that load alone trips none.
    # Keyed for any namespace, as the shipped profiles are.
    loose = tmp_path / 'loose.yaml'
    loose.write_text('/**/watchdog_node:\n  ros__parameters:\n'
                     '    command_timeout: 1.0\n    state_timeout: 1.0\n')
    # A arms itself (auto_arm, as robot:=sim does); B waits for its ~/arm.
    common = ('deploy', 'robot:=sim', f'policy:={policy_file}', f'watchdog_config:={loose}')
    stop = ('--sigint-timeout', '5')
    graphs = {A: launcher(*common, f'namespace:={A}', *stop),
              B: launcher(*common, f'namespace:={B}', 'auto_arm:=false', *stop)}
    rclpy.init()
    probe = Node('namespace_probe')
    wd = {A: [], B: []}
    out = {A: [], B: []}
    states = {A: [], B: []}
    for ns in (A, B):
        probe.create_subscription(String, f'/{ns}/symphony/watchdog/state',
                                  lambda m, ns=ns: wd[ns].append(m.data), LATCHED_QOS)
        probe.create_subscription(Float64MultiArray, f'/{ns}/effort_controller/commands',
                                  lambda m, ns=ns: out[ns].append((wd[ns][-1:], m.data)), 10)
        probe.create_subscription(JointState, f'/{ns}/joint_states', states[ns].append, 10)
    estop = probe.create_publisher(Bool, f'/{A}/symphony/estop', LATCHED_QOS)

    def spin(until, seconds=120):
        return spin_until(probe, until, seconds, graphs.values())

    def active(ns):
        return wd[ns][-1:] == ['ACTIVE']

    try:
        # B's joint states too: its velocities are read below, and their subscription may be
        # matched after its commands'.
        assert spin(lambda: active(A) and len(out[B]) >= 50 and states[B]), (
            wd, graphs[A].text)
        # No node of ours is left in the root namespace.
        for topic in ('/joint_states', '/symphony/command', '/effort_controller/commands'):
            assert probe.count_publishers(topic) == 0, topic
        b_outputs = [np.array(data) for _, data in out[B]]
        held_qd = np.array(states[B][-1].velocity)
        arm = probe.create_client(Trigger, f'/{B}/watchdog_node/arm')
        assert arm.wait_for_service(timeout_sec=30)
        refusals = []
        end = time.monotonic() + 60
        while time.monotonic() < end:
            answer = arm.call_async(Trigger.Request())
            rclpy.spin_until_future_complete(probe, answer, timeout_sec=30)
            if answer.result().success:
                break
            refusals.append(answer.result().message)   # B's inputs not live yet: retry
            spin(lambda: False, 0.5)
        # One command publisher on each watchdog's own topic: a shared topic would refuse.
        assert answer.result().success, refusals
        assert not any('publisher' in r for r in refusals), refusals
        assert spin(lambda: active(B)), (wd, graphs[B].text)
        estop.publish(Bool(data=True))
        assert spin(lambda: wd[A][-1:] and wd[A][-1].startswith('FAULT estop')), wd
        spin(lambda: False, 1.0)
    finally:
        probe.destroy_node()
        rclpy.shutdown()
    # While A ran its policy, B's robot was held and B put out no more than its own damping
    # of B's held state (zero once damping_time is over): A's torques never reached it.
    bound = np.abs(kd * held_qd) + 1e-9
    assert all(np.all(np.abs(t) <= bound) for t in b_outputs), 'B gated by A?'
    a_active = [np.abs(data).max() for state, data in out[A] if state == ['ACTIVE']]
    assert a_active and max(a_active) > 10 * bound.max(), 'A forwards its own policy'
    # The e-stop of A is A's alone.
    assert not any(s.startswith('FAULT estop') for s in wd[B]), wd[B]
    for la in graphs.values():
        la.proc.send_signal(signal.SIGINT)
    for la in graphs.values():
        assert la.finish() == 0, la.text

"""The real deploy graph through ``symphony launch``: sim -> policy -> watchdog, remapped."""

import importlib.util
import signal
import time

import pytest
from launch_helpers import pid_alive

pytestmark = pytest.mark.ros

NODES = ('mujoco_sim_node', 'policy_node', 'watchdog_node')


def _require_nodes():
    missing = [n for n in NODES if importlib.util.find_spec(f'symphony_ros.nodes.{n}') is None]
    if missing:
        pytest.skip(f'not written yet: symphony_ros.nodes.{", ".join(missing)}')


def test_deploy_sim_graph_flows_on_remapped_topics_and_stops(launcher, policy_file):
    _require_nodes()
    import rclpy
    from rclpy.node import Node
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray, String

    la = launcher('deploy', 'robot:=sim', f'policy:={policy_file}',
                  'command_topic:=/t/command', 'effort_commands_topic:=/t/effort',
                  'watchdog_state_topic:=/t/state', '--sigint-timeout', '5')
    rclpy.init()
    probe = Node('deploy_probe')
    got = {'command': [], 'effort': [], 'state': [], 'default': []}
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
    probe.create_subscription(JointState, '/t/command', got['command'].append, 10)
    probe.create_subscription(Float64MultiArray, '/t/effort', got['effort'].append, 10)
    probe.create_subscription(String, '/t/state', lambda m: got['state'].append(m.data),
                              latched)
    probe.create_subscription(JointState, '/symphony/command', got['default'].append, 10)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not (
                len(got['command']) >= 20 and len(got['effort']) >= 20
                and any(s.startswith(('RAMP', 'ACTIVE')) for s in got['state'])):
            rclpy.spin_once(probe, timeout_sec=0.05)
            assert la.proc.poll() is None, la.text
    finally:
        probe.destroy_node()
        rclpy.shutdown()
    assert len(got['command']) >= 20, la.text
    assert len(got['effort']) >= 20 and len(got['effort'][-1].data) == 17, la.text
    # auto_arm comes from the graph for robot:=sim: the watchdog armed by itself.
    assert any(s.startswith(('RAMP', 'ACTIVE')) for s in got['state']), (got['state'], la.text)
    assert got['default'] == []  # the policy's output really moved to /t/command
    assert '[launch] skipping optional robot_state_publisher' in la.text or (
        '[launch] started robot_state_publisher' in la.text)

    pids = la.child_pids()
    assert len(pids) >= 3
    la.proc.send_signal(signal.SIGINT)
    assert la.finish() == 0, la.text
    assert [p for p in pids if pid_alive(p)] == []
    assert 'sending SIGTERM' not in la.text, la.text  # every node stops on SIGINT alone


def test_sim_holds_the_robot_until_the_watchdog_is_active(launcher, policy_file):
    """Realtime sim with auto_arm:=false: the robot stays on its gantry, states keep coming.

    Unheld, the unpowered humanoid falls within about a second and the sim logs an episode.
    """
    _require_nodes()
    import rclpy
    from rclpy.node import Node
    from sensor_msgs.msg import JointState

    la = launcher('deploy', 'robot:=sim', f'policy:={policy_file}', 'auto_arm:=false',
                  '--sigint-timeout', '5')
    rclpy.init()
    probe = Node('gantry_probe')
    states = []
    probe.create_subscription(JointState, '/joint_states', states.append, 10)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(states) < 20:
            rclpy.spin_once(probe, timeout_sec=0.05)
            assert la.proc.poll() is None, la.text
        first = len(states)
        end = time.monotonic() + 4.0
        while time.monotonic() < end:
            rclpy.spin_once(probe, timeout_sec=0.05)
    finally:
        probe.destroy_node()
        rclpy.shutdown()
    assert first >= 20, la.text
    # ~66 Hz for 4 s: the frozen state keeps flowing with fresh stamps (the watchdog needs
    # live inputs to be armed at all).
    assert len(states) - first >= 100, (len(states), la.text)
    stamps = [(m.header.stamp.sec, m.header.stamp.nanosec) for m in states]
    assert len(set(stamps)) == len(stamps)
    assert all(m.position == states[0].position for m in states), 'the held robot moved'
    assert 'episode 0' not in la.text, la.text
    la.proc.send_signal(signal.SIGINT)
    assert la.finish() == 0, la.text

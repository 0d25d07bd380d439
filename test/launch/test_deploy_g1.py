"""The G1 deploy graph through ``symphony launch``: /cmd_vel in, PD torques gated out.

The torque gate (``watchdog_output:=effort``) is the G1's opt-in; its default, the position
path, is the last test here (and the lockstep parity test's).
"""

import math
import re
import signal
import time

import numpy as np
import pytest

from symphony_ros.robot import get_robot
from shipped_models import G1_FIRST

pytestmark = pytest.mark.ros


def test_g1_graph_takes_cmd_vel_and_the_watchdog_gates_the_pd_torque(launcher, g1_policy):
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import Twist
    from rclpy.node import Node
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Bool, Float64MultiArray, String

    from symphony_ros.nodes.messages import LATCHED_QOS

    g1 = get_robot('g1')
    la = launcher('deploy', 'robot:=sim', 'robot_model:=g1', f'policy:={g1_policy}',
                  'watchdog_output:=effort', 'cmd_vel_topic:=/teleop/cmd_vel',
                  '--sigint-timeout', '5')
    rclpy.init()
    probe = Node('g1_probe')
    got = {'command': [], 'effort': [], 'state': [], 'policy_diag': []}
    probe.create_subscription(JointState, '/symphony/command', got['command'].append, 10)
    probe.create_subscription(Float64MultiArray, '/effort_controller/commands',
                              got['effort'].append, 100)
    probe.create_subscription(String, '/symphony/watchdog/state',
                              lambda m: got['state'].append(m.data), LATCHED_QOS)

    def on_diag(msg):
        for s in msg.status:
            if s.name == 'symphony/policy_node':
                got['policy_diag'].append({kv.key: kv.value for kv in s.values})
    probe.create_subscription(DiagnosticArray, '/diagnostics', on_diag, 10)
    pub = probe.create_publisher(Twist, '/teleop/cmd_vel', 10)
    twist = Twist()
    twist.linear.x, twist.angular.z = 3.0, 0.2   # vx beyond the trained 0.8: clipped

    def armed():
        return any(s.startswith(('RAMP', 'ACTIVE')) for s in got['state'])

    def commanded():
        return any(d.get('command') == '0.80 0.00 0.20' for d in got['policy_diag'])

    def rejected():
        return any(d.get('cmd_vel_rejected', '0') != '0' for d in got['policy_diag'])
    estop = probe.create_publisher(Bool, '/symphony/estop', LATCHED_QOS)
    try:
        deadline, next_pub = time.monotonic() + 120, 0.0
        bad = Twist()
        bad.linear.y = math.nan
        while time.monotonic() < deadline and not (
                len(got['command']) >= 20 and len(got['effort']) >= 50 and armed()
                and commanded() and rejected()):
            if time.monotonic() >= next_pub:
                # Once the clipped command is in force, NaN until it is seen rejected (the
                # subscription keeps the latest message only: a valid one could replace it).
                pub.publish(bad if commanded() and not rejected() else twist)
                next_pub = time.monotonic() + 0.05
            rclpy.spin_once(probe, timeout_sec=0.02)
            assert la.proc.poll() is None, la.text
        # The e-stop: the gate's output goes to the safe torque (damping), then to zero.
        estop.publish(Bool(data=True))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
                got['state'][-1].startswith('FAULT estop')
                and len(got['effort']) and not any(got['effort'][-1].data)):
            pub.publish(twist)
            rclpy.spin_once(probe, timeout_sec=0.02)
    finally:
        probe.destroy_node()
        rclpy.shutdown()
    assert armed(), (got['state'], la.text)
    assert commanded(), (got['policy_diag'][-3:], la.text)
    # The policy sends joint targets (position), not torques.
    last = got['command'][-1]
    assert len(last.position) == g1.n_joints and len(last.effort) == 0
    assert list(last.name) == list(g1.joint_names)
    # The watchdog sends torques (its PD) within the G1's effort limits.
    efforts = np.array([m.data for m in got['effort']])
    assert efforts.shape[1] == g1.n_joints
    assert (np.abs(efforts) <= np.asarray(g1.effort_limits) + 1e-9).all()
    assert np.abs(efforts).max() > 0.0, 'the gate never passed a torque'
    assert rejected(), got['policy_diag'][-3:]
    # Commands keep coming, yet the e-stopped gate holds zero torque.
    assert got['state'][-1].startswith('FAULT estop'), got['state']
    assert not any(got['effort'][-1].data), got['effort'][-1].data
    la.proc.send_signal(signal.SIGINT)
    assert la.finish() == 0, la.text
    assert 'linear.x 3 outside [-0.3, 0.8]: clipped to the trained range' in la.text, la.text
    assert 'linear.y not finite' in la.text, la.text


def test_g1_realtime_default_forwards_checked_targets_and_gains_to_the_sim(launcher):
    """The default (position) path: the sim runs the PD at every physics step, as training.

    The shipped policy walks under it; through the torque gate the same policy shook its
    joints past their velocity limits within a second (``test/sim/test_pd_state_age.py``).
    """
    import rclpy
    from rclpy.node import Node
    from std_msgs.msg import Float64MultiArray

    g1 = get_robot('g1')
    policy = G1_FIRST
    la = launcher('deploy', 'robot:=sim', 'robot_model:=g1', f'policy:={policy}',
                  'ticks:=150', 'cmd_vel:=0.3,0,0')
    rclpy.init()
    probe = Node('g1_position_probe')
    got = {'targets': [], 'gains': []}
    probe.create_subscription(Float64MultiArray, '/position_controller/commands',
                              got['targets'].append, 100)
    probe.create_subscription(Float64MultiArray, '/symphony/watchdog/pd_gains',
                              got['gains'].append, 100)
    _listen_until_exit(la, probe)   # 150 ticks take 3 s
    assert 'position commands -> position on /position_controller/commands' in la.text
    assert 'effort_controller' not in la.text and 'FAULT velocity_limit' not in la.text, la.text
    assert 'done: 150 steps' in la.text, la.text
    targets = np.array([m.data for m in got['targets']])
    assert len(targets) >= 20 and targets.shape[1] == g1.n_joints
    gains = np.array([m.data for m in got['gains']])
    assert gains.shape[1] == 2 * g1.n_joints
    # Armed, the policy's own gains (kp ramped in, then whole).
    assert any(np.allclose(g, np.concatenate([g1.kp, g1.kd])) for g in gains)


def test_the_sim_steers_the_g1_with_commands_drawn_as_in_training(launcher):
    """cmd_vel:=random: each episode's command comes from the seeded draw, on /cmd_vel."""
    import rclpy
    from geometry_msgs.msg import Twist
    from rclpy.node import Node

    from symphony_ros.robot.velocity_env import VelocityTask
    from symphony_ros.sim.own_command import OwnCommand

    ranges = 'lin_vel_x=0.2:0.6,lin_vel_y=0,yaw_rate=0,standing_fraction=0'
    policy = G1_FIRST
    la = launcher('deploy', 'robot:=sim', 'robot_model:=g1', f'policy:={policy}',
                  'timing:=lockstep', 'seed:=3', 'episode_steps:=20', 'ticks:=60',
                  'cmd_vel:=random', f'cmd_vel_ranges:={ranges}')
    rclpy.init()
    probe = Node('g1_cmd_probe')
    heard = []
    probe.create_subscription(
        Twist, '/cmd_vel', lambda m: heard.append((m.linear.x, m.linear.y, m.angular.z)), 100)
    _listen_until_exit(la, probe)
    assert 'commands drawn on cmd_vel every 500 steps from lin_vel_x 0.2..0.6' in la.text
    assert 'done: 60 steps, 3 episodes' in la.text, la.text
    assert la.text.count('cmd_vel drawn: ') >= 3, la.text     # each command logged
    # Episode k's command is the seeded draw of episode k (a fall would start another).
    draws = OwnCommand(VelocityTask(lin_vel_x=(0.2, 0.6), lin_vel_y=(0.0, 0.0),
                                    yaw_rate=(0.0, 0.0), standing_fraction=0.0), seed=3)
    expected = []
    for k in range(6):
        draws.start(k)
        expected.append(tuple(draws.value))
    logged = [tuple(map(float, m)) for m in re.findall(
        r'cmd_vel drawn: ([-\d.]+) m/s, ([-\d.]+) m/s, ([-\d.]+) rad/s', la.text)]
    assert logged[:3] == [tuple(round(v, 2) for v in e) for e in expected[:3]], la.text
    # On /cmd_vel the same draws in the same order; a probe that joined late on a busy
    # machine hears them from a later episode on.
    distinct = list(dict.fromkeys(heard))
    assert distinct and distinct[0] in expected, (distinct, expected)
    start = expected.index(distinct[0])
    assert distinct == expected[start:start + len(distinct)], (distinct, expected)


def _listen_until_exit(la, probe) -> None:
    """Spin ``probe`` until the launcher exits (5 min at most: a hang fails); it exits 0."""
    import rclpy
    deadline = time.monotonic() + 300
    try:
        while la.proc.poll() is None and time.monotonic() < deadline:
            rclpy.spin_once(probe, timeout_sec=0.05)
    finally:
        probe.destroy_node()
        rclpy.shutdown()
    assert la.finish() == 0, la.text

"""mujoco_sim_node and policy_node as real processes over DDS."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest
import rclpy
import torch
from rclpy.node import Node
from ros_spin import spin_until
from sensor_msgs.msg import JointState

from symphony_ros.core.config import SymphonyConfig, TrainConfig
from symphony_ros.core.networks import Actor
from symphony_ros.core.snapshot import save_best_actor
from symphony_ros.nodes.policy_node import LATENCY_SPAN_S, LATENCY_WARMUP_S
from symphony_ros.policy.export import export_policy
from symphony_ros.robot import get_robot
from symphony_ros.robot.obs_specs import get_obs_spec

pytestmark = pytest.mark.ros
OBS_DIM = get_obs_spec('humanoid_v4_full').dim
N_JOINTS = get_robot('humanoid').n_joints


def _export(tmp_path, env, obs_dim, act_dim, obs_spec):
    torch.manual_seed(0)
    run = tmp_path / env
    info = {'train_config': TrainConfig(env=env).to_dict(), 'obs_dim': obs_dim,
            'symphony_config': SymphonyConfig(hidden_dim=32, critic_heads=8).to_dict(),
            'act_dim': act_dim, 'obs_spec': obs_spec, 'step': 0, 'test_return': 0.0}
    save_best_actor(str(run), Actor(obs_dim, act_dim, 32), info)
    return export_policy(str(run), str(run / 'policy.onnx')).path


def _start(module, ros_env, *params):
    cmd = [sys.executable, '-m', f'symphony_ros.nodes.{module}', '--ros-args']
    for p in params:
        cmd += ['-p', p]
    return subprocess.Popen(cmd, env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def _stop(*procs):
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def test_policy_commands_flow_from_sim_state(tmp_path, ros_env):
    policy = _export(tmp_path, 'Humanoid-v4', OBS_DIM, N_JOINTS, 'humanoid_v4_full')
    sim = _start('mujoco_sim_node', ros_env)
    pol = _start('policy_node', ros_env, f'policy_path:={policy}')
    rclpy.init()
    node = Node('probe')
    got = []
    node.create_subscription(JointState, 'symphony/command', got.append, 10)
    try:
        assert spin_until(node, lambda: len(got) >= 50, 60), 'no commands from policy_node'
        robot = get_robot()
        for msg in got:
            assert list(msg.name) == list(robot.joint_names)
            effort = np.asarray(msg.effort)
            assert np.all(np.isfinite(effort))
            assert np.all(np.abs(effort) <= robot.effort_limits + 1e-9)
            assert msg.header.stamp.sec > 0
    finally:
        node.destroy_node()
        rclpy.shutdown()
        _stop(pol, sim)


def _with_latency_budget(tmp_path, policy, budget_ms):
    """Export ``policy`` again with a stress summary whose latency budget is ``budget_ms``."""
    import json

    from symphony_ros.cli.main import main
    from symphony_ros.policy.runtime import OnnxPolicy
    report = tmp_path / 'report'
    report.mkdir()
    sha = OnnxPolicy(policy).contract.weights_sha256
    (report / 'report.json').write_text(json.dumps({
        'policy': {'weights_sha256': sha}, 'episodes': 1, 'seed': 0,
        'verdict': {'passed': True, 'failed': [], 'max_fall_rate': 0.1, 'scope': 'training'},
        'conditions': {'nominal': {'fall_rate': 0.0}, 'latency_5ms': {'fall_rate': 1.0}},
        'latency': {'delays_ms': [0.0, 5.0], 'fall_rates': [0.0, 1.0], 'max_fall_rate': 0.1,
                    'budget_ms': budget_ms}}))
    out = str(tmp_path / 'budgeted.onnx')
    assert main(['export', policy, '--stress', str(report), '-o', out]) == 0
    return out


def test_policy_node_warns_when_its_loop_outlasts_the_latency_budget(tmp_path, ros_env):
    # A budget of 0 ms: any loop's state-to-command time exceeds it, so the warning is due
    # once the node has judged its running loop (warm-up + span), whatever the load.
    policy = _with_latency_budget(
        tmp_path, _export(tmp_path, 'Humanoid-v4', OBS_DIM, N_JOINTS, 'humanoid_v4_full'), 0.0)
    from process_helpers import ChildProcess
    sim = _start('mujoco_sim_node', ros_env)
    pol = ChildProcess([sys.executable, '-m', 'symphony_ros.nodes.policy_node', '--ros-args',
                        '-p', f'policy_path:={policy}', '-p', 'diagnostics_period:=0.5'],
                       ros_env)
    try:
        [line] = pol.wait_for('LATENCY')    # the reader thread never blocks this test
        assert 'LATENCY: state in -> command out p99 ' in line, pol.text
        assert "exceeds the policy's latency budget of 0 ms (symphony stress)" in line
    finally:
        pol.stop()
        _stop(sim)


def test_policy_node_in_lockstep_never_warns_about_latency(tmp_path, ros_env):
    # The same 0 ms budget, acting on each state as in lockstep: the sim waits for every
    # command there, so the loop's time is no latency of the robot's and is not compared.
    from diagnostic_msgs.msg import DiagnosticArray
    from process_helpers import ChildProcess
    policy = _with_latency_budget(
        tmp_path, _export(tmp_path, 'Humanoid-v4', OBS_DIM, N_JOINTS, 'humanoid_v4_full'), 0.0)
    sim = _start('mujoco_sim_node', ros_env)
    pol = ChildProcess([sys.executable, '-m', 'symphony_ros.nodes.policy_node', '--ros-args',
                        '-p', f'policy_path:={policy}', '-p', 'diagnostics_period:=0.5',
                        '-p', 'lockstep:=true'], ros_env)
    rclpy.init()
    node = Node('diagnostics_probe')
    ticks = [0]

    def on_diagnostics(msg):
        for status in msg.status:
            if status.name == 'symphony/policy_node':
                ticks[0] = max(ticks[0], int(dict((kv.key, kv.value)
                                                  for kv in status.values)['ticks']))
    node.create_subscription(DiagnosticArray, '/diagnostics', on_diagnostics, 10)
    try:
        # Past the ticks after which a node not in lockstep judges its loop (warm-up + span).
        judged = round((LATENCY_WARMUP_S + LATENCY_SPAN_S) / 0.015) + 50
        assert spin_until(node, lambda: ticks[0] >= judged, 120), pol.text
    finally:
        node.destroy_node()
        rclpy.shutdown()
        pol.stop()
        _stop(sim)
    assert 'LATENCY' not in pol.text, pol.text


class _Robot:
    """A robot that publishes odometry and joint states of one state, as the sim does."""

    def __init__(self):
        from nav_msgs.msg import Odometry

        from symphony_ros.nodes.messages import COMMAND_QOS, STATE_QOS
        from symphony_ros.sim.config import SimConfig
        from symphony_ros.sim.robot_sim import RobotSim
        rclpy.init()
        self.node = Node('robot')
        self.commands = []
        self.node.create_subscription(JointState, 'symphony/command', self.commands.append,
                                      COMMAND_QOS)
        self.pub_js = self.node.create_publisher(JointState, 'joint_states', STATE_QOS)
        self.pub_odom = self.node.create_publisher(Odometry, 'odom', STATE_QOS)
        self.state, self.names = RobotSim(SimConfig()).state(), get_robot().joint_names

    def publish_and_spin(self, seconds, odom_late_ns=0):
        """Publish one state (odometry stamped ``odom_late_ns`` later), then spin."""
        from builtin_interfaces.msg import Time

        from symphony_ros.nodes.messages import joint_state_msg, odometry_msg
        stamp = self.node.get_clock().now().to_msg()
        ns = stamp.nanosec + odom_late_ns
        odom_stamp = Time(sec=stamp.sec + ns // 10**9, nanosec=ns % 10**9)
        self.pub_odom.publish(odometry_msg(self.state, odom_stamp))
        self.pub_js.publish(joint_state_msg(self.state, self.names, stamp))
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            rclpy.spin_once(self.node, timeout_sec=0.02)
        return stamp

    def close(self):
        self.node.destroy_node()
        rclpy.shutdown()


@pytest.fixture
def acting_on_state(tmp_path, ros_env):
    """A policy_node with act_on_state:=true and a _Robot to feed it."""
    policy = _export(tmp_path, 'Humanoid-v4', OBS_DIM, N_JOINTS, 'humanoid_v4_full')
    pol = _start('policy_node', ros_env, f'policy_path:={policy}', 'act_on_state:=true')
    robot = _Robot()

    def stop():
        """Stop the node; return its log."""
        _stop(pol)
        return pol.stdout.read()
    robot.stop_policy = stop
    try:
        yield robot
    finally:
        robot.close()
        _stop(pol)


def test_act_on_state_answers_each_state_once_and_never_on_a_timer(acting_on_state):
    # A robot that publishes once per control period (the realtime sim): acting on each
    # state instead of a timer of the same period, whose phase can make every action one
    # period late. States 0.3 s apart: a timer would answer each ~3 times (stale after 45 ms).
    robot = acting_on_state
    deadline = time.monotonic() + 60
    while not robot.commands and time.monotonic() < deadline:
        robot.publish_and_spin(0.3)    # until the node is up and matched
    assert robot.commands, 'no command from policy_node'
    robot.publish_and_spin(0.5)        # answers to the start-up states drain
    robot.commands.clear()
    stamps = [robot.publish_and_spin(0.3) for _ in range(5)]
    got = robot.commands
    assert len(got) == 5, [m.header.stamp for m in got]
    # Stamped when acted on (the robot's clock), after the state it answers.
    for msg, stamp in zip(got, stamps):
        sent = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        assert 0 <= sent - (stamp.sec + stamp.nanosec * 1e-9) < 0.3


def test_policy_memory_starts_afresh_on_reset_and_when_the_watchdog_arms(tmp_path, ros_env):
    # A policy that sees its previous action: its answer to one state moves with its
    # memory, and comes back to the same sequence whenever that memory starts afresh.
    from rcl_interfaces.msg import Log
    from std_msgs.msg import String
    from std_srvs.srv import Trigger

    from symphony_ros.nodes.messages import LATCHED_QOS
    dim = get_obs_spec('humanoid_v4_action').dim
    policy = _export(tmp_path, 'Humanoid-v4', dim, N_JOINTS, 'humanoid_v4_action')
    pol = _start('policy_node', ros_env, f'policy_path:={policy}', 'act_on_state:=true')
    robot = _Robot()
    node = robot.node
    said = []
    node.create_subscription(Log, '/rosout', lambda m: said.append((m.name, m.msg)), 100)
    watchdog = node.create_publisher(String, 'symphony/watchdog/state', LATCHED_QOS)
    reset = node.create_client(Trigger, 'policy_node/reset')

    def answers(n):
        robot.commands.clear()
        for _ in range(n):
            robot.publish_and_spin(0.3)
        assert len(robot.commands) == n, len(robot.commands)
        return np.array([m.effort for m in robot.commands])

    try:
        deadline = time.monotonic() + 60
        while not robot.commands and time.monotonic() < deadline:
            robot.publish_and_spin(0.3)
        assert robot.commands, 'no command from policy_node'
        assert reset.wait_for_service(timeout_sec=30), 'policy_node offers no ~/reset'

        def restart():
            future = reset.call_async(Trigger.Request())
            assert spin_until(node, future.done, 30, [pol]) and future.result().success

        restart()
        first = answers(3)
        assert not np.allclose(first[0], first[1])          # the memory moved the answer
        restart()
        np.testing.assert_array_equal(answers(3), first)
        assert not np.allclose(answers(1)[0], first[0])     # carried on: not afresh
        watchdog.publish(String(data='DISARMED'))
        watchdog.publish(String(data='ACTIVE'))
        assert spin_until(node, lambda: any(n.endswith('policy_node') and 'policy memory '
                                            'cleared' in m for n, m in said), 30, [pol]), said
        np.testing.assert_array_equal(answers(3), first)
    finally:
        robot.close()
        _stop(pol)


def test_act_on_state_says_why_when_inputs_never_share_a_stamp(acting_on_state):
    # Separate drivers stamp odometry and joint states apart: nothing to act on, and the
    # node must say so rather than sit silent.
    robot = acting_on_state
    deadline = time.monotonic() + 60
    while robot.pub_js.get_subscription_count() == 0 and time.monotonic() < deadline:
        robot.publish_and_spin(0.1, odom_late_ns=1_000_000)
    for _ in range(30):
        robot.publish_and_spin(0.1, odom_late_ns=1_000_000)
    assert robot.commands == []
    out = robot.stop_policy()
    assert 'joint_states received, none acted on' in out and 'act_on_state:=false' in out, out


def test_policy_node_refuses_a_policy_without_robot(tmp_path, ros_env):
    policy = _export(tmp_path, 'InvertedPendulum-v4', 4, 1, None)
    pol = _start('policy_node', ros_env, f'policy_path:={policy}')
    try:
        out, _ = pol.communicate(timeout=60)
    finally:
        _stop(pol)
    assert pol.returncode == 2
    assert 'refusing to start' in out and 'InvertedPendulum-v4' in out
    assert os.path.basename(policy) in out


def test_policy_node_names_the_inputs_it_never_received(tmp_path, ros_env):
    # A robot whose state is published under other names: the node must say which topics
    # it is waiting on, with their resolved names, not sit silent. The full observation
    # needs joint states and odometry, not the IMU.
    policy = _export(tmp_path, 'Humanoid-v4', OBS_DIM, N_JOINTS, 'humanoid_v4_full')
    cmd = [sys.executable, '-m', 'symphony_ros.nodes.policy_node', '--ros-args',
           '-p', f'policy_path:={policy}', '-r', 'odom:=/robot/odom']
    pol = subprocess.Popen(cmd, env=ros_env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    try:
        deadline, lines = time.time() + 30, []
        while time.time() < deadline:
            line = pol.stdout.readline()
            lines.append(line)
            if 'no message on' in line or not line:
                break
        text = ''.join(lines)
        assert 'no message on /joint_states, /robot/odom after' in text, text
    finally:
        _stop(pol)


def test_policy_node_refuses_a_bad_realtime_priority(tmp_path, ros_env):
    policy = _export(tmp_path, 'Humanoid-v4', OBS_DIM, N_JOINTS, 'humanoid_v4_full')
    pol = _start('policy_node', ros_env, f'policy_path:={policy}', 'realtime_priority:=150')
    try:
        out, _ = pol.communicate(timeout=60)
    finally:
        _stop(pol)
    assert pol.returncode == 2, out
    assert 'refusing to start: realtime_priority: expected a number 0 to 99, got 150' in out


def test_policy_node_runs_on_sched_fifo_or_says_why(tmp_path, ros_env):
    policy = _export(tmp_path, 'Humanoid-v4', OBS_DIM, N_JOINTS, 'humanoid_v4_full')
    pol = _start('policy_node', ros_env, f'policy_path:={policy}', 'realtime_priority:=5')
    try:
        lines = []
        while not lines or 'obs humanoid_v4_full' not in lines[-1]:
            lines.append(pol.stdout.readline())
            assert lines[-1], ''.join(lines)
        deadline, threads = time.time() + 10, []
        while time.time() < deadline:
            threads = [int(t) for t in os.listdir(f'/proc/{pol.pid}/task')]
            if all(os.sched_getscheduler(t) == os.SCHED_FIFO for t in threads):
                break
            time.sleep(0.1)
        else:
            # Without CAP_SYS_NICE the node must say why and run on.
            _stop(pol)
            rest = pol.stdout.read()
            assert 'realtime_priority 5 not applied' in rest, ''.join(lines) + rest
            return
        assert [os.sched_getparam(t).sched_priority for t in threads] == [5] * len(threads)
        assert pol.poll() is None
    finally:
        _stop(pol)


def test_policy_node_warns_once_about_a_real_robot_without_a_stress_report(tmp_path, ros_env):
    # No robot answers, so the node repeats its "no message on" warning every few seconds:
    # by the second of those, the stress warning must still have come exactly once.
    policy = _export(tmp_path, 'Humanoid-v4', OBS_DIM, N_JOINTS, 'humanoid_v4_full')
    pol = _start('policy_node', ros_env, f'policy_path:={policy}', 'deploy_target:=real')
    try:
        deadline, lines = time.time() + 60, []
        while time.time() < deadline:
            lines.append(pol.stdout.readline())
            if not lines[-1] or sum('no message on' in line for line in lines) >= 2:
                break
        text = ''.join(lines)
        assert sum('no message on' in line for line in lines) >= 2, text
        gate = [line for line in lines if 'STRESS GATE' in line]
        assert len(gate) == 1, text
        assert 'WARN' in gate[0] and policy in gate[0] and 'symphony stress' in gate[0]
    finally:
        _stop(pol)


def test_sim_node_kicks_the_base_as_its_push_parameters_say(ros_env):
    from symphony_ros.sim.episodes import EPISODE_LINE, KICK_PART
    from symphony_ros.sim.pushes import PUSH_LINE
    sim = _start('mujoco_sim_node', ros_env, 'push_velocity:=1.0', 'push_interval_min:=0.1',
                 'push_interval_max:=0.1', 'max_ticks:=40', 'episode_steps:=12',
                 "watchdog:=''")
    try:
        out, _ = sim.communicate(timeout=120)
    finally:
        _stop(sim)
    assert sim.returncode == 0, out
    assert 'base kicks of 1 m/s every 0.1-0.1 s' in out     # said at start-up
    m = PUSH_LINE.search(out)                               # and counted at the end
    assert m and int(m.group(1)) >= 3 and float(m.group(2)) == 1.0, out
    # Each episode's line names its kicks (s since it began, bearing): 12 steps hold one.
    episodes = [line for line in out.splitlines() if EPISODE_LINE.search(line)]
    assert len(episodes) >= 3, out
    for line in episodes:
        kicks = KICK_PART.findall(line)
        assert len(kicks) == 1 and 0.09 < float(kicks[0][0]) < 0.13, line


def test_sim_holds_the_robot_until_the_awaited_node_hears_it(ros_env):
    """The recorder's rule: no step is taken before it subscribes, so its bag misses none."""
    from rclpy.executors import SingleThreadedExecutor
    from std_msgs.msg import Float64, String

    from symphony_ros.nodes.messages import LATCHED_QOS, STATE_QOS
    ticks = 20
    sim = _start('mujoco_sim_node', ros_env, 'wait_for_active:=true', "watchdog:=''",
                 'await_subscriber:=late_listener', f'max_ticks:={ticks}')
    rclpy.init()
    observer, late = Node('observer'), None
    states, rewards, heard = [], [], []
    observer.create_subscription(JointState, 'joint_states', states.append, STATE_QOS)
    observer.create_subscription(Float64, 'symphony/sim/reward', rewards.append, 100)
    active = observer.create_publisher(String, 'symphony/watchdog/state', LATCHED_QOS)
    active.publish(String(data='ACTIVE'))   # the watchdog's word, latched
    executor = SingleThreadedExecutor()
    executor.add_node(observer)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and len(states) < 50:
            executor.spin_once(timeout_sec=0.05)
        assert len(states) >= 50, 'no states from the held sim'
        # Held, however long the wait: frozen states, no step, so no reward.
        assert not rewards
        assert len({tuple(m.position) for m in states}) == 1
        late = Node('late_listener')
        late.create_subscription(JointState, 'joint_states', lambda _: None, STATE_QOS)
        late.create_subscription(Float64, 'symphony/sim/reward', heard.append, 100)
        executor.add_node(late)
        while time.time() < deadline + 60 and sim.poll() is None:
            executor.spin_once(timeout_sec=0.05)
        for _ in range(20):
            executor.spin_once(timeout_sec=0.05)
    finally:
        _stop(sim)
        for node in (observer, late):
            if node is not None:
                node.destroy_node()
        rclpy.shutdown()
    out = sim.stdout.read()
    assert sim.returncode == 0, out
    assert ('holding the robot until late_listener subscribes to /joint_states, '
            '/symphony/sim/reward') in out
    # The late listener heard every step, from the first.
    assert len(heard) == ticks and len(rewards) == ticks, out

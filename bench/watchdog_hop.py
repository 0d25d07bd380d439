"""Benchmark of the safety watchdog hop over DDS between processes.

    python bench/watchdog_hop.py [--seconds 20] [--realtime-priority 0] [--flood-hz 0]

Three processes: the watchdog node (auto_arm), a robot+policy process (this file with
``--role policy``: joint states and IMU at 500 Hz, commands at the policy rate, each with a
unique torque on joint 0 so the output that forwards it can be found) and this process as
the hardware, subscribed to both the command and the watchdog output. Reports p50/p99/max:

* added latency: output received here minus the same command received here directly, both
  stamped by the middleware on arrival: what the watchdog adds over a direct link;
* in -> out inside the watchdog: output published minus command published (includes the
  delivery into the watchdog);
* direct DDS hop: command received here minus published (one plain hop, for scale);
* timer jitter |period - 1/rate_hz| of the output timer, measured inside the watchdog on
  the steady clock (its /diagnostics).

Source/received timestamps come from the middleware (rclpy MessageInfo, Jazzy and newer).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from typing import Dict, List

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float64MultiArray, String

from symphony_ros.safety import WatchdogConfig

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
PREFIX = f'/bench{os.getpid()}'
SCALE = 1e-5
"""N*m per sequence number on joint 0: tiny steps, far inside any rate limit."""


def pct(values: List[float]) -> Dict[str, float]:
    """p50 / p99 / max in milliseconds."""
    v = np.asarray(values) * 1e3
    return {'p50': float(np.median(v)), 'p99': float(np.percentile(v, 99)),
            'max': float(v.max()), 'n': len(v)}


def start_watchdog(args: argparse.Namespace) -> subprocess.Popen:
    """Start the watchdog under test, every topic remapped under this run's prefix."""
    remaps = {'/symphony/command': 'command', '/joint_states': 'joint_states',
              '/imu/data': 'imu', '/odom': 'odom', '/symphony/estop': 'estop',
              '/symphony/watchdog/state': 'state', '/diagnostics': 'diagnostics',
              '/effort_controller/commands': 'out'}
    cmd = [sys.executable, '-m', 'symphony_ros.nodes.watchdog_node', '--ros-args',
           '-r', f'__node:=bench_watchdog_{os.getpid()}']
    for src, dst in remaps.items():
        cmd += ['-r', f'{src}:={PREFIX}/{dst}']
    # Loose timeouts: this measures latency and jitter, and a busy shared machine must not
    # end the run with a staleness FAULT (those are the suite's business).
    params = {'auto_arm': 'true', 'ramp_time': '0.0', 'startup_holdoff': '0.5',
              'command_timeout': '0.5', 'state_timeout': '0.5',
              'rate_hz': str(args.rate_hz),
              'realtime_priority': str(args.realtime_priority)}
    params.update(dict(p.split(':=', 1) for p in args.param))
    for k, v in params.items():
        cmd += ['-p', f'{k}:={v}']
    return subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL if not args.verbose
                            else None, stderr=subprocess.STDOUT)


class Policy:
    """Robot and policy: joint states + IMU at 500 Hz, sequence-tagged commands."""

    def __init__(self, prefix: str, names: List[str], command_hz: float):
        self.node = node = rclpy.create_node(f'bench_policy_{os.getpid()}')
        self.names = names
        best_effort = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
        self.cmd_pub = node.create_publisher(JointState, f'{prefix}/command', best_effort)
        self.js_pub = node.create_publisher(JointState, f'{prefix}/joint_states', best_effort)
        self.imu_pub = node.create_publisher(Imu, f'{prefix}/imu', best_effort)
        self.seq = 0
        self.js = JointState(name=names, position=[0.0] * len(names),
                             velocity=[0.0] * len(names))
        self.imu = Imu()
        self.imu.orientation.w = 1.0
        node.create_timer(1.0 / 500.0, self._robot)
        node.create_timer(1.0 / command_hz, self._policy)

    def _robot(self) -> None:
        self.js_pub.publish(self.js)
        self.imu_pub.publish(self.imu)

    def _policy(self) -> None:
        self.seq += 1
        effort = [0.0] * len(self.names)
        effort[0] = self.seq * SCALE
        msg = JointState(name=self.names, effort=effort)
        msg.header.stamp = self.node.get_clock().now().to_msg()
        self.cmd_pub.publish(msg)


def run_policy(args: argparse.Namespace) -> int:
    """``--role policy``: publish until killed."""
    rclpy.init()
    policy = Policy(args.prefix, list(WatchdogConfig().resolved().joint_names),
                    args.command_hz)
    try:
        rclpy.spin(policy.node)
    except Exception:  # SIGTERM from the bench: rclpy shuts the context mid-publish
        if rclpy.ok():
            raise
    except KeyboardInterrupt:
        pass
    return 0


class Bench:
    """The hardware stand-in: records commands and outputs with middleware timestamps."""

    def __init__(self, context: rclpy.Context):
        self.node = node = rclpy.create_node(f'bench_{os.getpid()}', context=context)
        record = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
        self.recording = False
        self.cmd_src: Dict[int, float] = {}
        self.cmd_rx: Dict[int, float] = {}
        self.out_src: Dict[int, float] = {}
        self.out_rx: Dict[int, float] = {}
        self.diagnostics: Dict[str, str] = {}
        self.state = ''
        node.create_subscription(JointState, f'{PREFIX}/command', self._on_echo,
                                 QoSProfile(depth=1000,
                                            reliability=ReliabilityPolicy.BEST_EFFORT))
        node.create_subscription(Float64MultiArray, f'{PREFIX}/out', self._on_out, record)
        node.create_subscription(DiagnosticArray, f'{PREFIX}/diagnostics', self._on_diag, 10)
        node.create_subscription(String, f'{PREFIX}/state', self._on_state, QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL))

    def _on_echo(self, msg: JointState, info) -> None:
        if self.recording:
            seq = int(round(msg.effort[0] / SCALE))
            self.cmd_src[seq] = info['source_timestamp'] * 1e-9
            self.cmd_rx[seq] = info['received_timestamp'] * 1e-9

    def _on_out(self, msg: Float64MultiArray, info) -> None:
        if self.recording:
            seq = int(round(msg.data[0] / SCALE))
            if seq not in self.out_src and abs(msg.data[0] - seq * SCALE) < 1e-12:
                self.out_src[seq] = info['source_timestamp'] * 1e-9
                self.out_rx[seq] = info['received_timestamp'] * 1e-9

    def _on_diag(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            self.diagnostics = {kv.key: kv.value for kv in status.values}

    def _on_state(self, msg: String) -> None:
        self.state = msg.data


def flood(args: argparse.Namespace) -> subprocess.Popen:
    """Start a command flood from another process (the watchdog must stay on time)."""
    script = os.path.join(REPO, 'test', 'safety', 'watchdog_publisher_proc.py')
    return subprocess.Popen([sys.executable, script, f'{PREFIX}/command',
                             str(args.flood_hz), str(args.seconds + 5)], cwd=REPO,
                            stdout=subprocess.DEVNULL)


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seconds', type=float, default=20.0)
    parser.add_argument('--rate-hz', type=float, default=500.0)
    parser.add_argument('--command-hz', type=float, default=None,
                        help='policy command rate (default: 1 / the robot control_dt)')
    parser.add_argument('--realtime-priority', type=int, default=0,
                        help='SCHED_FIFO priority for the watchdog (the system under test; '
                        'the policy and this process stay at normal priority)')
    parser.add_argument('--flood-hz', type=float, default=0.0,
                        help='also flood the command topic from another process')
    parser.add_argument('--param', action='append', default=[],
                        help='extra watchdog parameter, name:=value')
    parser.add_argument('--verbose', action='store_true')
    parser.add_argument('--role', choices=['bench', 'policy'], default='bench',
                        help=argparse.SUPPRESS)
    parser.add_argument('--prefix', default=PREFIX, help=argparse.SUPPRESS)
    args = parser.parse_args()
    cfg = WatchdogConfig().resolved()
    args.command_hz = command_hz = args.command_hz or 1.0 / cfg.policy_period
    if args.role == 'policy':
        return run_policy(args)
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    watchdog = start_watchdog(args)
    policy = subprocess.Popen(
        [sys.executable, __file__, '--role', 'policy', '--prefix', PREFIX,
         '--command-hz', str(command_hz)],
        cwd=REPO)
    context = rclpy.Context()
    rclpy.init(context=context)
    bench = Bench(context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(bench.node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    flooder = None
    try:
        deadline = time.monotonic() + 30
        while bench.state != 'ACTIVE':
            if time.monotonic() > deadline or watchdog.poll() is not None:
                print(f'watchdog never became ACTIVE (state {bench.state!r})')
                return 1
            time.sleep(0.05)
        if args.flood_hz:
            flooder = flood(args)
            time.sleep(2.0)
        time.sleep(1.0)
        bench.recording = True
        time.sleep(args.seconds)
        bench.recording = False
        time.sleep(1.5)  # one more diagnostics message
        state = bench.state
    finally:
        for child in (flooder, policy):
            if child is not None:
                child.terminate()
                child.wait()
        watchdog.terminate()
        try:
            watchdog.wait(timeout=10)
        except subprocess.TimeoutExpired:
            watchdog.kill()
            watchdog.wait()
        executor.shutdown(timeout_sec=1.0)
        rclpy.try_shutdown(context=context)
    matched = sorted(set(bench.cmd_src) & set(bench.out_src))
    if args.flood_hz:  # a second publisher: the watchdog is in FAULT, only the timer counts
        matched = matched or [0]
    if not matched:
        print(f'no command was forwarded (state {state!r})')
        return 1
    if not args.flood_hz:
        added = [bench.out_rx[k] - bench.cmd_rx[k] for k in matched]
        inside = [bench.out_src[k] - bench.cmd_src[k] for k in matched]
        direct = [bench.cmd_rx[k] - bench.cmd_src[k] for k in matched]
    d = bench.diagnostics
    load = os.getloadavg()
    print(f'watchdog hop benchmark: {args.seconds:g} s, commands {command_hz:.1f} Hz, '
          f'timer {args.rate_hz:g} Hz, realtime_priority {args.realtime_priority}, '
          f'flood {args.flood_hz:g} Hz, {os.cpu_count()} cores, load avg '
          f'{load[0]:.1f} {load[1]:.1f}; final state {state!r}')
    print(f'commands matched {len(matched)} of {len(bench.cmd_src)} sent; forwarded on '
          f'arrival {d.get("forwarded_total")}, rejected {d.get("rejected_total")}'
          + ('; flood: a second publisher, so the watchdog is in FAULT and only the timer '
             'figures count' if args.flood_hz else ''))
    print('| measure | p50 (ms) | p99 (ms) | max (ms) |')
    print('|---|---|---|---|')
    rows = [] if args.flood_hz else [('added latency (watchdog hop)', added),
                                     ('in -> out inside the watchdog', inside),
                                     ('direct DDS hop (for scale)', direct)]
    for label, values in rows:
        p = pct(values)
        print(f'| {label} | {p["p50"]:.3f} | {p["p99"]:.3f} | {p["max"]:.3f} |')
    if d:
        print(f'| timer jitter (whole run, {d.get("periods")} periods) | '
              f'{float(d["jitter_p50_us"]) / 1e3:.3f} | {float(d["jitter_p99_us"]) / 1e3:.3f} '
              f'| {float(d["jitter_max_us"]) / 1e3:.3f} |')
    return 0


if __name__ == '__main__':
    sys.exit(main())

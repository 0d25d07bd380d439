"""Benchmark of the deploy loop over DDS: policy_node hop, watchdog hop, missed ticks.

    python bench/ros_loop.py [--seconds 60 | --quick] [--runs 66.7:lockstep 66.7:timer
        500:lockstep] [--policy PATH] [--hidden-dim 512] [--json PATH]

Three processes per run, on a DDS domain of their own: the real ``policy_node`` and
``watchdog_node`` (``auto_arm``) and this process as the robot and the hardware. The driver
publishes synthetic humanoid states (joint_states with efforts, odom, imu/data, one header
stamp = its publish time on the system clock) on a steady-clock schedule at the rate under
test, cycling through ``--states`` distinct standing MuJoCo states (``RobotSim`` resets with
joints moved inside their soft limits and random actuator torques), and records
/symphony/command and /effort_controller/commands with the middleware's source and received
timestamps (the same clock). Reported per run (p50 / p99):

* policy hop: state stamp (just before the first of the three state messages is published)
  -> command received here; a round trip with two DDS hops and the driver's own publishing.
  Lockstep commands carry the state's stamp; timer-mode commands are matched to the state
  they were computed from by content (this process precomputes every state's torque with
  the same PolicyLoop and message conversions), so the timer hop includes the wait for the
  policy's next tick (up to one period, fixed phase).
* state_age: policy_node's own /diagnostics figure, in-process state in -> command out
  (median of the reported p50s, worst reported p99; each report covers its last 2000 ticks).
* watchdog hop: as bench/watchdog_hop.py's "added latency": output received here minus the
  same command received here, both middleware-stamped on arrival, i.e. what the watchdog adds
  over a direct link (its callback, core and publish; plus, when another command was
  already forwarded in the same output period, the wait for the next 500 Hz tick). An output
  is matched to its command by content (the watchdog's slew limit is lifted for the run so
  the output equals the command).
* missed: states with no command (lockstep: no command with the state's stamp; timer: the
  state never acted on); policy_node overruns / stale_inputs (diagnostic counters over the
  run); watchdog output gaps > 1.5 output periods (its publish times).

Targets (2-core machine): each hop p99 <= 1 ms, zero missed ticks at 66.7 Hz; printed as
PASS/MISS. The exit code is nonzero only on errors.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
TARGET_HOP_US = 1000.0
DECIMALS = 6
"""Torques are matched on values rounded to 1e-6 N*m: an output is a + (b - a) of its
command, equal to ~1e-14, and distinct states differ far more (checked when they are built)."""
WARMUP_S = 1.0
"""s of running after the watchdog is ACTIVE before recording (first calls, caches)."""
DIAG_PERIOD_S = 0.5
"""policy_node diagnostics period for the run: brackets the recording window to +-0.5 s."""


def pct(values: List[float]) -> Dict[str, float]:
    """p50 / p99 / max (same unit as ``values``); NaN when empty."""
    if not len(values):
        return {'p50': float('nan'), 'p99': float('nan'), 'max': float('nan'), 'n': 0}
    v = np.asarray(values, dtype=np.float64)
    return {'p50': float(np.median(v)), 'p99': float(np.percentile(v, 99)),
            'max': float(v.max()), 'n': int(len(v))}


def key_of(values: Any) -> bytes:
    """Hashable key of a torque vector (rounded, see DECIMALS)."""
    return np.round(np.asarray(values, dtype=np.float64), DECIMALS).tobytes()


# ------------------------------------------------------------------------------ the policy
def export_random_policy(folder: str, hidden_dim: int) -> str:
    """Export a seeded random Humanoid-v4 actor with its contract; return the .onnx path."""
    import torch

    from symphony_ros.core.config import SymphonyConfig, TrainConfig
    from symphony_ros.core.networks import Actor
    from symphony_ros.core.snapshot import save_best_actor
    from symphony_ros.policy.export import export_policy
    torch.manual_seed(0)
    cfg = SymphonyConfig(hidden_dim=hidden_dim)
    run = os.path.join(folder, 'bench_run')
    from symphony_ros.robot.description import get_robot
    from symphony_ros.robot.obs_specs import get_obs_spec
    obs_dim, act_dim = get_obs_spec('humanoid_v4_full').dim, get_robot('humanoid').n_joints
    info = {'train_config': TrainConfig(env='Humanoid-v4').to_dict(), 'obs_dim': obs_dim,
            'symphony_config': cfg.to_dict(), 'act_dim': act_dim,
            'obs_spec': 'humanoid_v4_full', 'step': 0, 'test_return': 0.0}
    save_best_actor(run, Actor(obs_dim, act_dim, hidden_dim, cfg.noise_clip).eval(), info)
    return export_policy(run, os.path.join(folder, 'policy.onnx')).path


# ------------------------------------------------------------------------------ the states
class States:
    """Distinct standing humanoid states as messages, with each one's expected torque."""

    def __init__(self, policy_path: str, n: int, seed: int = 0):
        import mujoco

        from symphony_ros.deploy.policy_loop import PolicyLoop
        from symphony_ros.nodes.messages import imu_msg, joint_state_msg, odometry_msg, to_time
        from symphony_ros.robot.state import JointStateMapper, RobotState
        from symphony_ros.sim.config import SimConfig
        from symphony_ros.sim.robot_sim import RobotSim
        sim = RobotSim(SimConfig(seed=seed))
        robot, model, data = sim.robot, sim.model, sim.data
        loop = PolicyLoop(policy_path, robot)
        mapper = JointStateMapper(robot, ignore_unknown=True)
        # Joints inside the watchdog's soft limits (limit - 0.05 rad): Humanoid's knees rest at
        # 0, beyond their -2 deg stop, and the watchdog would cut torque there, so the output
        # would no longer equal (and be matchable to) the command.
        lo, hi = robot.position_limits[:, 0] + 0.06, robot.position_limits[:, 1] - 0.06
        rng = np.random.default_rng(seed)
        ctrl_lo, ctrl_hi = model.actuator_ctrlrange[:, 0], model.actuator_ctrlrange[:, 1]
        zero = to_time(0.0)
        self.msgs: List[Tuple[Any, Any, Any]] = []
        self.keys: Dict[bytes, int] = {}
        self.collisions = 0
        while len(self.msgs) < n:
            if self.collisions > n:
                raise RuntimeError('the policy maps too many states to one torque (saturated '
                                   'outputs?): cannot match commands to states')
            sim.reset()
            data.qpos[sim.reader.joint_qpos] = np.clip(data.qpos[sim.reader.joint_qpos], lo, hi)
            # Random actuator torques: nonzero joint efforts, and more distinct commands.
            data.ctrl[:] = rng.uniform(ctrl_lo, ctrl_hi) * 0.5
            mujoco.mj_forward(model, data)
            state = sim.state()
            js = joint_state_msg(state, robot.joint_names, zero)
            odom, imu = odometry_msg(state, zero), imu_msg(state, zero)
            key = key_of(self._torque(loop, mapper, RobotState, js, odom, imu))
            if key in self.keys:
                self.collisions += 1
                continue
            self.keys[key] = len(self.msgs)
            self.msgs.append((js, odom, imu))

    @staticmethod
    def _torque(loop: Any, mapper: Any, state_cls: Any, js: Any, odom: Any, imu: Any
                ) -> np.ndarray:
        # The same conversions as policy_node._state, so the torque is the node's to the bit.
        from symphony_ros.robot.state import imu_to_arrays, odometry_to_base
        j = mapper.reorder(js.name, js.position, js.velocity, js.effort or None)
        p, o = odom.pose.pose.position, odom.pose.pose.orientation
        v, w = odom.twist.twist.linear, odom.twist.twist.angular
        state = state_cls(stamp=0.0, joint_positions=j['joint_positions'],
                          joint_velocities=j['joint_velocities'],
                          joint_efforts=j.get('joint_efforts'))
        state = state.with_odometry(odometry_to_base((p.x, p.y, p.z), (o.x, o.y, o.z, o.w),
                                                     (v.x, v.y, v.z), (w.x, w.y, w.z)))
        io, iw = imu.orientation, imu.angular_velocity
        state = state.with_imu(imu_to_arrays((io.x, io.y, io.z, io.w), (iw.x, iw.y, iw.z)))
        return loop.torque(state)[0]


# ------------------------------------------------------------------------------ processes
def child_env(domain: int) -> Dict[str, str]:
    """Environment of a run's processes: their own DDS domain, localhost discovery only."""
    env = dict(os.environ)
    env['ROS_DOMAIN_ID'] = str(domain)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    return env


def start_nodes(args: argparse.Namespace, policy: str, lockstep: bool, domain: int,
                n_joints: int) -> List[subprocess.Popen]:
    """Start the watchdog and the policy node of one run."""
    out = None if args.verbose else subprocess.DEVNULL
    # Loose timeouts as in bench/watchdog_hop.py: this measures latency, and a hiccup of the
    # shared machine must not latch a staleness FAULT and end the measurement. ramp_time 0
    # and no slew limit: the output equals its command (needed to match them by content).
    wd = {'auto_arm': 'true', 'ramp_time': '0.0', 'startup_holdoff': '0.5',
          'command_timeout': '0.5', 'state_timeout': '0.5', 'rate_hz': '500.0',
          'max_torque_rate': '[' + ', '.join(['1.0e9'] * n_joints) + ']'}
    wd.update(dict(p.split(':=', 1) for p in args.watchdog_param))
    procs = []
    cmd = [sys.executable, '-m', 'symphony_ros.nodes.watchdog_node', '--ros-args']
    for k, v in wd.items():
        cmd += ['-p', f'{k}:={v}']
    procs.append(subprocess.Popen(cmd, cwd=REPO, env=child_env(domain), stdout=out,
                                  stderr=subprocess.STDOUT))
    cmd = [sys.executable, '-m', 'symphony_ros.nodes.policy_node', '--ros-args',
           '-p', f'policy_path:={policy}', '-p', f'lockstep:={str(lockstep).lower()}',
           '-p', f'diagnostics_period:={DIAG_PERIOD_S}']
    for p in args.policy_param:
        cmd += ['-p', p]
    procs.append(subprocess.Popen(cmd, cwd=REPO, env=child_env(domain), stdout=out,
                                  stderr=subprocess.STDOUT))
    return procs


def stop(procs: List[subprocess.Popen]) -> None:
    """SIGINT each child (clean shutdown: the watchdog ramps to zero), then kill stragglers."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    deadline = time.monotonic() + 10.0
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


# ------------------------------------------------------------------------------ the driver
class Driver:
    """Robot and hardware stand-in: publishes states on a steady clock, records the rest."""

    def __init__(self, context: Any, states: States, period: float):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from nav_msgs.msg import Odometry
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Imu, JointState
        from std_msgs.msg import Float64MultiArray, String

        from symphony_ros.nodes.messages import STATE_QOS
        self.node = node = rclpy.create_node(f'ros_loop_bench_{os.getpid()}', context=context)
        self.states, self.period = states, period
        self.pub_js = node.create_publisher(JointState, '/joint_states', STATE_QOS)
        self.pub_odom = node.create_publisher(Odometry, '/odom', STATE_QOS)
        self.pub_imu = node.create_publisher(Imu, '/imu/data', STATE_QOS)
        # Deep reliable queues: every command and output is recorded, and the middleware's
        # received timestamp is taken on arrival, so this process's callback delay is not
        # part of any figure.
        record = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
        node.create_subscription(JointState, '/symphony/command', self._on_command, record)
        node.create_subscription(Float64MultiArray, '/effort_controller/commands', self._on_out,
                                 record)
        node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, 100)
        node.create_subscription(String, '/symphony/watchdog/state', self._on_state, QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self.sent: List[Tuple[int, int, int, float]] = []
        """(state index, stamp ns, publish done ns, lateness s) per state published."""
        self.commands: List[Tuple[int, int, int, Any]] = []
        """(stamp ns, source ns, received ns, effort) per command."""
        self.outputs: List[Tuple[int, int, Any]] = []
        """(source ns, received ns, data) per watchdog output."""
        self.diags: List[Tuple[int, str, Dict[str, str]]] = []
        self.state = ''
        self.states_seen: List[Tuple[int, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._publish_loop, name='states', daemon=True)

    def start(self) -> None:
        """Start publishing states."""
        self._thread.start()

    def stop(self) -> None:
        """Stop publishing states."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)

    def _publish_loop(self) -> None:
        from builtin_interfaces.msg import Time

        from symphony_ros.safety.timing import paced
        msgs, n, period = self.states.msgs, len(self.states.msgs), self.period
        i = 0
        # The watchdog output thread's loop: an executor timer would share the executor
        # thread with 1000 callbacks/s at 500 Hz.
        for deadline in paced(period, self._stop):
            late = time.monotonic() - deadline
            js, odom, imu = msgs[i % n]
            now = time.time_ns()
            stamp = Time(sec=now // 1_000_000_000, nanosec=now % 1_000_000_000)
            js.header.stamp = odom.header.stamp = imu.header.stamp = stamp
            self.pub_odom.publish(odom)
            self.pub_imu.publish(imu)
            self.pub_js.publish(js)
            self.sent.append((i % n, now, time.time_ns(), late))
            i += 1

    def _on_command(self, msg: Any, info: Any) -> None:
        s = msg.header.stamp
        self.commands.append((s.sec * 1_000_000_000 + s.nanosec, info['source_timestamp'],
                              info['received_timestamp'], msg.effort))

    def _on_out(self, msg: Any, info: Any) -> None:
        self.outputs.append((info['source_timestamp'], info['received_timestamp'], msg.data))

    def _on_diag(self, msg: Any) -> None:
        now = time.time_ns()
        for status in msg.status:
            self.diags.append((now, status.name, {kv.key: kv.value for kv in status.values}))

    def _on_state(self, msg: Any) -> None:
        self.state = msg.data
        self.states_seen.append((time.time_ns(), msg.data))


# ------------------------------------------------------------------------------ analysis
def analyse(d: Driver, t0: int, t1: int, rate: float, lockstep: bool) -> Dict[str, Any]:
    """Figures of one run over the recording window [t0, t1) (system-clock ns)."""
    period_ns = 1e9 / rate
    sent = [s for s in d.sent if t0 <= s[1] < t1]
    r: Dict[str, Any] = {'states_sent': len(sent)}
    r['driver_publish_us'] = pct([(s[2] - s[1]) / 1e3 for s in sent])
    r['driver_late_us'] = pct([s[3] * 1e6 for s in sent])
    cmds = [c for c in d.commands if t0 <= c[1] < t1 + period_ns * 3]
    # Which publication of which state each command was computed from.
    acted: Dict[int, List[Tuple[int, int]]] = {}    # stamp ns -> [(cmd source, cmd rx)]
    done = {s[1]: s[2] for s in d.sent}
    if lockstep:
        stamps = {s[1] for s in sent}
        for c in cmds:
            if c[0] in stamps:
                acted.setdefault(c[0], []).append((c[1], c[2]))
    else:
        pubs: Dict[int, List[int]] = {}     # state index -> its publication stamps (sorted)
        for s in d.sent:
            pubs.setdefault(s[0], []).append(s[1])
        torn = 0
        for c in cmds:
            k = d.states.keys.get(key_of(c[3]))
            stamps_k = pubs.get(k, [])
            j = bisect.bisect_right(stamps_k, c[1]) - 1
            if k is None or j < 0:
                # No state gives this torque: the timer read joints of one state and
                # odometry of the next (DDS does not order topics), a torn state.
                torn += 1
                continue
            if t0 <= stamps_k[j] < t1:
                acted.setdefault(stamps_k[j], []).append((c[1], c[2]))
        r['commands_torn'] = torn
    hops = [(min(rx for _, rx in v) - stamp) / 1e3 for stamp, v in acted.items()]
    r['commands_received'] = sum(len(v) for v in acted.values())
    r['missed'] = len(sent) - len(acted)
    r['duplicates'] = r['commands_received'] - len(acted)
    r['late'] = sum(h * 1e3 > period_ns for h in hops)
    r['policy_hop_us'] = pct(hops)
    r['policy_hop_after_publish_us'] = pct(
        [(min(rx for _, rx in v) - done[stamp]) / 1e3 for stamp, v in acted.items()])
    r['command_dds_hop_us'] = pct([(c[2] - c[1]) / 1e3 for c in cmds])

    # Watchdog: each command to the first output equal to it (merged in publish order).
    events = [(c[1], 0, c[2], key_of(c[3])) for c in cmds]
    outs = [o for o in d.outputs if t0 <= o[0] < t1 + period_ns * 3]
    events += [(o[0], 1, o[1], key_of(o[2])) for o in outs]
    events.sort(key=lambda e: (e[0], e[1]))
    pending: Dict[bytes, Tuple[int, int]] = {}
    added, inside = [], []
    for src, kind, rx, key in events:
        if kind == 0:
            pending[key] = (src, rx)
        elif key in pending:
            c_src, c_rx = pending.pop(key)
            added.append((rx - c_rx) / 1e3)
            inside.append((src - c_src) / 1e3)
    r['watchdog_hop_us'] = pct(added)
    r['watchdog_in_out_us'] = pct(inside)
    r['commands_not_output'] = len(cmds) - len(added)
    src = np.array(sorted(o[0] for o in outs if o[0] < t1), dtype=np.float64)
    gaps = np.diff(src) / 1e3 if len(src) > 1 else np.zeros(0)
    wd_period_us = 1e6 / 500.0
    r['watchdog_outputs'] = int(len(src))
    r['watchdog_gaps'] = int((gaps > 1.5 * wd_period_us).sum())
    r['watchdog_max_gap_us'] = float(gaps.max()) if len(gaps) else float('nan')

    # policy_node's diagnostics: counters over the run (last report before t0 to the first
    # after t1); latency percentiles from the reports inside the window.
    pol = [(t, v) for t, name, v in d.diags if name == 'symphony/policy_node']
    before = [v for t, v in pol if t <= t0]
    after = [v for t, v in pol if t >= t1]
    inside_w = [v for t, v in pol if t0 < t <= t1 + DIAG_PERIOD_S * 1e9] or after[:1]
    if before and after:
        for k in ('ticks', 'overruns', 'stale_inputs'):
            r[k] = int(after[0][k]) - int(before[-1][k])
    for k in ('state_age', 'tick', 'inference'):
        p50 = [float(v[f'{k}_p50_us']) for v in inside_w]
        p99 = [float(v[f'{k}_p99_us']) for v in inside_w]
        r[f'{k}_us'] = {'p50': float(np.median(p50)) if p50 else float('nan'),
                        'p99': max(p99) if p99 else float('nan')}
    wd = [v for t, name, v in d.diags if 'safety watchdog' in name and t >= t1]
    if wd:
        r['watchdog_jitter_p99_us'] = float(wd[0].get('jitter_p99_us', 'nan'))
        r['watchdog_rejected'] = int(wd[0].get('rejected_total', 0))
    # The state at t0 and every change up to t1 (a FAULT would end the measurement).
    seen = [text for t, text in d.states_seen if t <= t0][-1:]
    r['watchdog_states'] = seen + [text for t, text in d.states_seen if t0 < t <= t1]
    return r


def _set_scheduling(priority: int) -> None:
    """SCHED_FIFO at ``priority`` for every thread of this process (0: back to normal)."""
    from symphony_ros.nodes.realtime import apply_realtime_priority
    problem = apply_realtime_priority(priority)
    if problem:
        raise RuntimeError(f'--realtime: {problem}')


def run_one(args: argparse.Namespace, policy: str, states: States, rate: float, mode: str,
            domain: int) -> Dict[str, Any]:
    """Start the nodes, drive them at ``rate`` for ``args.seconds``, return the figures."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    lockstep = mode == 'lockstep'
    load0 = os.getloadavg()
    procs: List[subprocess.Popen] = []
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain)
    driver: Optional[Driver] = None
    executor = SingleThreadedExecutor(context=context)
    try:
        procs = start_nodes(args, policy, lockstep, domain, len(states.msgs[0][0].name))
        driver = Driver(context, states, 1.0 / rate)
        if args.realtime:
            # The driver stands in for ros2_control's controller_manager, which runs its
            # update loop on SCHED_FIFO: above the policy and the watchdog. Set after the
            # nodes started, so they do not inherit it; threads started below do.
            _set_scheduling(args.realtime + 2)
        executor.add_node(driver.node)
        spin = threading.Thread(target=executor.spin, daemon=True)
        spin.start()
        driver.start()
        deadline = time.monotonic() + args.startup_timeout
        while driver.state != 'ACTIVE':
            dead = [p.args[2] for p in procs if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                raise RuntimeError(f'{rate:g} Hz {mode}: watchdog never ACTIVE (state '
                                   f'{driver.state!r}; exited: {dead})')
            time.sleep(0.05)
        time.sleep(WARMUP_S)
        t0 = time.time_ns()
        time.sleep(args.seconds)
        t1 = time.time_ns()
        time.sleep(DIAG_PERIOD_S + 1.1)  # one more report from each node
        # The nodes first, so that no input goes stale (and no FAULT is logged) before they
        # stop.
        stop(procs)
        driver.stop()
        result = analyse(driver, t0, t1, rate, lockstep)
    finally:
        stop(procs)
        if driver is not None:
            driver.stop()
        executor.shutdown(timeout_sec=1.0)
        rclpy.try_shutdown(context=context)
        if args.realtime:
            _set_scheduling(0)
    result.update(rate_hz=rate, mode=mode, seconds=args.seconds, load_before=load0,
                  load_after=os.getloadavg())
    return result


# ------------------------------------------------------------------------------ output
def report(results: List[Dict[str, Any]]) -> None:
    """Print the tables and the target verdicts."""
    def pp(d: Dict[str, float]) -> str:
        return f'{d["p50"]:.0f} / {d["p99"]:.0f}'

    print('| rate Hz | mode | policy hop p50/p99 us | state_age p50/p99 us | watchdog hop '
          'p50/p99 us | states sent | commands | missed | overruns | stale | wd gaps |')
    print('|---|---|---|---|---|---|---|---|---|---|---|')
    for r in results:
        print(f'| {r["rate_hz"]:.1f} | {r["mode"]} | {pp(r["policy_hop_us"])} | '
              f'{pp(r["state_age_us"])} | {pp(r["watchdog_hop_us"])} | {r["states_sent"]} | '
              f'{r["commands_received"]} | {r["missed"]} | {r.get("overruns", "?")} | '
              f'{r.get("stale_inputs", "?")} | {r["watchdog_gaps"]} |')
    print()
    print('| rate Hz | mode | policy hop after publish | command DDS hop | wd in->out | '
          'driver publish | driver late | policy tick | inference | dup | torn | late | not '
          'output | wd jitter p99 | load |')
    print('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|')
    for r in results:
        print(f'| {r["rate_hz"]:.1f} | {r["mode"]} | {pp(r["policy_hop_after_publish_us"])} | '
              f'{pp(r["command_dds_hop_us"])} | '
              f'{pp(r["watchdog_in_out_us"])} | {pp(r["driver_publish_us"])} | '
              f'{pp(r["driver_late_us"])} | {pp(r["tick_us"])} | {pp(r["inference_us"])} | '
              f'{r["duplicates"]} | {r.get("commands_torn", "-")} | {r["late"]} | '
              f'{r["commands_not_output"]} | '
              f'{r.get("watchdog_jitter_p99_us", float("nan")):.0f} | '
              f'{r["load_before"][0]:.1f} -> {r["load_after"][0]:.1f} |')
    print('(p50 / p99 in us; after publish: from the last state message sent; dup: a state '
          'acted on twice; torn: a timer command from a mix of two states; late: policy hop > '
          'one period; not output: commands the watchdog never sent (superseded, or dropped '
          'by its depth-1 input); watchdog state over the run: '
          + '; '.join(f'{r["rate_hz"]:.1f} {r["mode"]}: {r["watchdog_states"]}'
                      for r in results) + ')')
    print()
    for r in results:
        name = f'{r["rate_hz"]:.1f} Hz {r["mode"]}'
        checks = [('policy hop p99 (round trip) <= 1 ms', r['policy_hop_us']['p99']),
                  ('policy state_age p99 <= 1 ms', r['state_age_us']['p99']),
                  ('watchdog hop p99 <= 1 ms', r['watchdog_hop_us']['p99'])]
        for label, v in checks:
            print(f'{"PASS" if v <= TARGET_HOP_US else "MISS"}  {name}: {label} ({v:.0f} us)')
        if abs(r['rate_hz'] - 66.7) < 0.1:
            bad = r['missed'] + r.get('overruns', 0) + r.get('stale_inputs', 0)
            print(f'{"PASS" if bad == 0 else "MISS"}  {name}: zero missed ticks (missed '
                  f'{r["missed"]}, overruns {r.get("overruns", "?")}, stale '
                  f'{r.get("stale_inputs", "?")}, watchdog gaps {r["watchdog_gaps"]})')


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f'signal {signum}')


def parse_run(text: str, control_dt: float) -> Tuple[float, str]:
    """'66.7:lockstep' -> (rate, mode); 66.7 snaps to 1 / control_dt exactly."""
    rate_text, _, mode = text.partition(':')
    rate = float(rate_text)
    if abs(rate - 1.0 / control_dt) < 0.1:
        rate = 1.0 / control_dt
    if mode not in ('lockstep', 'timer') or rate <= 0:
        raise argparse.ArgumentTypeError(f'bad run {text!r}: expected RATE:lockstep|timer')
    return rate, mode


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seconds', type=float, default=60.0, help='recorded s per run')
    parser.add_argument('--quick', action='store_true', help='10 s per run')
    parser.add_argument('--runs', nargs='+', default=['66.7:lockstep', '66.7:timer',
                                                      '500:lockstep'],
                        help='RATE:MODE, mode lockstep or timer (policy_node\'s own timer at '
                        'its control period; the deploy default)')
    parser.add_argument('--policy', default=None,
                        help='ONNX policy (default: the shipped one, else a random export)')
    parser.add_argument('--hidden-dim', type=int, default=512,
                        help='hidden size of the random policy (512: the S3 actor)')
    parser.add_argument('--states', type=int, default=1000, help='distinct states cycled')
    parser.add_argument('--domain-id', type=int, default=150 + os.getpid() % 50,
                        help='first DDS domain (one per run)')
    parser.add_argument('--watchdog-param', action='append', default=[],
                        help='extra watchdog parameter, name:=value')
    parser.add_argument('--policy-param', action='append', default=[],
                        help='extra policy_node parameter, name:=value')
    parser.add_argument('--realtime', type=int, default=0, metavar='N',
                        help='SCHED_FIFO as deploy realtime_priority:=N sets it (policy N, '
                        'watchdog N+1), with this driver at N+2 like a controller_manager')
    parser.add_argument('--startup-timeout', type=float, default=90.0)
    parser.add_argument('--json', default=None, metavar='PATH', help='also save results')
    parser.add_argument('--verbose', action='store_true', help='show the nodes\' output')
    args = parser.parse_args()
    if args.quick:
        args.seconds = 10.0
    if args.realtime:
        args.policy_param.append(f'realtime_priority:={args.realtime}')
        args.watchdog_param.append(f'realtime_priority:={args.realtime + 1}')
    # Before rclpy is imported anywhere: the middleware reads these at init.
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    os.environ['ROS_DOMAIN_ID'] = str(args.domain_id)
    from symphony_ros.paths import default_policy_path
    from symphony_ros.robot import get_robot
    robot = get_robot('humanoid')
    runs = [parse_run(t, robot.control_dt) for t in args.runs]
    # SIGTERM unwinds like Ctrl-C, so the finally blocks stop the children.
    signal.signal(signal.SIGTERM, _interrupt)
    # The publishing thread shares the GIL with ~1000 recording callbacks/s: a short switch
    # interval (default 5 ms) keeps it from waiting on them, which would show up as hop.
    sys.setswitchinterval(2e-4)
    with tempfile.TemporaryDirectory(prefix='ros_loop_') as tmp:
        policy = args.policy or default_policy_path()
        if not args.policy and not os.path.exists(policy):
            policy = export_random_policy(tmp, args.hidden_dim)
            print(f'random policy, hidden {args.hidden_dim}: {policy}', file=sys.stderr)
        states = States(policy, args.states)
        results = []
        for i, (rate, mode) in enumerate(runs):
            print(f'run {rate:.1f} Hz {mode}, {args.seconds:g} s ...', file=sys.stderr)
            results.append(run_one(args, policy, states, rate, mode, args.domain_id + i))
    load = os.getloadavg()
    print(f'ros loop benchmark: {args.seconds:g} s per run, policy '
          f'{args.policy or ("random hidden %d" % args.hidden_dim)}, {len(states.msgs)} '
          f'states, {os.cpu_count()} cores, load avg {load[0]:.2f} {load[1]:.2f} '
          f'{load[2]:.2f}')
    report(results)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'seconds': args.seconds, 'cpus': os.cpu_count(), 'load_end': load,
                       'policy': args.policy or f'random hidden {args.hidden_dim}',
                       'states': len(states.msgs), 'results': results}, f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())

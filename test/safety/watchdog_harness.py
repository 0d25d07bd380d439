"""Real processes over real DDS for the fault-injection suite.

The watchdog runs as its own process (``python -m symphony_ros.nodes.watchdog_node``); a
Driver node in the test process plays robot, policy and operator: it publishes joint
states, IMU and commands on timers, records every output and state message with its arrival
time on the steady clock (CLOCK_MONOTONIC, shared by all processes), and calls the services.
Every topic is remapped under a per-run prefix, so other DDS users on the machine cannot
interfere, whatever domain they share.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import rclpy
from rclpy.executors import (
    ExternalShutdownException, ShutdownException, SingleThreadedExecutor)
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock as ClockMsg
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Bool, Float64MultiArray, String
from std_srvs.srv import Trigger
from nav_msgs.msg import Odometry
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray

from symphony_ros.safety.params import from_params

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
PREFIX = f'/wdt{os.getpid()}'
REPS = int(os.environ.get('WATCHDOG_REPS', '3'))
"""Repetitions per injected fault (raise it for the README table)."""
TOPICS = {'/symphony/command': 'command', '/joint_states': 'joint_states',
          '/imu/data': 'imu', '/odom': 'odom', '/symphony/estop': 'estop',
          '/symphony/watchdog/state': 'state', '/diagnostics': 'diagnostics',
          '/clock': 'clock', '/effort_controller/commands': 'effort_commands'}
OUTPUT = f'{PREFIX}/effort_commands'
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
TEST_PARAMS = {'rate_hz': 500.0, 'command_timeout': 0.5, 'state_timeout': 0.5,
               'ramp_time': 0.05, 'startup_holdoff': 0.3, 'max_saturation_time': 0.5}
"""Timeouts a loaded 2-core CI machine meets; the figures of record come from bench/."""
CONFIG = from_params(TEST_PARAMS).resolved()
NAMES = list(CONFIG.joint_names)
LIMIT = np.array(CONFIG.effort_limits)
MAX_STEP = np.array(CONFIG.max_torque_rate) / CONFIG.rate_hz


def topic(name: str) -> str:
    """Remapped name of one of the watchdog's fixed topics."""
    return f'{PREFIX}/{TOPICS[name]}'


def ros_arg(value) -> str:
    """Command-line form of a parameter value."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (list, tuple)):
        return '[' + ','.join(ros_arg(v) for v in value) + ']'
    return str(value)


class WatchdogProcess:
    """The watchdog node as a child process, its log in a temporary file."""

    def __init__(self, name: str = 'watchdog', **params):
        self.name = f'{name}_{os.getpid()}'
        merged = {**TEST_PARAMS, **params}
        args = [sys.executable, '-m', 'symphony_ros.nodes.watchdog_node', '--ros-args',
                '-r', f'__node:={self.name}']
        for src in TOPICS:
            args += ['-r', f'{src}:={topic(src)}']
        for k, v in merged.items():
            args += ['-p', f'{k}:={ros_arg(v)}']
        self.log = tempfile.NamedTemporaryFile('w+', prefix='watchdog_', suffix='.log')
        env = dict(os.environ, PYTHONUNBUFFERED='1')
        self.proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def service(self, which: str) -> str:
        """Fully qualified name of one of its services."""
        return f'/{self.name}/{which}'

    def output_log(self) -> str:
        """Return what the process printed so far."""
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def stop(self) -> Optional[int]:
        """SIGTERM (clean ramp-down), then SIGKILL if it hangs; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode


class Driver:
    """Robot + policy + operator in one rclpy node, spun on a background thread."""

    def __init__(self, context: rclpy.Context, state_hz: float = 200.0,
                 command_hz: float = 100.0):
        self.node = rclpy.create_node(f'watchdog_driver_{os.getpid()}', context=context)
        n = self.node
        best_effort = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
        self.command_pub = n.create_publisher(JointState, topic('/symphony/command'),
                                              best_effort)
        self.js_pub = n.create_publisher(JointState, topic('/joint_states'), best_effort)
        self.imu_pub = n.create_publisher(Imu, topic('/imu/data'), best_effort)
        self.odom_pub = n.create_publisher(Odometry, topic('/odom'), best_effort)
        self.estop_pub = n.create_publisher(Bool, topic('/symphony/estop'), LATCHED)
        self.clock_pub = n.create_publisher(ClockMsg, topic('/clock'), 10)
        self.outputs: List[Tuple[float, np.ndarray]] = []
        self.states: List[Tuple[float, str]] = []
        n.create_subscription(Float64MultiArray, OUTPUT, self._on_output,
                              QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE))
        n.create_subscription(String, topic('/symphony/watchdog/state'), self._on_state,
                              LATCHED)
        self.diagnostics: List[Tuple[float, Dict[str, str]]] = []
        n.create_subscription(DiagnosticArray, topic('/diagnostics'), self._on_diagnostics, 10)
        self.effort = np.zeros(len(NAMES))
        self.names: Sequence[str] = NAMES
        self.stamp: Callable[[], Time] = lambda: n.get_clock().now().to_msg()
        self.q = (np.array(CONFIG.position_lower) + np.array(CONFIG.position_upper)) / 2
        self.qd = np.zeros(len(NAMES))
        self.quat = (0.0, 0.0, 0.0, 1.0)
        self.height: Optional[float] = None
        self.send_commands = True
        self.send_state = True
        self.send_imu = True
        self._clients: Dict[str, object] = {}
        n.create_timer(1.0 / state_hz, self._publish_state)
        n.create_timer(1.0 / command_hz, self._publish_command)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(n)
        self._closing = False
        self.spin_errors: List[str] = []
        """Exceptions the spin thread's callbacks raised (it spins on)."""
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        # One failing callback (a publisher the test destroyed under a timer's feet) must not
        # end the thread: every later output, state and service answer would stop with it.
        while self.node.context.ok() and not self._closing:
            try:
                self.executor.spin_once(timeout_sec=0.1)
            except (ExternalShutdownException, ShutdownException):
                return
            except Exception as exc:  # kept for the failure message
                if self._closing or not self.node.context.ok():
                    return
                self.spin_errors.append(repr(exc))

    def _on_output(self, msg: Float64MultiArray) -> None:
        self.outputs.append((time.monotonic(), np.array(msg.data)))

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            self.diagnostics.append((time.monotonic(),
                                     {kv.key: kv.value for kv in status.values}))

    def _on_state(self, msg: String) -> None:
        self.states.append((time.monotonic(), msg.data))

    def _publish_state(self) -> None:
        if self.send_state:
            self.js_pub.publish(JointState(name=NAMES, position=self.q.tolist(),
                                           velocity=self.qd.tolist()))
        if self.send_imu:
            imu = Imu()
            imu.orientation.x, imu.orientation.y, imu.orientation.z, imu.orientation.w = \
                self.quat
            self.imu_pub.publish(imu)
        if self.height is not None:
            odom = Odometry()
            odom.pose.pose.position.z = self.height
            self.odom_pub.publish(odom)

    def _publish_command(self) -> None:
        if self.send_commands:
            self.publish_command()

    def drop_command_publisher(self) -> None:
        """Remove the driver's command publisher (another process becomes the policy)."""
        pub, self.command_pub = self.command_pub, None
        if pub is not None:
            self.node.destroy_publisher(pub)

    def restore_command_publisher(self) -> None:
        """Publish commands from the driver again."""
        if self.command_pub is None:
            self.command_pub = self.node.create_publisher(
                JointState, topic('/symphony/command'),
                QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))

    def publish_command(self, effort=None, names=None, stamp=None) -> None:
        """Publish one command now (defaults: the driver's current effort, names, stamp)."""
        pub = self.command_pub
        if pub is None:
            return
        msg = JointState(name=list(self.names if names is None else names))
        msg.effort = [float(x) for x in (self.effort if effort is None else effort)]
        msg.header.stamp = self.stamp() if stamp is None else stamp
        pub.publish(msg)

    def estop(self, pressed: bool) -> None:
        """Publish the (latched) e-stop state."""
        self.estop_pub.publish(Bool(data=pressed))

    # ------------------------------------------------------------------------- queries
    def call(self, service: str, timeout: float = 10.0) -> Tuple[bool, str]:
        """Call a Trigger service; (success, message)."""
        client = self._clients.get(service)
        if client is None:
            client = self._clients[service] = self.node.create_client(Trigger, service)
        assert client.wait_for_service(timeout_sec=timeout), f'no service {service}'
        future = client.call_async(Trigger.Request())
        deadline = time.monotonic() + timeout
        while not future.done():
            assert time.monotonic() < deadline, (
                f'{service} did not answer (driver thread alive: {self._thread.is_alive()}, '
                f'its callbacks raised: {self.spin_errors[-3:]})')
            time.sleep(0.001)
        time.sleep(0.02)  # an operator's pace: callers poll with this in a loop
        return future.result().success, future.result().message

    @property
    def state(self) -> str:
        """Last state text received ('' before any)."""
        return self.states[-1][1] if self.states else ''

    def wait_for(self, predicate: Callable[[], bool], timeout: float, what: str) -> float:
        """Poll until predicate() holds; return the time it held; fail after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return time.monotonic()
            if time.monotonic() > deadline:
                raise AssertionError(f'timed out after {timeout} s waiting for {what}; '
                                     f'state {self.state!r}')
            # Times come from the arrival stamps the spin thread takes, not from this poll:
            # polling slower leaves that thread the GIL on a loaded machine.
            time.sleep(0.002)

    def state_since(self, t0: float, prefix: str, timeout: float) -> float:
        """Arrival time of the first state message starting with prefix after t0."""
        def found():
            return any(t >= t0 and s.startswith(prefix) for t, s in self.states)
        self.wait_for(found, timeout, f'state {prefix!r}')
        return next(t for t, s in self.states if t >= t0 and s.startswith(prefix))

    def output_since(self, t0: float, predicate: Callable[[np.ndarray], bool],
                     timeout: float, what: str) -> float:
        """Arrival time of the first output after t0 satisfying predicate."""
        start = [0]

        def found():
            outs = self.outputs
            for i in range(start[0], len(outs)):
                if outs[i][0] >= t0 and predicate(outs[i][1]):
                    start[0] = i
                    return True
            start[0] = max(0, len(outs) - 1)
            return False
        self.wait_for(found, timeout, what)
        return self.outputs[start[0]][0]

    def outputs_between(self, t0: float, t1: float) -> List[np.ndarray]:
        """Output vectors that arrived in [t0, t1]."""
        return [o for t, o in list(self.outputs) if t0 <= t <= t1]

    def close(self) -> None:
        """Stop spinning and destroy the node."""
        self._closing = True
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()


def healthy(driver: Driver, height: Optional[float] = None) -> None:
    """Reset what the driver sends to healthy values; odometry only if a height is given."""
    driver.restore_command_publisher()
    driver.send_commands = driver.send_state = driver.send_imu = True
    driver.names = NAMES
    driver.effort = np.zeros(len(NAMES))
    driver.quat = (0.0, 0.0, 0.0, 1.0)
    driver.qd = np.zeros(len(NAMES))
    driver.height = height
    driver.stamp = lambda: driver.node.get_clock().now().to_msg()


def make_active(watchdog: WatchdogProcess, driver: Driver, timeout: float = 15.0,
                height: Optional[float] = None) -> None:
    """Healthy inputs, then reset/arm until the watchdog stays ACTIVE for a moment."""
    healthy(driver, height)
    arm_until_active(watchdog, driver, timeout)


def arm_until_active(watchdog: WatchdogProcess, driver: Driver, timeout: float = 15.0) -> None:
    """Reset/arm until the watchdog stays ACTIVE for a moment, whatever sends the commands.

    A stall of the command sender or of the watchdog on a loaded machine can fault it
    (command_stale) between arm and ACTIVE; that is the watchdog doing its job, so it is
    reset and armed again rather than failing the test that needs it ACTIVE.
    """
    def attempt() -> bool:
        if driver.state.startswith('FAULT') and not driver.call(watchdog.service('reset'))[0]:
            return False
        if not driver.call(watchdog.service('arm'))[0]:
            return False
        end = time.monotonic() + 0.15  # through the ramp, and a graph check or two
        while time.monotonic() < end:
            time.sleep(0.01)
        return driver.state == 'ACTIVE'
    driver.wait_for(attempt, timeout, 'reset, arm and ACTIVE')


def wait_single_publisher(driver: Driver, expected: int, timeout: float = 15.0) -> None:
    """Wait until the graph shows ``expected`` publishers on the command topic."""
    name = topic('/symphony/command')
    driver.wait_for(lambda: driver.node.count_publishers(name) == expected, timeout,
                    f'{expected} command publishers')

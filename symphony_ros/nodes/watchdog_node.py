"""ROS 2 face of the safety watchdog (symphony_ros.safety): parameters, topics, threads.

The node converts messages to numpy and back and serialises calls into the pure core with
one lock; every rule lives in the core. Two threads:

* the output thread: a steady-clock (CLOCK_MONOTONIC) periodic loop at ``rate_hz`` that
  ticks the core and publishes the hardware command. It is not an executor callback: rclpy
  executors rebuild their wait set in Python on every wake-up, so under a command flood (or
  500 Hz joint states on a busy 2-core machine) an executor-driven timer falls behind; this
  thread only waits for its deadline and the lock. With ``realtime_priority`` it runs
  SCHED_FIFO one level above the rest of the process.
* the executor thread (a SingleThreadedExecutor): subscriptions, services, graph and
  diagnostics timers. A valid command is forwarded from here at once (at most once per
  output period) so the hop adds little latency.

Position commands (a pd_position policy) arrive in the JointState's position field. With
``output`` 'effort' (the default) the core runs their PD at ``rate_hz`` and the node sends
torques as for a torque policy; with 'position' it sends the checked targets on
position_controller/commands and kp, kd on symphony/watchdog/pd_gains, for a driver that
runs the PD itself.

With ``use_sim_time`` the ROS clock follows /clock (used only to judge command stamps);
every timeout and the output period run on the steady clock, so /clock jumps or stalls
cannot stall the output or trip a false timeout.
"""

from __future__ import annotations

import array
import sys
import threading
import time
from typing import Any, List, Optional

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from nav_msgs.msg import Odometry
from rcl_interfaces.msg import ParameterDescriptor
import rclpy
from rclpy.clock import Clock, ClockType
from rclpy.duration import Duration
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Bool, Float64MultiArray, String
from std_srvs.srv import Trigger

from symphony_ros.util.stop_flag import StopFlag
from symphony_ros.graph import topics
from symphony_ros.safety import State, Watchdog
from symphony_ros.safety.params import declare_all
from symphony_ros.safety.timing import PeriodStats, paced

from .messages import COMMAND_PUB_QOS, LATCHED_QOS, LATEST_ONLY_QOS, STATE_LATEST_QOS
from .realtime import apply_realtime_priority, set_thread_priority
from .signals import SPIN_TIMEOUT, keep_signals, stop_on_signals

GRAPH_PERIOD = 0.05
"""s between checks of the publisher count on the command topic."""
ARM_WAIT_REPORTS = 5
"""Diagnostics reports (1 s each) with auto_arm blocked before the node logs why."""
SHUTDOWN_RAMP_S = 1.0
"""Longest time spent slewing the output to zero on a clean shutdown."""


class WatchdogNode(Node):
    """Gate torques from symphony/command to effort_controller/commands (relative names)."""

    def __init__(self, **kwargs: Any):
        super().__init__('watchdog_node', **kwargs)
        self.config = declare_all(self._declare)
        self._lock = threading.Lock()
        self.core = Watchdog(self.config, clock=time.monotonic)
        self._published_state = ''
        self._arm_wait_reports = 0
        self._seen_publishers = 0
        self._last_answer: dict = {}
        self.stats = PeriodStats(1.0 / self.config.rate_hz)
        self._out = Float64MultiArray()
        self._priority = 0

        self._position_in = self.core.config.command_input == 'position'
        self._position_out = self.core.config.output == 'position'
        self._hw_pub = self.create_publisher(
            Float64MultiArray, topics.POSITION_COMMANDS if self._position_out
            else topics.EFFORT_COMMANDS, COMMAND_PUB_QOS)
        self._gains_pub = (self.create_publisher(Float64MultiArray, topics.PD_GAINS,
                                                 COMMAND_PUB_QOS) if self._position_out else None)
        self._gains = Float64MultiArray()
        self._state_pub = self.create_publisher(String, topics.WATCHDOG_STATE, LATCHED_QOS)
        self._diag_pub = self.create_publisher(DiagnosticArray, topics.DIAGNOSTICS, 10)
        inputs = STATE_LATEST_QOS if self.config.reliable_inputs else LATEST_ONLY_QOS
        self._command_sub = self.create_subscription(
            JointState, topics.COMMAND, self._on_command, inputs)
        self.create_subscription(JointState, topics.JOINT_STATES, self._on_joint_state, inputs)
        self.create_subscription(Imu, topics.IMU, self._on_imu, inputs)
        self.create_subscription(Odometry, topics.ODOM, self._on_odom, inputs)
        # Two e-stop subscriptions: a transient-local one receives the latched value of a
        # transient-local publisher; a volatile best-effort one matches any other publisher,
        # so no QoS mismatch can silently hide an e-stop.
        for qos in (LATCHED_QOS, LATEST_ONLY_QOS):
            self.create_subscription(Bool, topics.ESTOP, self._on_estop, qos)
        for name, handler in (('~/arm', self.core.arm), ('~/disarm', self.core.disarm),
                              ('~/reset', self.core.reset)):
            self.create_service(Trigger, name, self._service(name, handler))

        # Housekeeping timers on the steady clock too: they must run with /clock stopped.
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._run_output, name='watchdog_output',
                                        daemon=True)
        self.create_timer(GRAPH_PERIOD, self._on_graph, clock=steady)
        self.create_timer(1.0, self._on_diagnostics, clock=steady)
        self._publish_state()
        self.get_logger().info(
            f'watchdog up: {len(self.core.order)} joints, '
            f'{self.core.config.command_input} commands -> {self.core.config.output} on '
            f'{self._hw_pub.topic_name} at '
            f'{self.config.rate_hz:g} Hz, safe_mode {self.config.safe_mode}, '
            f'auto_arm {self.config.auto_arm}')
        note = self.core.config.output_note()
        if note:
            self.get_logger().warning(note)

    def _declare(self, name: str, default: Any, doc: str) -> Any:
        # read_only: thresholds are fixed for the life of the node (no live re-tuning of a
        # safety layer); dynamic_typing lets `-p rate_hz:=500` (an int) reach the core's
        # coercion, which names the parameter in its error.
        desc = ParameterDescriptor(description=doc, read_only=True, dynamic_typing=True)
        return self.declare_parameter(name, default, desc).value

    # ----------------------------------------------------------------------------- inputs
    def _on_command(self, msg: JointState) -> None:
        ros_now = self.get_clock().now().nanoseconds * 1e-9
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        with self._lock:
            verdict = self.core.on_command(
                msg.name, msg.position if self._position_in else msg.effort, stamp, ros_now)
            if verdict.forward:
                self._publish(self.core.tick(timer=False))
        if not verdict.accepted:
            self.get_logger().warning(f'command rejected: {verdict.reason}',
                                      throttle_duration_sec=1.0)

    def _on_joint_state(self, msg: JointState) -> None:
        with self._lock:
            problem = self.core.on_joint_state(msg.name, msg.position, msg.velocity)
        if problem:
            self.get_logger().warning(f'joint_states rejected: {problem}',
                                      throttle_duration_sec=1.0)

    def _on_imu(self, msg: Imu) -> None:
        o = msg.orientation
        with self._lock:
            problem = self.core.on_imu((o.x, o.y, o.z, o.w),
                                       msg.orientation_covariance[0] != -1.0)
        if problem:
            self.get_logger().warning(f'IMU rejected: {problem}', throttle_duration_sec=1.0)

    def _on_odom(self, msg: Odometry) -> None:
        with self._lock:
            self.core.on_odom(msg.pose.pose.position.z)

    def _on_estop(self, msg: Bool) -> None:
        with self._lock:
            self.core.on_estop(msg.data)
            if msg.data:  # act now rather than at the next tick
                self._publish(self.core.tick(timer=False))

    # ---------------------------------------------------------------------------- outputs
    def start_output(self, priority: int = 0) -> None:
        """Start the output thread (SCHED_FIFO at ``priority`` if > 0)."""
        self._priority = priority
        self._ticker.start()

    def stop_output(self) -> None:
        """Stop the output thread."""
        self._stop.set()
        if self._ticker.is_alive():
            self._ticker.join(timeout=1.0)

    def _run_output(self) -> None:
        if self._priority:
            problem = set_thread_priority(threading.get_native_id(), self._priority)
            if problem:
                self.get_logger().warning(problem)
        for _ in paced(1.0 / self.config.rate_hz, self._stop):
            self.stats.record(time.monotonic())
            try:
                with self._lock:
                    self._publish(self.core.tick())
            except Exception as exc:  # a dead output thread would leave a stale torque
                if self._stop.is_set() or not rclpy.ok():
                    break
                self.get_logger().error(f'output tick failed: {exc!r}',
                                        throttle_duration_sec=1.0)

    def _publish(self, torque: Any) -> None:
        # Called with the lock held, so outputs reach DDS in the order they were computed
        # (the rate limit holds at the hardware, not only inside the core).
        self._send(torque)
        if self.core.state_text != self._published_state:
            self._publish_state()

    def _send(self, torque: Any) -> None:
        """Publish the hardware output of the tick that returned ``torque``."""
        if self._position_out:
            # Gains first: a driver pairs each target with the gains before it.
            target, kp, kd = self.core.position_output()
            self._gains.data = array.array('d', kp.tobytes() + kd.tobytes())
            self._gains_pub.publish(self._gains)
            torque = target
        self._out.data = array.array('d', torque.tobytes())
        self._hw_pub.publish(self._out)

    def _publish_state(self) -> None:
        text = self.core.state_text
        self._published_state = text
        self._state_pub.publish(String(data=text))
        # One call site per severity: rclpy refuses a severity change at a call site.
        if self.core.state is State.FAULT:
            self.get_logger().error(f'state: {text}')
        else:
            self.get_logger().info(f'state: {text}')

    def _on_graph(self) -> None:
        topic = self._command_sub.topic_name
        count = self.count_publishers(topic)
        with self._lock:
            self.core.set_command_publishers(count)
        before, self._seen_publishers = self._seen_publishers, count
        if count > 1 and count != before:
            # Typically a second deploy graph in the same namespace and ROS_DOMAIN_ID: its
            # states and commands mix with ours, so the watchdog will not arm until it is gone.
            self.get_logger().warning(
                f'{count} publishers on {topic}: arming refused until one is left (another '
                'policy or deploy graph in this namespace? give each its own namespace:=)')

    def _report_waiting(self, status: dict) -> None:
        # auto_arm that has waited several reports: say why (one line every few seconds).
        if status['auto_arm'] == 'True' and status['arm_blockers']:
            self._arm_wait_reports += 1
            if self._arm_wait_reports % ARM_WAIT_REPORTS == 0:
                self.get_logger().warning(f'auto_arm waiting: {status["arm_blockers"]}')
        else:
            self._arm_wait_reports = 0

    def _on_diagnostics(self) -> None:
        with self._lock:
            status = self.core.status()
            state = self.core.state
        self._report_waiting(status)
        status.update({k: f'{v:.1f}' for k, v in self.stats.summary().items()})
        level = {State.ACTIVE: DiagnosticStatus.OK, State.RAMP: DiagnosticStatus.OK,
                 State.DISARMED: DiagnosticStatus.WARN}.get(state, DiagnosticStatus.ERROR)
        msg = DiagnosticArray()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.status = [DiagnosticStatus(
            level=level, name=f'{self.get_fully_qualified_name().lstrip("/")}: safety watchdog',
            message=status['state'],
            hardware_id=self.config.robot,
            values=[KeyValue(key=k, value=v) for k, v in status.items()])]
        self._diag_pub.publish(msg)

    def _service(self, name: str, handler: Any) -> Any:
        def serve(request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
            with self._lock:
                response.success, response.message = handler()
                self._publish(self.core.tick(timer=False))
            # A client retrying a refused request gets the same answer many times: log a
            # repeat at most once a second (every answer still goes back to the caller).
            now, (last, when) = time.monotonic(), self._last_answer.get(name, ('', 0.0))
            if response.message != last or now - when >= 1.0:
                self._last_answer[name] = (response.message, now)
                self.get_logger().info(f'{name}: {response.message}')
            return response
        return serve

    def ramp_down(self) -> None:
        """On a clean shutdown, slew the output to zero so the hardware is not left holding."""
        with self._lock:
            self.core.shutdown()
            deadline = time.monotonic() + SHUTDOWN_RAMP_S
            while time.monotonic() < deadline:
                torque = self.core.tick()
                self._send(torque)
                if not torque.any():
                    break
                time.sleep(1.0 / self.config.rate_hz)
        # Reliable delivery needs this writer alive until the zero is acknowledged.
        self._hw_pub.wait_for_all_acked(Duration(seconds=SHUTDOWN_RAMP_S))
        if self._gains_pub is not None:
            self._gains_pub.wait_for_all_acked(Duration(seconds=SHUTDOWN_RAMP_S))


def main(args: Optional[List[str]] = None) -> int:
    """Run the watchdog until SIGINT/SIGTERM, then slew the output to zero and exit."""
    # Hand the GIL between the two threads every 0.1 ms instead of 5 ms: the output thread
    # then waits at most that long for a busy subscription callback, well inside its 2 ms
    # period (figures in the README's timing section).
    sys.setswitchinterval(0.0001)
    # Own signal handling: rclpy's would shut the context down before the final ramp-down,
    # and an exception raised asynchronously inside rclpy can corrupt a message take. The
    # handler only sets a flag and wakes the executor.
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = StopFlag()
    keep_signals(lambda _: stop.set())
    node = None
    try:
        try:
            node = WatchdogNode()
        except ValueError as exc:  # bad parameters: say which, and refuse to start
            print(f'watchdog_node: {exc}', file=sys.stderr)
            return 2
        stop_on_signals(node, lambda _: stop.set())
        priority = node.config.realtime_priority
        if priority:
            problem = apply_realtime_priority(max(1, priority - 1))
            if problem:
                node.get_logger().warning(problem)
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        node.start_output(priority)
        while not stop.is_set():
            executor.spin_once(timeout_sec=SPIN_TIMEOUT)
    except ExternalShutdownException:
        pass
    finally:
        if node is not None:
            node.stop_output()
            if rclpy.ok():
                node.ramp_down()
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())

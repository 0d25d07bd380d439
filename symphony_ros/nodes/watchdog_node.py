"""ROS 2 face of the safety watchdog (symphony_ros.safety): parameters, topics, timers.

The node converts messages to numpy and back and serialises calls into the pure core with
one lock; every rule lives in the core. Threads: subscriptions run in one callback group,
the steady-clock output timer in another, services and housekeeping in the node's default
group, all on a MultiThreadedExecutor, so a flood of commands cannot starve the output.
"""

from __future__ import annotations

import array
import os
import signal
import sys
import threading
import time
from typing import Any, List, Optional

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from nav_msgs.msg import Odometry
from rcl_interfaces.msg import ParameterDescriptor
import rclpy
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Bool, Float64MultiArray, String
from std_srvs.srv import Trigger

from symphony_ros.safety import State, Watchdog
from symphony_ros.safety.params import declare_all
from symphony_ros.safety.timing import PeriodStats

COMMAND_TOPIC = '/symphony/command'
STATE_TOPIC = '/symphony/watchdog/state'
ESTOP_TOPIC = '/symphony/estop'
GRAPH_PERIOD = 0.05
"""s between checks of the publisher count on the command topic."""
SHUTDOWN_RAMP_S = 0.25
"""Longest time spent slewing the output to zero on a clean shutdown."""

# Commands and robot state: best effort, keep-last 1. Only the newest sample matters; a
# retransmitted old one would be stale anyway, and depth 1 keeps a flood from queueing.
# A best-effort subscription also matches reliable publishers.
LATEST_ONLY = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                         reliability=ReliabilityPolicy.BEST_EFFORT,
                         durability=DurabilityPolicy.VOLATILE)
# Latched topics (e-stop, watchdog state): reliable + transient-local, so a node that starts
# late (or restarts) still receives the last value.
LATCHED = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                     reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
# Hardware command: reliable (ros2_control's forward controllers subscribe reliable, which a
# best-effort publisher would not match), keep-last 1 (only the newest torque matters).
HARDWARE = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)


class WatchdogNode(Node):
    """Gate torques from /symphony/command to the hardware command topic."""

    def __init__(self, **kwargs: Any):
        super().__init__('watchdog_node', **kwargs)
        self.config = declare_all(self._declare)
        self._lock = threading.Lock()
        self.core = Watchdog(self.config, clock=time.monotonic)
        self._published_state = ''
        self.stats = PeriodStats(1.0 / self.config.rate_hz)
        self._out = Float64MultiArray()
        inputs = MutuallyExclusiveCallbackGroup()
        output = MutuallyExclusiveCallbackGroup()

        self._hw_pub = self.create_publisher(Float64MultiArray, self.config.output_topic,
                                             HARDWARE)
        self._state_pub = self.create_publisher(String, STATE_TOPIC, LATCHED)
        self._diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._command_sub = self.create_subscription(
            JointState, COMMAND_TOPIC, self._on_command, LATEST_ONLY, callback_group=inputs)
        self.create_subscription(JointState, '/joint_states', self._on_joint_state,
                                 LATEST_ONLY, callback_group=inputs)
        self.create_subscription(Imu, '/imu/data', self._on_imu, LATEST_ONLY,
                                 callback_group=inputs)
        self.create_subscription(Odometry, '/odom', self._on_odom, LATEST_ONLY,
                                 callback_group=inputs)
        # Two e-stop subscriptions: a transient-local one receives the latched value of a
        # transient-local publisher; a volatile best-effort one matches any other publisher,
        # so no QoS mismatch can silently hide an e-stop.
        for qos in (LATCHED, LATEST_ONLY):
            self.create_subscription(Bool, ESTOP_TOPIC, self._on_estop, qos,
                                     callback_group=inputs)
        for name, handler in (('~/arm', self.core.arm), ('~/disarm', self.core.disarm),
                              ('~/reset', self.core.reset)):
            self.create_service(Trigger, name, self._service(name, handler))

        # The output timer runs on the steady clock: with use_sim_time a ROS-time timer would
        # stall when /clock stops or jumps back, and the hardware would keep a stale torque.
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        self._timer = self.create_timer(1.0 / self.config.rate_hz, self._on_tick,
                                        callback_group=output, clock=steady)
        self.create_timer(GRAPH_PERIOD, self._on_graph, clock=steady)
        self.create_timer(1.0, self._on_diagnostics, clock=steady)
        self._publish_state()
        self.get_logger().info(
            f'watchdog up: {len(self.core.order)} joints -> {self._hw_pub.topic_name} at '
            f'{self.config.rate_hz:g} Hz, safe_mode {self.config.safe_mode}, '
            f'auto_arm {self.config.auto_arm}')

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
            verdict = self.core.on_command(msg.name, msg.effort, stamp, ros_now)
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
    def _on_tick(self) -> None:
        self.stats.record(time.monotonic())
        with self._lock:
            self._publish(self.core.tick())

    def _publish(self, torque: Any) -> None:
        # Called with the lock held, so outputs reach DDS in the order they were computed
        # (the rate limit holds at the hardware, not only inside the core).
        self._out.data = array.array('d', torque.tobytes())
        self._hw_pub.publish(self._out)
        if self.core.state_text != self._published_state:
            self._publish_state()

    def _publish_state(self) -> None:
        text = self.core.state_text
        self._published_state = text
        self._state_pub.publish(String(data=text))
        log = self.get_logger().error if self.core.state is State.FAULT else \
            self.get_logger().info
        log(f'state: {text}')

    def _on_graph(self) -> None:
        count = self.count_publishers(self._command_sub.topic_name)
        with self._lock:
            self.core.set_command_publishers(count)

    def _on_diagnostics(self) -> None:
        with self._lock:
            status = self.core.status()
            state = self.core.state
        status.update({k: f'{v:.1f}' for k, v in self.stats.summary().items()})
        level = {State.ACTIVE: DiagnosticStatus.OK, State.RAMP: DiagnosticStatus.OK,
                 State.DISARMED: DiagnosticStatus.WARN}.get(state, DiagnosticStatus.ERROR)
        msg = DiagnosticArray()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.status = [DiagnosticStatus(
            level=level, name=f'{self.get_name()}: safety watchdog', message=status['state'],
            hardware_id=self.config.robot,
            values=[KeyValue(key=k, value=v) for k, v in status.items()])]
        self._diag_pub.publish(msg)

    def _service(self, name: str, handler: Any) -> Any:
        def serve(request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
            with self._lock:
                response.success, response.message = handler()
                self._publish(self.core.tick(timer=False))
            self.get_logger().info(f'{name}: {response.message}')
            return response
        return serve

    def ramp_down(self) -> None:
        """On a clean shutdown, slew the output to zero so the hardware is not left holding."""
        with self._lock:
            self.core.disarm()
            deadline = time.monotonic() + SHUTDOWN_RAMP_S
            while time.monotonic() < deadline:
                torque = self.core.tick()
                self._hw_pub.publish(Float64MultiArray(data=torque.tolist()))
                if not torque.any():
                    break
                time.sleep(1.0 / self.config.rate_hz)


def apply_realtime_priority(priority: int) -> Optional[str]:
    """Put every thread of this process on SCHED_FIFO; return an error text or None."""
    try:
        for tid in os.listdir('/proc/self/task'):
            os.sched_setscheduler(int(tid), os.SCHED_FIFO, os.sched_param(priority))
    except (OSError, AttributeError) as exc:
        return f'realtime_priority {priority} not applied: {exc}'
    return None


def main(args: Optional[List[str]] = None) -> int:
    """Run the watchdog until SIGINT/SIGTERM, then slew the output to zero and exit."""
    # Hand the GIL between the input and output threads every 0.5 ms instead of 5 ms, so the
    # output timer is not held up by a busy subscription thread.
    sys.setswitchinterval(0.0005)
    # Own signal handling: rclpy's would shut the context down before the final ramp-down.
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    node = None
    code = 0
    try:
        node = WatchdogNode()
        if node.config.realtime_priority:
            problem = apply_realtime_priority(node.config.realtime_priority)
            if problem:
                node.get_logger().warning(problem)
        executor = MultiThreadedExecutor(num_threads=3)
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except ValueError as exc:  # bad parameters: say which, and refuse to start
        print(f'watchdog_node: {exc}', file=sys.stderr)
        code = 2
    finally:
        if node is not None:
            if rclpy.ok():
                node.ramp_down()
            node.destroy_node()
        rclpy.try_shutdown()
    return code


if __name__ == '__main__':
    sys.exit(main())

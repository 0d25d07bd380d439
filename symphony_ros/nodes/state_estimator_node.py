"""state_estimator_node: base odometry from the legs and the IMU, for a robot without one.

Subscribes joint_states and imu/data and publishes nav_msgs/Odometry (pose in ``odom``,
twist in the base frame) on state_estimator/odom, one message per joint state, stamped as
it: what a policy that needs ``odom`` reads on a robot whose drivers publish only joints
and an IMU (the deploy graph's ``estimator:=legs`` remaps policy_node's odom onto it).
The filter is :class:`symphony_ros.robot.leg_odometry.LegOdometry`, the pairing of the
inputs :class:`symphony_ros.deploy.state_estimator.StateEstimator`; this node only turns
messages into calls and estimates into messages. Nothing is published until the first IMU
message. Once a second /diagnostics says how it goes (`StateEstimator.diagnostics`: the
estimates, the joint states dropped before the IMU, the pairing, the callbacks' p50/p99). A
robot whose file names no feet is refused (one line, exit code 2).
"""

from __future__ import annotations

import sys
import time
from typing import Any, Dict, List, Tuple

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from nav_msgs.msg import Odometry
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from sensor_msgs.msg import Imu, JointState

from ..deploy.state_estimator import Estimate, StateEstimator, StateEstimatorConfig
from ..deploy.stats import Percentiles
from ..graph import topics
from ..robot.description import get_robot
from ..robot.leg_odometry import LegOdometryConfig
from .messages import STATE_QOS, declare_config, odometry_msg
from .signals import run_node


class StateEstimatorNode(Node):
    """One nav_msgs/Odometry per joint_states message, from the legs and its IMU."""

    def __init__(self) -> None:
        super().__init__('state_estimator_node')
        self.cfg = declare_config(self, StateEstimatorConfig)
        self.filter_cfg = declare_config(self, LegOdometryConfig)
        robot = get_robot(self.cfg.robot)
        self.core = StateEstimator(robot, self.filter_cfg, self.cfg.teleport)
        self.pub = self.create_publisher(Odometry, topics.STATE_ESTIMATOR_ODOM, STATE_QOS)
        # Deep and reliable, not the policy's depth 1: a filter integrates every sample,
        # and states dropped on a busy moment cost it accuracy (in-process, skipping 10 % of
        # the walking G1's states at random raised its velocity error by about a fifth),
        # where a short backlog costs little (an update takes ~0.3 ms).
        imu = self.create_subscription(Imu, topics.IMU, self._on_imu, STATE_QOS)
        joints = self.create_subscription(JointState, topics.JOINT_STATES, self._on_joints,
                                          STATE_QOS)
        self._imu_topic = imu.topic_name
        self._waiting_told = False
        self._first_told = False
        self.callback_time = Percentiles()
        """Seconds each input's callback took (the filter's updates among them)."""
        self.pub_diag = self.create_publisher(DiagnosticArray, topics.DIAGNOSTICS, 10)
        self.create_timer(1.0, self._diagnostics, clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.get_logger().info(
            f'leg odometry of {robot.name} (feet {", ".join(robot.feet)}): '
            f'{joints.topic_name} + {imu.topic_name} -> {self.pub.topic_name}')

    def _on_imu(self, msg: Imu) -> None:
        start = time.perf_counter()
        try:
            self._publish(self.core.imu(msg))
        except ValueError as exc:
            self.get_logger().warning(f'IMU rejected: {exc}', throttle_duration_sec=1.0)
        self.callback_time.add(time.perf_counter() - start)

    def _on_joints(self, msg: JointState) -> None:
        start = time.perf_counter()
        try:
            self._take_joints(msg)
        finally:
            self.callback_time.add(time.perf_counter() - start)

    def _take_joints(self, msg: JointState) -> None:
        try:
            estimates = self.core.joint_states(msg)
        except ValueError as exc:
            self.get_logger().warning(f'joint_states rejected: {exc}',
                                      throttle_duration_sec=1.0)
            return
        if not self.core.has_imu and not self._waiting_told:
            self._waiting_told = True
            self.get_logger().warning(
                f'joint_states arriving, no IMU on {self._imu_topic} yet: no odometry until '
                'it comes (imu_topic:=)')
        self._publish(estimates)

    def _publish(self, estimates: List[Estimate]) -> None:
        for stamp, state in estimates:
            self.pub.publish(odometry_msg(state, stamp))
        if estimates and not self._first_told:
            self._first_told = True
            self.get_logger().info(f'estimating: first odometry on {self.pub.topic_name} '
                                   f'({self.core.dropped} joint_states before the IMU dropped)')

    def _figures(self) -> Tuple[bool, str, Dict[str, Any]]:
        """Return the core's (healthy, message, figures), its callbacks' p50 and p99 added."""
        healthy, message, figures = self.core.diagnostics()
        took = self.callback_time.summary()
        figures.update(callback_p50_us=took['p50'], callback_p99_us=took['p99'])
        return healthy, message, figures

    def destroy_node(self) -> None:
        """Say what the run estimated (the closing line), then destroy the node."""
        _, _, f = self._figures()
        self.get_logger().info(
            f'leg odometry: {f["estimates"]} estimates ({f["restarts"]} restarts, '
            f'{f["imu_stand_ins"]} IMU stand-ins, {f["dropped_before_imu"]} joint_states '
            f'before the IMU dropped); callback p50 {f["callback_p50_us"]:.0f} us, '
            f'p99 {f["callback_p99_us"]:.0f} us')
        super().destroy_node()

    def _diagnostics(self) -> None:
        healthy, message, figures = self._figures()
        status = DiagnosticStatus(name='symphony/state_estimator_node',
                                  hardware_id='state_estimator', message=message,
                                  level=DiagnosticStatus.OK if healthy else DiagnosticStatus.WARN)
        status.values = [KeyValue(key=k, value=f'{v:.1f}' if isinstance(v, float) else str(v))
                         for k, v in figures.items()]
        arr = DiagnosticArray(status=[status])
        arr.header.stamp = self.get_clock().now().to_msg()
        self.pub_diag.publish(arr)


def main(args=None) -> None:
    """Run the node; a robot it cannot estimate is reported in one line, exit code 2."""
    sys.exit(run_node('state_estimator_node', StateEstimatorNode, (ValueError, OSError),
                      lambda node: node.cfg.realtime_priority, args))


if __name__ == '__main__':
    main()

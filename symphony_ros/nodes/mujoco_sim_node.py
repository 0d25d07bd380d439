"""mujoco_sim_node: the embedded stand-in for the robot's hardware and state estimator.

Publishes joint_states, imu/data and odom as a ros2_control robot would, applies the torques
of effort_controller/commands, and applies zero torque when commands stop (never a stale one).
"""

from __future__ import annotations

import threading
import time
from typing import Optional

import numpy as np
import rclpy
from nav_msgs.msg import Odometry
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rosgraph_msgs.msg import Clock as ClockMsg
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import Trigger

from ..sim.config import SimConfig
from ..sim.robot_sim import RobotSim
from .messages import (COMMAND_QOS, STATE_QOS, declare_config,
                       imu_msg, joint_state_msg, odometry_msg, to_time)


class MujocoSimNode(Node):
    """Steps a RobotSim in real time (steady-clock timer) or in lockstep with the command."""

    def __init__(self) -> None:
        super().__init__('mujoco_sim_node')
        self.cfg = declare_config(self, SimConfig)
        self.sim = RobotSim(self.cfg)
        names = self.sim.robot.joint_names
        self._names = names
        self._lock = threading.Lock()
        self._torque: Optional[np.ndarray] = None
        self._torque_time = -np.inf
        self._commands = 0
        self._steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.pub_js = self.create_publisher(JointState, 'joint_states', STATE_QOS)
        self.pub_imu = self.create_publisher(Imu, 'imu/data', STATE_QOS)
        self.pub_odom = self.create_publisher(Odometry, 'odom', STATE_QOS)
        self.create_subscription(Float64MultiArray, 'effort_controller/commands',
                                 self._on_command, COMMAND_QOS)
        self.create_service(Trigger, '~/reset', self._on_reset)
        self.lockstep = self.cfg.timing == 'lockstep'
        if self.lockstep:
            self.pub_clock = self.create_publisher(ClockMsg, 'clock', 10)
        else:
            self.create_timer(self.sim.robot.control_dt, self._tick, clock=self._steady)
        self.get_logger().info(
            f'{self.sim.robot.name}: {len(names)} joints, dt {self.sim.robot.control_dt:.4f} s, '
            f'timing {self.cfg.timing}')

    def _now(self) -> float:
        return self._steady.now().nanoseconds * 1e-9

    def _on_command(self, msg: Float64MultiArray) -> None:
        torque = np.asarray(msg.data, dtype=np.float64)
        if torque.shape != (len(self._names),):
            self.get_logger().warn(
                f'effort_controller/commands: expected {len(self._names)} torques, got '
                f'{torque.size}; applying zero torque', throttle_duration_sec=1.0)
            torque = None
        with self._lock:
            self._torque, self._torque_time = torque, self._now()
            self._commands += 1

    def _on_reset(self, _req, resp):
        with self._lock:
            self.sim.reset()
        resp.success, resp.message = True, f'reset #{self.sim.resets}'
        return resp

    def _current_torque(self) -> Optional[np.ndarray]:
        with self._lock:
            fresh = self._now() - self._torque_time <= self.cfg.command_timeout
            return self._torque if fresh else None

    def publish_state(self) -> None:
        """Publish odom, IMU and then joint_states (the policy acts on joint_states)."""
        state = self.sim.state()
        sim_stamp = to_time(self.sim.time + self._epoch)
        if self.lockstep:
            self.pub_clock.publish(ClockMsg(clock=sim_stamp))
            stamp = sim_stamp
        else:
            stamp = self.get_clock().now().to_msg()
        self.pub_odom.publish(odometry_msg(state, stamp))
        self.pub_imu.publish(imu_msg(state, stamp))
        self.pub_js.publish(joint_state_msg(state, self._names, stamp))

    _epoch = 1.0
    """Simulated stamps start at 1 s: a zero stamp means 'unset' to the watchdog."""

    def _tick(self) -> None:
        torque = self._current_torque()
        with self._lock:
            self.sim.step(torque)
            if self.cfg.auto_reset and self.sim.fallen():
                self.get_logger().info(f'fall at t={self.sim.time:.2f} s: reset')
                self.sim.reset()
        self.publish_state()

    def lockstep_loop(self, ticks: int) -> None:
        """Publish state, wait for a command produced after it, step; ``ticks`` 0 = forever."""
        k = 0
        while rclpy.ok() and (ticks == 0 or k < ticks):
            with self._lock:
                seen = self._commands
            self.publish_state()
            deadline = self._now() + self.cfg.lockstep_timeout
            # Two commands after the state: the watchdog's timer has run at least once on
            # the policy's answer to this state.
            while rclpy.ok() and self._now() < deadline:
                with self._lock:
                    if self._commands >= seen + 2:
                        break
                time.sleep(0.0002)
            with self._lock:
                torque = self._torque if self._commands >= seen + 2 else None
                self.sim.step(torque)
                if self.cfg.auto_reset and self.sim.fallen():
                    self.sim.reset()
            k += 1


def main(args=None) -> None:
    """Run the node until Ctrl-C or shutdown."""
    rclpy.init(args=args)
    node = MujocoSimNode()
    executor = MultiThreadedExecutor(num_threads=2)
    executor.add_node(node)
    try:
        if node.lockstep:
            spin = threading.Thread(target=executor.spin, daemon=True)
            spin.start()
            node.lockstep_loop(0)
        else:
            executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        executor.shutdown()
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()


if __name__ == '__main__':
    main()

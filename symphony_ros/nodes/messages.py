"""RobotState <-> ROS messages, stamps and parameter declaration shared by the nodes."""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence, Type, TypeVar

from builtin_interfaces.msg import Time
from nav_msgs.msg import Odometry
from rclpy.node import Node
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Imu, JointState

from ..util.fields import field_docs, scalar_fields
from ..robot.rotations import rotate_to_body, wxyz_to_xyzw
from ..robot.state import RobotState

ODOM_FRAME, BASE_FRAME = 'odom', 'base_link'
# Sensor data: reliable keep-last 100, the sim's writers and the leg odometry's readers. A
# filter integrates every sample, and a keep-last writer drops its oldest unacknowledged
# sample once its history is full: a reader starved of CPU for a moment behind a lockstep
# sim that runs ahead of real time must find its states waiting (100 hold 2 s of the G1's).
STATE_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
# What the policy subscribes with: only the newest state matters, and a reliable depth-1
# queue keeps a slow tick from working through a backlog of old states (README: timing).
# Lockstep loses nothing: the sim waits for each answer.
STATE_LATEST_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
# Commands: only the newest matters, so depth 1. Reliable, because ros2_control's forward
# controllers subscribe reliable, which a best-effort publisher would not match.
COMMAND_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
# What command publishers offer: readers still keep only the newest (their own depth 1), but
# a writer keeps this many for a slow reliable reader to fetch. At depth 1 a recorder that
# fell behind on a loaded machine lost commands (a fifth of the watchdog's outputs, a few
# percent of the policy's), so a bag could not tell which torque moved the robot.
COMMAND_PUB_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
# The watchdog's inputs: best effort, keep-last 1. Only the newest sample matters; a
# retransmitted old one would be stale anyway, and depth 1 keeps a flood from queueing.
# A best-effort subscription also matches reliable publishers.
LATEST_ONLY_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT,
                             durability=DurabilityPolicy.VOLATILE)
# Latched topics (e-stop, watchdog state): reliable + transient-local, so a node that starts
# late (or restarts) still receives the last value.
LATCHED_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
T = TypeVar('T')


def to_time(seconds: float) -> Time:
    """builtin_interfaces/Time from float seconds (rounded to the nanosecond)."""
    # Round once, then split: rounding the fraction alone turns 3.9999999999 into (3, 0).
    sec, nanosec = divmod(int(round(seconds * 1e9)), 1_000_000_000)
    return Time(sec=sec, nanosec=nanosec)


def from_time(stamp: Time) -> float:
    """Float seconds from builtin_interfaces/Time."""
    return stamp.sec + stamp.nanosec * 1e-9


def joint_state_msg(state: RobotState, names: Sequence[str], stamp: Time) -> JointState:
    """sensor_msgs/JointState as joint_state_broadcaster publishes it."""
    msg = JointState()
    msg.header.stamp = stamp
    msg.name = list(names)
    msg.position = state.joint_positions.tolist()
    msg.velocity = state.joint_velocities.tolist()
    if state.joint_efforts is not None:
        msg.effort = state.joint_efforts.tolist()
    return msg


def imu_msg(state: RobotState, stamp: Time, frame: str = BASE_FRAME) -> Imu:
    """sensor_msgs/Imu: orientation (x, y, z, w) and angular velocity in the IMU frame."""
    msg = Imu()
    msg.header.stamp, msg.header.frame_id = stamp, frame
    x, y, z, w = wxyz_to_xyzw(state.imu_orientation)
    msg.orientation.x, msg.orientation.y, msg.orientation.z, msg.orientation.w = x, y, z, w
    av = state.imu_angular_velocity
    msg.angular_velocity.x, msg.angular_velocity.y, msg.angular_velocity.z = map(float, av)
    acc = (state.imu_linear_acceleration if state.imu_linear_acceleration is not None
           else -9.81 * rotate_to_body(state.imu_orientation, [0.0, 0.0, -1.0]))
    la = msg.linear_acceleration
    la.x, la.y, la.z = map(float, acc)
    return msg


def odometry_msg(state: RobotState, stamp: Time) -> Odometry:
    """nav_msgs/Odometry: pose in ``odom``, twist in the base frame (REP 105)."""
    msg = Odometry()
    msg.header.stamp, msg.header.frame_id, msg.child_frame_id = stamp, ODOM_FRAME, BASE_FRAME
    p = msg.pose.pose.position
    p.x, p.y, p.z = map(float, state.base_position)
    o = msg.pose.pose.orientation
    o.x, o.y, o.z, o.w = map(float, wxyz_to_xyzw(state.base_orientation))
    lin, ang = msg.twist.twist.linear, msg.twist.twist.angular
    lin.x, lin.y, lin.z = map(float, state.base_lin_vel)
    ang.x, ang.y, ang.z = map(float, state.base_ang_vel)
    return msg


def declare_config(node: Node, cls: Type[T]) -> T:
    """Declare one ROS parameter per scalar field of dataclass ``cls``; return the values.

    Defaults and descriptions come from the dataclass, so YAML files, launch arguments and
    the CLI all share one definition.
    """
    docs = field_docs(cls)
    values: dict[str, Any] = {}
    for name, typ, default in scalar_fields(cls):
        value = default if default is not None else typ()
        node.declare_parameter(name, value, ParameterDescriptor(description=docs.get(name, '')))
        values[name] = typ(node.get_parameter(name).value)
    fields = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in fields})

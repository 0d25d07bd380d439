"""Pull `RobotState` fields out of ROS message objects, whoever made them.

Duck-typed on the message fields, so one conversion serves rclpy messages in the nodes and
the messages `rosbags` deserializes from a bag (numpy arrays for ``float64[]``); never
imports rclpy.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np

from .state import JointStateMapper, imu_to_arrays, odometry_to_base


def stamp_ns(header: Any) -> int:
    """Return a ``std_msgs/Header`` stamp in integer ns (exact, for matching stamps)."""
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def odometry_fields(msg: Any, twist_frame: str = 'child') -> Dict[str, np.ndarray]:
    """Return the base fields of `RobotState` of a nav_msgs/Odometry (`odometry_to_base`)."""
    p, o = msg.pose.pose.position, msg.pose.pose.orientation
    v, w = msg.twist.twist.linear, msg.twist.twist.angular
    return odometry_to_base((p.x, p.y, p.z), (o.x, o.y, o.z, o.w), (v.x, v.y, v.z),
                            (w.x, w.y, w.z), twist_frame)


def imu_fields(msg: Any, with_acceleration: bool = True) -> Dict[str, Optional[np.ndarray]]:
    """Return the IMU fields of `RobotState` of a sensor_msgs/Imu (`imu_to_arrays`)."""
    o, w, a = msg.orientation, msg.angular_velocity, msg.linear_acceleration
    acc = (a.x, a.y, a.z) if with_acceleration else None
    return imu_to_arrays((o.x, o.y, o.z, o.w), (w.x, w.y, w.z), acc)


def joint_state_fields(mapper: JointStateMapper, msg: Any) -> Dict[str, Optional[np.ndarray]]:
    """Return the joint arrays of `RobotState`, robot order, of a sensor_msgs/JointState."""
    effort = msg.effort if len(msg.effort) else None
    return mapper.reorder(list(msg.name), msg.position, msg.velocity, effort)


def joint_efforts(mapper: JointStateMapper, msg: Any, field: str = 'effort') -> np.ndarray:
    """Return the efforts (N*m) of a JointState command in the robot's joint order.

    ``field`` 'position': the joint targets (rad) of a pd_position policy's command.

    :raises ValueError: naming missing joints or an array of the wrong length.
    """
    names = list(msg.name)
    index = mapper.index(names)
    values = np.asarray(getattr(msg, field), dtype=np.float64)
    if values.shape != (len(names),):
        raise ValueError(f'{field}: expected {len(names)} values (one per name), got shape '
                         f'{values.shape}')
    return values[index]


__all__ = ['imu_fields', 'joint_efforts', 'joint_state_fields', 'odometry_fields', 'stamp_ns']

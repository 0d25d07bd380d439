"""Quaternion conventions in one place.

MuJoCo stores quaternions as (w, x, y, z); ROS messages (geometry_msgs/Quaternion, as in
sensor_msgs/Imu and nav_msgs/Odometry) carry (x, y, z, w). Everything inside this package
uses (w, x, y, z); conversion happens only at the message boundary, through these helpers.
"""

from __future__ import annotations

import math

import numpy as np

GRAVITY_WORLD = np.array([0.0, 0.0, -1.0])
"""Unit gravity direction in the world frame (z up)."""


def xyzw_to_wxyz(q: np.ndarray) -> np.ndarray:
    """Reorder a ROS (x, y, z, w) quaternion to MuJoCo's (w, x, y, z)."""
    q = np.asarray(q, dtype=np.float64)
    return np.array([q[3], q[0], q[1], q[2]])


def wxyz_to_xyzw(q: np.ndarray) -> np.ndarray:
    """Reorder a MuJoCo (w, x, y, z) quaternion to ROS (x, y, z, w)."""
    q = np.asarray(q, dtype=np.float64)
    return np.array([q[1], q[2], q[3], q[0]])


def normalize(q: np.ndarray) -> np.ndarray:
    """Return the unit quaternion along ``q``; raise ValueError for a zero or non-finite one."""
    q = np.asarray(q, dtype=np.float64)
    # sqrt(q.q) is what np.linalg.norm computes for a vector, without its overhead.
    n = math.sqrt(float(np.dot(q, q)))
    if not math.isfinite(n) or n < 1e-9:
        raise ValueError(f'quaternion {q.tolist()} has no direction')
    return q / n


def rotation_matrix(q_wxyz: np.ndarray) -> np.ndarray:
    """Rotation matrix R (body to world) of orientation ``q_wxyz``; normalizes first."""
    w, x, y, z = normalize(q_wxyz).tolist()  # float arithmetic: faster than numpy scalars
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def rotate_to_body(q_wxyz: np.ndarray, v_world: np.ndarray) -> np.ndarray:
    """Express a world-frame vector in the body frame of orientation ``q_wxyz`` (R^T v)."""
    return rotation_matrix(q_wxyz).T @ np.asarray(v_world, dtype=np.float64)


def rotate_to_world(q_wxyz: np.ndarray, v_body: np.ndarray) -> np.ndarray:
    """Express a body-frame vector in the world frame, given orientation ``q_wxyz`` (R v)."""
    return rotation_matrix(q_wxyz) @ np.asarray(v_body, dtype=np.float64)


def projected_gravity(q_wxyz: np.ndarray) -> np.ndarray:
    """Return the unit gravity direction in the body frame: (0, 0, -1) when upright.

    Equals ``rotate_to_body(q_wxyz, GRAVITY_WORLD)``: minus the third row of R, written out
    because it runs in every control step.
    """
    w, x, y, z = np.asarray(q_wxyz, dtype=np.float64).tolist()
    n = w * w + x * x + y * y + z * z
    if not (math.isfinite(n) and n >= 1e-18):
        normalize(q_wxyz)   # raises, naming the quaternion
    # The products of a non-unit q scale with |q|^2: one division normalises them.
    k = 2.0 / n
    return np.array([k * (w * y - x * z), -k * (y * z + w * x), k * (x * x + y * y) - 1.0])


def tilt_angle(q_wxyz: np.ndarray) -> float:
    """Angle in radians between the body z axis and the world z axis."""
    g = projected_gravity(q_wxyz)
    return float(np.arccos(np.clip(-g[2], -1.0, 1.0)))


def yaw(q_wxyz: np.ndarray) -> float:
    """Return the heading (rad, about world z) of orientation ``q_wxyz``."""
    w, x, y, z = (float(v) for v in q_wxyz)
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))

"""Per-message and per-tick checks of the watchdog, as pure functions over numpy arrays."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from symphony_ros.robot.rotations import normalize, tilt_angle, xyzw_to_wxyz
from symphony_ros.safety.errors import Rejected


def check_stamp(stamp: float, ros_now: float, max_age: float, max_future: float) -> None:
    """Accept a command stamp only if it is set, not ahead of now, and not stale.

    Stamps are compared, never rewritten: a re-stamped command would hide a stalled policy.

    :raises Rejected: zero, future or stale stamp.
    """
    if stamp == 0.0:
        raise Rejected('zero header stamp')
    age = ros_now - stamp
    if age < -max_future:
        raise Rejected(f'header stamp {-age * 1e3:.1f} ms in the future')
    if age > max_age:
        raise Rejected(f'header stamp {age * 1e3:.1f} ms old (timeout {max_age * 1e3:.1f} ms)')


def tilt_from_imu(quat_xyzw: Sequence[float]) -> float:
    """Return the base tilt (rad) of a ROS (x, y, z, w) orientation via projected gravity.

    :raises Rejected: a zero or non-finite quaternion.
    """
    try:
        q = normalize(xyzw_to_wxyz(np.asarray(quat_xyzw, dtype=np.float64)))
    except ValueError as exc:
        raise Rejected(f'IMU orientation unusable: {exc}') from None
    return tilt_angle(q)


def soft_limit_cut(tau: np.ndarray, q: np.ndarray, soft_lower: np.ndarray,
                   soft_upper: np.ndarray) -> np.ndarray:
    """Zero the torque of joints beyond a soft limit that would push them further out."""
    out_high = (q > soft_upper) & (tau > 0.0)
    out_low = (q < soft_lower) & (tau < 0.0)
    return np.where(out_high | out_low, 0.0, tau)


def clamp(x: np.ndarray, bound: np.ndarray) -> np.ndarray:
    """Clip to [-bound, bound] (np.clip's Python wrapper costs more than the work here)."""
    return np.minimum(np.maximum(x, -bound), bound)


def damping_torque(qd: np.ndarray, kd: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """Return the damping torque -kd * qdot, clamped to the effort limits."""
    return clamp(-kd * qd, limit)


def slew(previous: np.ndarray, target: np.ndarray, max_step: np.ndarray) -> np.ndarray:
    """Move from ``previous`` toward ``target`` by at most ``max_step`` per joint.

    A joint within reach gets ``target`` itself: ``previous + (target - previous)`` can miss
    it by a rounding error, so the output would depend on the outputs before it (how many
    ticks a command was held), and a lockstep run would not repeat bit for bit.
    """
    step = target - previous
    return np.where(np.abs(step) <= max_step, target, previous + clamp(step, max_step))


class SaturationTimer:
    """How long each joint's command has been continuously beyond its effort limit."""

    def __init__(self, limit: np.ndarray):
        self._limit = limit
        self._since = np.full(limit.shape, np.nan)

    def reset(self) -> None:
        """Forget every saturation run (used when leaving the armed states)."""
        self._since[:] = np.nan

    def update(self, command: np.ndarray, now: float) -> None:
        """Record which joints are saturated at ``now``."""
        # fmin keeps the start of a run and starts a new one where _since is NaN.
        self._since = np.where(np.abs(command) > self._limit, np.fmin(self._since, now),
                               np.nan)

    def longest(self, now: float) -> tuple:
        """(index, seconds) of the longest current saturation run; (None, 0.0) if none."""
        runs = now - self._since
        if np.isnan(runs).all():
            return None, 0.0
        i = int(np.nanargmax(runs))
        return i, float(runs[i])


def first_over(values: np.ndarray, limit: np.ndarray) -> Optional[int]:
    """Index of the first joint with |value| > limit, or None."""
    over = np.abs(values) > limit
    return int(over.argmax()) if over.any() else None

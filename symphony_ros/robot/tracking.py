"""Velocity tracking measured over a stride: the base's velocity averaged over a window.

A walking base sways sideways and twists about its vertical axis within every step, so its
instantaneous velocity misses any command by the sway's amplitude even when the robot goes
exactly where it is told (a G1 stepping in place reads 0.15 m/s and 0.6 rad/s RMS). Averaged
over one gait cycle, what repeats every cycle cancels and what the robot does over a stride
remains: that is the error a user sees, and the one a target such as "0.5 m/s within 0.1"
means. The window restarts when the command changes, so a stride that straddles two commands
is not judged against either.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Deque, Optional, Sequence, Tuple

import numpy as np


def window_steps(gait_period: float, control_dt: float) -> int:
    """Return the control steps of one gait cycle (1 s when the task has no gait clock)."""
    period = gait_period if gait_period > 0 else 1.0
    return max(1, int(round(period / control_dt)))


class WindowTracking:
    """RMS error of the window-averaged (vx, vy) and yaw rate against a held command."""

    def __init__(self, steps: int) -> None:
        """Average over ``steps`` control steps (`window_steps`)."""
        if steps < 1:
            raise ValueError(f'tracking window: expected at least 1 step, got {steps}')
        self._window: Deque[np.ndarray] = deque(maxlen=steps)
        self._command: Optional[np.ndarray] = None
        self._lin_sq = self._yaw_sq = 0.0
        self._n = 0

    def restart(self) -> None:
        """Begin a new episode: the next window starts empty; the errors so far are kept."""
        self._window.clear()
        self._command = None

    def add(self, command: Sequence[float], velocity: Tuple[float, float, float]) -> None:
        """Take one control step's command (vx, vy, yaw rate) and base (vx, vy, yaw rate)."""
        cmd = np.asarray(command, dtype=np.float64)[:3]
        if self._command is None or not np.array_equal(cmd, self._command):
            self._window.clear()
            self._command = cmd
        self._window.append(np.asarray(velocity, dtype=np.float64))
        if len(self._window) < self._window.maxlen:
            return
        err = np.mean(self._window, axis=0) - cmd
        self._lin_sq += float(err[0] ** 2 + err[1] ** 2)
        self._yaw_sq += float(err[2] ** 2)
        self._n += 1

    @property
    def lin_rms(self) -> Optional[float]:
        """Planar error in m/s (None before a full window)."""
        return math.sqrt(self._lin_sq / self._n) if self._n else None

    @property
    def yaw_rms(self) -> Optional[float]:
        """Yaw-rate error in rad/s (None before a full window)."""
        return math.sqrt(self._yaw_sq / self._n) if self._n else None


__all__ = ['WindowTracking', 'window_steps']

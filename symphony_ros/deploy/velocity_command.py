"""The velocity command of a velocity-tracking policy, as policy_node takes it from cmd_vel.

A geometry_msgs/Twist gives (linear.x, linear.y, angular.z) = (vx, vy, yaw rate). The policy
only knows the ranges it was trained on (the contract's ``task.command_ranges``), so a value
outside them is clipped to the range, not extrapolated. A non-finite value is rejected and
the command drops to zero (a sender that emits NaN is broken; its last value is no longer
trusted). With no valid message for ``timeout`` seconds the command is zero too, so a dead
teleop stops the robot walking instead of leaving it on its last command. Pure Python with
an injected clock, so every rule runs without DDS.
"""

from __future__ import annotations

import math
import time
from typing import Callable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

FIELDS: Tuple[Tuple[str, str], ...] = (('linear.x', 'lin_vel_x'), ('linear.y', 'lin_vel_y'),
                                       ('angular.z', 'yaw_rate'))
"""(Twist field, contract command range key) of vx, vy and yaw rate, in observation order."""
DEFAULT_TIMEOUT = 0.5
"""s without a valid cmd_vel before the command falls back to zero."""


class VelocityCommand:
    """The latest valid (vx, vy, yaw rate), clipped to the trained ranges, zero when stale."""

    def __init__(self, ranges: Mapping[str, Sequence[float]], timeout: float = DEFAULT_TIMEOUT,
                 clock: Callable[[], float] = time.monotonic, topic: str = 'cmd_vel') -> None:
        """Take the trained ranges (contract ``task.command_ranges``).

        :raises ValueError: a range is missing or inverted, or the timeout is not > 0.
        """
        missing = [key for _, key in FIELDS if key not in ranges]
        if missing:
            raise ValueError(f'command_ranges lacks {missing}; expected {[k for _, k in FIELDS]}')
        self.low = np.array([float(ranges[k][0]) for _, k in FIELDS])
        self.high = np.array([float(ranges[k][1]) for _, k in FIELDS])
        if not (self.low <= self.high).all():
            raise ValueError(f'command_ranges inverted: low {self.low} high {self.high}')
        if not 0.0 < timeout < math.inf:
            raise ValueError(f'cmd_vel timeout must be finite and > 0, got {timeout}')
        self.timeout = timeout
        self.topic = topic
        self._clock = clock
        self._value = np.zeros(3)
        self._rx: Optional[float] = None
        self.rejected = 0
        self.clipped = 0

    def update(self, vx: float, vy: float, wz: float) -> str:
        """Take one Twist's (linear.x, linear.y, angular.z); return '' or what was wrong.

        Clipping is reported too (the command is still taken); a rejection zeroes it.
        """
        raw = np.array([vx, vy, wz], dtype=np.float64)
        bad = [f for (f, _), v in zip(FIELDS, raw) if not math.isfinite(v)]
        if bad:
            self.rejected += 1
            self._rx = None
            return (f'{self.topic}: {", ".join(bad)} not finite ({raw.tolist()}); expected '
                    'finite m/s and rad/s: command set to zero')
        value = np.minimum(np.maximum(raw, self.low), self.high)
        self._value = value
        self._rx = self._clock()
        out = self._out_of_range(raw)
        if out:
            self.clipped += 1
            return f'{self.topic}: {"; ".join(out)}: clipped to the trained range'
        return ''

    def _out_of_range(self, raw: np.ndarray) -> List[str]:
        return [f'{f} {v:g} outside [{lo:g}, {hi:g}]'
                for (f, _), v, lo, hi in zip(FIELDS, raw, self.low, self.high)
                if not lo <= v <= hi]

    def value(self) -> np.ndarray:
        """(vx, vy, yaw rate) to feed the policy now: zero if none valid within the timeout."""
        if self._rx is None or self._clock() - self._rx > self.timeout:
            return np.zeros(3)
        return self._value.copy()

    def live(self) -> bool:
        """Return True while the last valid command is within the timeout."""
        return self._rx is not None and self._clock() - self._rx <= self.timeout

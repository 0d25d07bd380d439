"""Base kicks for the sim: the push conditions of ``symphony stress``, through the real loop.

mujoco_sim_node's ``push_velocity`` adds a horizontal velocity of that size, in a random
heading, to the robot's base every ``push_interval_min``..``push_interval_max`` s of
simulated time, as the training randomisation and the in-process stress conditions do
(`symphony_ros.robot.randomize`). Recovering from a kick takes a quick answer, so the loop's
latency is part of what a push through ROS measures. Episode k draws its kicks from its own
seeded stream, so a run replays its kicks whatever the loop's timing did to its states.
"""

from __future__ import annotations

import math
import re
from typing import List, Optional, Tuple

import numpy as np

PUSH_LINE = re.compile(r'(\d+) base kicks of ([\d.]+) m/s')
"""How the sim's closing log line reports :meth:`Pushes.describe` (``symphony stress --ros``
reads it back)."""
STREAM = 0x5055534B
"""Second seed word of the kicks' streams ('PUSK'): never the stream of the reset noise."""


class Pushes:
    """Kicks of ``velocity`` m/s at intervals drawn from ``interval`` s, one stream per episode."""

    def __init__(self, velocity: float, interval: Tuple[float, float], seed: int) -> None:
        lo, hi = interval
        if not (math.isfinite(velocity) and velocity > 0):
            raise ValueError(f'push_velocity: expected a number > 0, got {velocity!r}')
        if not (0 < lo <= hi < math.inf):
            raise ValueError(f'push_interval_min, push_interval_max: expected 0 < min <= max, '
                             f'got {lo!r}, {hi!r}')
        self.velocity, self.interval, self.seed = float(velocity), (lo, hi), int(seed)
        self.kicks = 0
        """Kicks given over the run."""
        self.start(0)

    def start(self, episode: int, t0: float = 0.0) -> None:
        """Begin episode ``episode`` (0, 1, ...) at simulated time ``t0``."""
        self._rng = np.random.default_rng([self.seed, STREAM, episode])
        self._next = self._after(t0)
        self._t0 = t0
        self.given: List[Tuple[float, float]] = []
        """The episode's kicks: s since it began, bearing in rad from the robot's heading."""

    def due(self, t: float, yaw: float = 0.0) -> Optional[Tuple[float, float]]:
        """Return the kick (vx, vy) m/s due at simulated time ``t`` of the episode, or None.

        :param yaw: the robot's heading (rad), to record which way the kick pushes it.
        """
        if t < self._next:
            return None
        heading = float(self._rng.uniform(0.0, 2.0 * math.pi))
        self._next = self._after(t)
        self.kicks += 1
        self.given.append((round(t - self._t0, 4), math.remainder(heading - yaw, 2 * math.pi)))
        return self.velocity * math.cos(heading), self.velocity * math.sin(heading)

    def describe(self) -> str:
        """Say the run's kicks in the words :data:`PUSH_LINE` reads."""
        lo, hi = self.interval
        return f'{self.kicks} base kicks of {self.velocity:g} m/s (every {lo:g}-{hi:g} s)'

    def _after(self, t: float) -> float:
        lo, hi = self.interval
        return t + (lo if lo == hi else float(self._rng.uniform(lo, hi)))


__all__ = ['PUSH_LINE', 'Pushes']

"""Episode bookkeeping of the stand-in robot: per-step reward, return, length, falls.

Episodes end as Humanoid-v4's do: on a fall (base height out of the healthy range) or at
the time limit, so a return measured through ROS compares with the training evaluation's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Tuple

import numpy as np

from ..robot.reward import HumanoidReward, StepReward
from ..robot.state import RobotState


@dataclass(frozen=True)
class EpisodeResult:
    """One finished episode."""

    index: int
    ret: float
    """Sum of the per-step rewards."""
    length: int
    """Control steps."""
    fallen: bool
    """True when it ended on a fall, False at the time limit."""


class EpisodeTracker:
    """Accumulate the reward of consecutive states into episodes."""

    def __init__(self, reward: HumanoidReward, limit: int,
                 fallen: Optional[Callable[[], bool]] = None) -> None:
        """Track episodes of at most ``limit`` steps (0: no time limit).

        :param fallen: what ends an episode as a fall (the sim's own rule, which includes
            the robot file's tilt); None: the reward's base-height range.
        """
        self.reward, self.limit, self._fallen = reward, limit, fallen
        self.index = 0
        self._prev: Optional[RobotState] = None
        self._ret, self._len = 0.0, 0

    @property
    def steps(self) -> int:
        """Steps taken in the current episode."""
        return self._len

    def start(self, state: RobotState) -> None:
        """Begin an episode at ``state`` (after a reset)."""
        self._prev, self._ret, self._len = state, 0.0, 0

    def step(self, state: RobotState, torque: np.ndarray
             ) -> Tuple[StepReward, Optional[EpisodeResult]]:
        """Score the step into ``state`` under ``torque``; return the episode if it ended."""
        if self._prev is None:
            raise RuntimeError('EpisodeTracker.step before start')
        r = self.reward.step(self._prev, state, torque)
        self._prev = state
        self._ret += r.total
        self._len += 1
        fell = r.fallen if self._fallen is None else self._fallen()
        if not fell and (self.limit == 0 or self._len < self.limit):
            return r, None
        done = EpisodeResult(self.index, self._ret, self._len, fell)
        self.index += 1
        self._prev = None
        return r, done

"""The gait clock: a periodic phase the policy observes and the gait reward terms score.

One cycle of ``period`` seconds; foot i is down (stance) while its own phase, the clock's
shifted by i / n_feet, is below ``stance``, and swings for the rest of the cycle. Trained
and deployed policies count the same way, phase = (control ticks x control period / period)
mod 1, so the clock needs no sensor: a deployed policy counts from its first action, a
training episode from a tick drawn at reset (a deployed clock runs on through the resets of
the robot it drives, so training starts at every phase).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GaitClock:
    """A gait cycle of ``period`` seconds, each foot down for ``stance`` of it."""

    period: float
    """s per cycle (two steps of a biped)."""
    dt: float
    """s per control tick."""
    stance: float = 0.55
    """Share of the cycle a foot is expected down (> 0.5: both down around each step)."""

    def __post_init__(self) -> None:
        """Refuse a clock that cannot tick: a period or tick that is not positive."""
        if not (self.period > 0 and self.dt > 0 and 0 < self.stance < 1):
            raise ValueError(f'gait clock: expected period > 0, dt > 0 and 0 < stance < 1, '
                             f'got period {self.period}, dt {self.dt}, stance {self.stance}')

    @property
    def cycle_ticks(self) -> int:
        """Return the control ticks of one cycle (at least 1)."""
        return max(1, round(self.period / self.dt))

    def phase(self, ticks: int) -> float:
        """Return the phase in [0, 1) after ``ticks`` control ticks."""
        return (ticks * self.dt / self.period) % 1.0

    def observe(self, ticks: int, out: np.ndarray) -> np.ndarray:
        """Write (sin, cos) of 2 pi phase into ``out`` (the observation's gait_phase term)."""
        angle = 2.0 * math.pi * self.phase(ticks)
        out[0], out[1] = math.sin(angle), math.cos(angle)
        return out

    def _feet_phase(self, ticks: int, n_feet: int) -> np.ndarray:
        """Return each foot's own phase: the clock's, shifted by i / n_feet for foot i.

        Rounded to 1e-9 so that a phase on the stance boundary is on it whichever way it was
        summed: foot 1 at tick t and foot 0 half a cycle later are the same phase, and the
        mirror image of a step (feet swapped, clock half a cycle on) scores the same.
        """
        return np.round((self.phase(ticks) + np.arange(n_feet) / n_feet) % 1.0, 9) % 1.0

    def swing_lift(self, ticks: int, n_feet: int) -> np.ndarray:
        """Return sin(pi x swing progress) per foot: 0 on the ground, 1 at mid-swing."""
        own = self._feet_phase(ticks, n_feet)
        progress = (own - self.stance) / (1.0 - self.stance)
        return np.where(own < self.stance, 0.0, np.sin(np.pi * progress))

    def stance_feet(self, ticks: int, n_feet: int) -> np.ndarray:
        """Return which feet the gait wants down after ``ticks`` ticks (bool [n_feet])."""
        return self._feet_phase(ticks, n_feet) < self.stance


__all__ = ['GaitClock']

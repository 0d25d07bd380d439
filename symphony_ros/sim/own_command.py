"""The sim's own velocity command (``cmd_vel``): a fixed one, or drawn as training draws.

With ``cmd_vel random`` a velocity policy meets through the deploy graph the commands it met
in training and meets in ``symphony stress`` in process (`draw_command`: the standing and
turning shares, uniform ranges, a new command every ``resample_steps``), not the zero command
of a graph nobody steers. Episode k draws from its own seeded stream, so a run replays its
commands whatever the loop's timing did to its states.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from ..robot.velocity_commands import draw_command, draws_text
from ..robot.velocity_env import VelocityTask

STREAM = 0x434D4456
"""Second seed word of the commands' streams ('CMDV'): never the kicks' or the reset noise's."""


class OwnCommand:
    """The command the sim publishes on cmd_vel and scores against."""

    def __init__(self, task: VelocityTask, seed: int,
                 fixed: Optional[Tuple[float, float, float]] = None) -> None:
        """Hold ``fixed``, or draw from ``task``'s ranges and shares when it is None."""
        self.task, self.seed = task, int(seed)
        self.fixed = fixed is not None
        self.value = np.array(fixed if self.fixed else (0.0, 0.0, 0.0), dtype=np.float64)
        """vx m/s, vy m/s, yaw rate rad/s in force now."""
        self.draws = 0
        """Commands drawn over the run."""
        self._rng = np.random.default_rng([self.seed, STREAM, 0])

    def start(self, episode: int) -> None:
        """Begin episode ``episode`` (0, 1, ...): its first command."""
        if not self.fixed:
            self._rng = np.random.default_rng([self.seed, STREAM, episode])
            self._draw()

    def stepped(self, steps: int) -> None:
        """Take the episode's step count after a scored step; draw anew every resample_steps.

        The next state goes out with the new command, as training's next observation does.
        """
        if not self.fixed and steps and steps % self.task.resample_steps == 0:
            self._draw()

    def describe(self) -> str:
        """Say where the command comes from, for the sim's start-up line."""
        if self.fixed:
            vx, vy, wz = self.value
            return f'command {vx:g},{vy:g},{wz:g} on cmd_vel'
        return (f'commands drawn on cmd_vel every {self.task.resample_steps} steps from '
                f'{draws_text(self.task)} (seed {self.seed})')

    def _draw(self) -> None:
        self.value = draw_command(self.task, self._rng)
        self.draws += 1


__all__ = ['OwnCommand', 'STREAM']

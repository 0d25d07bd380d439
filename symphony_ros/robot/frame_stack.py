"""A policy input of the last few observations, newest first (``observation.history``).

One observation shows where the robot is, not what it is doing about it: how long the
command in flight has been acting, how the base is drifting after a kick. The last few
frames together show it. Every place that runs a policy keeps one `FrameStack` per episode
(the deploy loop, the stress episodes, a distillation's student), so the stacked vector a
policy met in training is the one it gets on the robot.
"""

from __future__ import annotations

import numpy as np


class FrameStack:
    """The last ``frames`` observations of ``dim`` values, newest first.

    After :meth:`reset` the next frame fills every slot: a robot that has only just started
    is taken to have been where it is now, which it can be, rather than at all-zero
    observations, which it cannot.
    """

    def __init__(self, frames: int, dim: int) -> None:
        """Hold ``frames`` (>= 1) observations of ``dim`` (>= 1) values each.

        :raises ValueError: a count below 1.
        """
        if int(frames) != frames or frames < 1 or int(dim) != dim or dim < 1:
            raise ValueError(f'observation history: expected frames >= 1 and dim >= 1, got '
                             f'{frames!r} and {dim!r}')
        self.frames, self.dim = int(frames), int(dim)
        self._stack = np.zeros(self.frames * self.dim)
        self._empty = True

    def reset(self) -> None:
        """Forget the frames: the next push starts an episode."""
        self._empty = True

    def push(self, frame: np.ndarray) -> np.ndarray:
        """Add ``frame`` as the newest; return the stacked input (a new float64 array).

        :raises ValueError: a frame of another size.
        """
        frame = np.asarray(frame, dtype=np.float64).reshape(-1)
        if frame.shape != (self.dim,):
            raise ValueError(f'observation history: expected a frame of {self.dim} values, '
                             f'got {frame.shape[0]}')
        if self._empty:
            self._stack[:] = np.tile(frame, self.frames)
            self._empty = False
        else:
            self._stack[self.dim:] = self._stack[:-self.dim].copy()
            self._stack[:self.dim] = frame
        return self._stack.copy()

    @property
    def state(self) -> np.ndarray:
        """Return a copy of what the next push builds on (empty after a reset)."""
        return np.zeros(0) if self._empty else self._stack.copy()

    @state.setter
    def state(self, value: np.ndarray) -> None:
        value = np.asarray(value, dtype=np.float64).reshape(-1)
        if value.size == 0:
            self._empty = True
            return
        if value.shape != self._stack.shape:
            raise ValueError(f'observation history: expected {self._stack.size} values, got '
                             f'{value.size}')
        self._stack[:], self._empty = value, False


__all__ = ['FrameStack']

"""The teacher's actions a delayed student must send: labels that look ahead by the delay.

A command sent at control step t with a delay of ``d`` physics steps (``k, m = divmod(d,
frame_skip)``) reaches the motors ``m`` physics steps into period t+k, holds for the rest of
it and for the first ``m`` physics steps of period t+k+1. A teacher acting without delay
would have commanded its action of period t+k, ``T[t+k]``, over the first stretch and
``T[t+k+1]`` over the second, so the student's label is their blend weighted by those physics
steps. The student sees only step t: it learns to predict the teacher ``d`` ahead, which the
observation's previous action (the command in flight) makes possible. Steps whose label
needs a teacher action after the episode's end carry no label.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np


def lookahead_labels(teacher: np.ndarray, delays: np.ndarray, frame_skip: int
                     ) -> Tuple[np.ndarray, np.ndarray]:
    """Return (labels, steps labelled) for one episode's teacher actions and delays.

    :param teacher: [n, act_dim] the teacher's action at each control step's state.
    :param delays: [n] the delay of each step's command, in physics steps (>= 0).
    :param frame_skip: physics steps per control step (>= 1).
    :returns: labels [len(index), act_dim] for the steps ``index`` (ascending) that have one.
    :raises ValueError: mismatched lengths, a negative delay or frame_skip < 1.
    """
    teacher = np.asarray(teacher, dtype=np.float64)
    delays = np.asarray(delays, dtype=np.int64).reshape(-1)
    if frame_skip < 1:
        raise ValueError(f'frame_skip: expected >= 1, got {frame_skip}')
    if teacher.ndim != 2 or len(delays) != len(teacher):
        raise ValueError(f'teacher actions {teacher.shape} and delays {delays.shape}: '
                         'expected [n, act_dim] and [n]')
    if len(delays) and delays.min() < 0:
        raise ValueError(f'delays: expected >= 0 physics steps, got {int(delays.min())}')
    n = len(teacher)
    k, m = np.divmod(delays, frame_skip)
    steps = np.arange(n)
    late = steps + k + (m > 0)
    index = steps[late < n]
    if not len(index):
        return np.zeros((0, teacher.shape[1])), index
    k, m = k[index], m[index]
    first = teacher[index + k]
    second = teacher[np.minimum(index + k + 1, n - 1)]
    w = (m / frame_skip)[:, None]
    return (1.0 - w) * first + w * second, index


__all__ = ['lookahead_labels']

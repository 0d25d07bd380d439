"""The velocity task's command-dependent reward terms, and where a command sits in a transition.

One definition of what the command changes in a step's reward (the tracking kernels, the
tracking errors, the classes walking / moving that switch the gait terms, and the error
past which those pay nothing), shared by
`VelocityReward` and by relabelling stored transitions with other commands
(`symphony_ros.core.relabel`): a relabelled transition must earn exactly what the env pays
for the same motion under the new command.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np

MOVING_SQ = 0.01
"""(m/s)^2 and (rad/s)^2: a command asks to walk above 0.1 m/s, to turn above 0.1 rad/s."""
COMMAND_TERMS = ('track_lin_vel', 'track_ang_vel', 'track_yaw_stride', 'lin_vel_error',
                 'ang_vel_error')
"""The reward terms whose value depends on the command (besides the classes' gait terms)."""
TRACKING_TERMS = COMMAND_TERMS[:3]
"""The kernel terms, exp(-error^2 / sigma): one error gives each width's value (`rewidth`)."""


def rewidth(values, before: float, after: float):
    """Return tracking term ``values`` (an array or tensor) scored at width ``after``.

    exp(-e^2 / before) ** (before / after) = exp(-e^2 / after), whatever the error e, so a
    stored term is re-scored exactly without its error.
    """
    return values ** (before / after)


def command_classes(cmd: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Return (walking, moving) of commands ``cmd`` (..., 3) = (vx, vy, yaw rate).

    Walking asks for a planar speed; moving walks or turns. The gait clock's terms want the
    feet down and the default pose unless moving, and air time counts only when walking.
    """
    walking = cmd[..., 0] ** 2 + cmd[..., 1] ** 2 > MOVING_SQ
    return walking, walking | (cmd[..., 2] ** 2 > MOVING_SQ)


def gait_freed(lin_sq: np.ndarray, free_error: float) -> np.ndarray:
    """Return where the gait terms pay nothing: a planar error past ``free_error``.

    :param lin_sq: squared planar velocity errors, (m/s)^2 (`tracking_errors`).
    :param free_error: m/s (`VelocityTask.gait_free_error`); 0: nowhere.
    """
    return (lin_sq > free_error ** 2) & (free_error > 0.0)


def tracking_errors(cmd: np.ndarray, lin_vel_xy: np.ndarray, yaw_rate: np.ndarray,
                    yaw_stride: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the squared errors of commands (..., 3) against velocities.

    ((m/s)^2 planar, (rad/s)^2 yaw rate, (rad/s)^2 stride yaw rate.)
    :param lin_vel_xy: (..., 2) base velocity in the base frame, m/s.
    :param yaw_rate: (...) base yaw rate, rad/s.
    :param yaw_stride: (...) base yaw rate averaged over the last gait cycle
        (`YawWindow`), rad/s.
    """
    lin = (cmd[..., 0] - lin_vel_xy[..., 0]) ** 2 + (cmd[..., 1] - lin_vel_xy[..., 1]) ** 2
    return lin, (cmd[..., 2] - yaw_rate) ** 2, (cmd[..., 2] - yaw_stride) ** 2


def command_terms(lin_sq: np.ndarray, yaw_sq: np.ndarray, stride_sq: np.ndarray,
                  sigma: float) -> Dict[str, np.ndarray]:
    """Return the unweighted `COMMAND_TERMS` of the squared errors of `tracking_errors`.

    :param sigma: the tracking kernels' width, exp(-error^2 / sigma).
    """
    return {'track_lin_vel': np.exp(-lin_sq / sigma), 'track_ang_vel': np.exp(-yaw_sq / sigma),
            'track_yaw_stride': np.exp(-stride_sq / sigma),
            'lin_vel_error': np.sqrt(lin_sq), 'ang_vel_error': np.sqrt(yaw_sq)}


class YawWindow:
    """The base's yaw rate averaged over the last gait cycle of an episode.

    A stepping base twists within every step (a G1 turning in place swings through about 1
    rad/s each way), so a kernel on the instantaneous yaw rate pays the swing, not the turn:
    its average over a cycle, where what repeats each cycle cancels, is what the robot turns.
    The window restarts only at reset, not when the command changes, so it is a function of
    the motion alone and a stored step scores exactly under any command (relabelling).
    Before any step it reads 0; then the mean of the steps so far, at most ``steps`` of them.
    """

    def __init__(self, steps: int) -> None:
        """Average over ``steps`` control steps (one gait cycle, `tracking.window_steps`)."""
        self._rates = np.zeros(max(1, int(steps)))
        self._count = 0
        self.mean = 0.0
        """rad/s: the average so far."""

    def reset(self) -> None:
        """Begin an episode: nothing turned yet."""
        self._rates[:] = 0.0
        self._count, self.mean = 0, 0.0

    def add(self, yaw_rate: float) -> float:
        """Take a control step's yaw rate (rad/s); return the new average."""
        n = len(self._rates)
        self._rates[self._count % n] = yaw_rate
        self._count += 1
        self.mean = float(self._rates[:min(self._count, n)].mean())
        return self.mean


@dataclass(frozen=True)
class CommandLayout:
    """Where a velocity task's transition holds its command and its measured velocity.

    The critic's view begins with the policy's observation, so the command sits at the same
    place in both; the velocity the reward measured is the next state's, in the critic's view
    (exact: sensor noise reaches only the actor's observation).
    """

    command: Tuple[int, int]
    """[start, stop) of the command in the observation and in the critic's view."""
    command_scale: Tuple[float, float, float]
    """The observation's factor on (vx, vy, yaw rate)."""
    lin_vel: int
    """Index of the base velocity's x in the critic's view (y follows), m/s unscaled."""
    yaw_rate: int
    """Index of the base yaw rate in the critic's view."""
    yaw_rate_scale: float
    """The observation's factor on that yaw rate."""
    yaw_stride: int
    """Index of the base yaw rate averaged over the last gait cycle (`YawWindow`) in the
    critic's view, rad/s unscaled."""
    ranges: Tuple[Tuple[float, float], Tuple[float, float], Tuple[float, float]]
    """The task's ranges of vx, vy and yaw rate, from which new commands are drawn."""
    sigma: float
    """The tracking kernels' width (`command_terms`)."""
    gait_free_error: float = 0.0
    """m/s past which a planar error frees the gait terms (`gait_freed`)."""

    def commands(self, view: np.ndarray) -> np.ndarray:
        """Return the (vx, vy, yaw rate) commands, shape (..., 3), of observations or views."""
        a, b = self.command
        return view[..., a:b].astype(np.float64) / np.asarray(self.command_scale)

    def reached(self, next_view: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return what the reward measured in critic views of the states reached.

        (planar base velocity (..., 2) m/s, yaw rate, stride yaw rate (...) rad/s): the
        velocity arguments of `tracking_errors`.
        """
        lin = next_view[..., self.lin_vel:self.lin_vel + 2].astype(np.float64)
        yaw = next_view[..., self.yaw_rate].astype(np.float64) / self.yaw_rate_scale
        return lin, yaw, next_view[..., self.yaw_stride].astype(np.float64)

    def terms(self, cmd: np.ndarray, next_view: np.ndarray) -> Dict[str, np.ndarray]:
        """Return the unweighted `COMMAND_TERMS` of commands ``cmd`` on the states reached."""
        return command_terms(*tracking_errors(cmd, *self.reached(next_view)), self.sigma)


__all__ = ['COMMAND_TERMS', 'CommandLayout', 'MOVING_SQ', 'TRACKING_TERMS', 'YawWindow',
           'command_classes', 'command_terms', 'gait_freed', 'rewidth', 'tracking_errors']

"""Episode bookkeeping of the stand-in robot: per-step reward, return, length, falls.

Episodes end as Humanoid-v4's do: on a fall (base height out of the healthy range) or at
the time limit, so a return measured through ROS compares with the training evaluation's.
The reward is the robot's task's: `HumanoidReward` for the humanoid, `VelocityScore` (the
velocity task's terms, which also need the action, the command and the live MuJoCo data)
for a velocity-task robot; both answer ``step(before, after, torque, ...)``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence, Tuple, Union

import numpy as np

from ..robot.description import RobotDescription
from ..robot.reward import HumanoidReward, RewardWeights, StepReward
from ..robot.state import RobotState
from ..robot.tracking import WindowTracking, window_steps
from ..robot.velocity_reward import VelocityScore, VelocityStep


def task_reward(robot: RobotDescription, healthy_z: Optional[Tuple[float, float]] = None
                ) -> Union[HumanoidReward, VelocityScore]:
    """Return the reward the robot is trained on, to score its episodes alike.

    The velocity task's for a pd_position robot (its one task), Humanoid-v4's otherwise.

    :param healthy_z: base heights of a standing robot (default: the reward's own).
    """
    if robot.action_kind == 'pd_position':
        return VelocityScore(robot, healthy_z=healthy_z)
    return HumanoidReward(robot, RewardWeights(healthy_z=healthy_z) if healthy_z
                          else RewardWeights())


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
    tracking: Optional[Tuple[float, float]] = None
    """Velocity task: RMS over its steps of the planar velocity error (m/s) and of the
    yaw-rate error (rad/s); None for other rewards."""
    kicks: Tuple[Tuple[float, float], ...] = ()
    """Base kicks given (``push_velocity``): s since the episode began, and the bearing in
    rad of the push from the robot's heading (0: forward, pi/2: to its left)."""
    stride_tracking: Optional[Tuple[float, float]] = None
    """Velocity task: the same errors of the velocity averaged over each gait cycle
    (`WindowTracking`, as ``symphony stress`` measures in process); None for other rewards
    and for an episode shorter than one cycle."""
    reached: Optional[Tuple[float, float, float]] = None
    """Velocity task: the mean measured (vx m/s, vy m/s, yaw rate rad/s) over its steps, base
    frame (what a policy held to one command did: ``symphony stress``'s held conditions);
    None for other rewards."""


EPISODE_LINE = re.compile(
    r'episode (\d+): return (-?[\d.]+|nan), (\d+) steps, (fall|time limit)')
"""The sim's log line of a finished episode (:func:`episode_line`): index, return, length and
how it ended; ``symphony stress --ros`` and the parity tests read episodes from it."""


TRACKING_PART = re.compile(r'tracking error RMS ([\d.]+) m/s, ([\d.]+) rad/s')
"""The RMS tracking errors a velocity robot's episode line adds (m/s, rad/s)."""
STRIDE_PART = re.compile(r'per stride ([\d.]+) m/s, ([\d.]+) rad/s')
"""The same over each gait cycle, when the episode lasted one (m/s, rad/s)."""
REACHED_PART = re.compile(r'reached \((-?[\d.]+), (-?[\d.]+), (-?[\d.]+)\)')
"""The mean (vx, vy, yaw rate) a velocity robot's episode line adds (m/s, m/s, rad/s)."""
KICK_PART = re.compile(r'([\d.]+) s at (-?\d+) deg')
"""One kick of the episode line's ``kicks:`` list: s since the episode began, bearing in
degrees from the robot's heading (``symphony stress --ros`` judges each from them)."""


def episode_line(ep: EpisodeResult) -> str:
    """Return the log line of a finished episode (what :data:`EPISODE_LINE` reads)."""
    tracking = ('' if ep.tracking is None else
                f', tracking error RMS {ep.tracking[0]:.3f} m/s, {ep.tracking[1]:.3f} rad/s')
    if ep.stride_tracking is not None:
        tracking += (f', per stride {ep.stride_tracking[0]:.3f} m/s, '
                     f'{ep.stride_tracking[1]:.3f} rad/s')
    if ep.reached is not None:
        tracking += ', reached ({:.3f}, {:.3f}, {:.3f})'.format(*ep.reached)
    kicks = ('' if not ep.kicks else '; kicks: ' + ', '.join(
        f'{t:.2f} s at {math.degrees(b):.0f} deg' for t, b in ep.kicks))
    return (f'episode {ep.index}: return {ep.ret:.1f}, {ep.length} steps, '
            f'{"fall" if ep.fallen else "time limit"}{tracking}{kicks}')


class EpisodeTracker:
    """Accumulate the reward of consecutive states into episodes."""

    def __init__(self, reward: Union[HumanoidReward, VelocityScore], limit: int,
                 fallen: Optional[Callable[[], bool]] = None) -> None:
        """Track episodes of at most ``limit`` steps (0: no time limit).

        :param fallen: what ends an episode as a fall (the sim's own rule, which includes
            the robot file's tilt); None: the reward's base-height range.
        """
        self.reward, self.limit, self._fallen = reward, limit, fallen
        self.index = 0
        self._prev: Optional[RobotState] = None
        self._ret, self._len = 0.0, 0
        self._sq = np.zeros(2)
        self._moved = np.zeros(3)
        task = getattr(reward, 'task', None)
        self._stride_steps = task and window_steps(task.gait_period, reward.robot.control_dt)
        self._stride: Optional[WindowTracking] = None

    @property
    def steps(self) -> int:
        """Steps taken in the current episode."""
        return self._len

    @property
    def partial_return(self) -> float:
        """Sum of the rewards of the current, unfinished episode so far."""
        return self._ret

    def start(self, state: RobotState, **live: Any) -> None:
        """Begin an episode at ``state`` (after a reset); ``live``: the reward's extras."""
        self._prev, self._ret, self._len = state, 0.0, 0
        self._sq[:] = 0.0
        self._moved[:] = 0.0
        self._stride = WindowTracking(self._stride_steps) if self._stride_steps else None
        if isinstance(self.reward, VelocityScore):
            self.reward.start(state, **live)

    def step(self, state: RobotState, torque: np.ndarray, **inputs: Any
             ) -> Tuple[Union[StepReward, VelocityStep], Optional[EpisodeResult]]:
        """Score the step into ``state`` under ``torque``; return the episode if it ended.

        ``inputs``: what the reward takes beyond states and torque (`VelocityScore.step`:
        action, command, data).
        """
        if self._prev is None:
            raise RuntimeError('EpisodeTracker.step before start')
        r = self.reward.step(self._prev, state, torque, **inputs)
        self._prev = state
        self._ret += r.total
        self._len += 1
        velocity = isinstance(r, VelocityStep)
        if velocity:
            self._sq += (r.lin_vel_error ** 2, r.yaw_rate_error ** 2)
            self._moved += r.velocity
            if self._stride is not None:
                self._stride.add(r.command, r.velocity)
        fell = r.fallen if self._fallen is None else self._fallen()
        if not fell and (self.limit == 0 or self._len < self.limit):
            return r, None
        done = EpisodeResult(self.index, self._ret, self._len, fell,
                             tuple(np.sqrt(self._sq / self._len).tolist()) if velocity
                             else None, stride_tracking=self._stride_result(),
                             reached=tuple((self._moved / self._len).tolist()) if velocity
                             else None)
        self.index += 1
        self._prev = None
        return r, done

    def _stride_result(self) -> Optional[Tuple[float, float]]:
        s = self._stride
        return None if s is None or s.lin_rms is None else (s.lin_rms, s.yaw_rms)


def run_summary(ticks: int, episodes: Sequence[EpisodeResult], tracker: EpisodeTracker,
                timed_ticks: int = 0, altered_ticks: int = 0) -> str:
    """Return the sim's closing line: steps, finished episodes, the unfinished one's return.

    A run stopped by ``max_ticks`` usually ends inside an episode; its return so far is a
    figure too (a mean over no episodes is not). Velocity-task episodes add their mean
    tracking error. ``timed_ticks``: lockstep ticks whose answer the gate took by timing
    (:class:`symphony_ros.sim.lockstep.LockstepGate`), which make the run not reproducible;
    ``altered_ticks``: those that stepped on the command as a watchdog safety rule altered it.
    """
    n = len(episodes)
    parts = [f'{ticks} steps', f'{n} episodes, ' + (
        f'mean return {np.mean([e.ret for e in episodes]):.1f}' if n
        else 'no complete episode')]
    tracked = [e.tracking for e in episodes if e.tracking is not None]
    if tracked:
        lin, yaw = np.mean(tracked, axis=0)
        parts.append(f'mean tracking error RMS {lin:.3f} m/s, {yaw:.3f} rad/s')
    if tracker.steps:
        parts.append(f'episode {tracker.index} unfinished after {tracker.steps} steps: return '
                     f'{tracker.partial_return:.1f}')
    if timed_ticks:
        parts.append(f'{timed_ticks} lockstep ticks stepped on a watchdog output taken by '
                     'timing, not matched to the command (not reproducible run to run)')
    if altered_ticks:
        parts.append(f'{altered_ticks} lockstep ticks stepped on the command as a watchdog '
                     'safety rule altered it (soft joint limits)')
    return 'done: ' + ', '.join(parts)

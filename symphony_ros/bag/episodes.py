"""Split a recording into episodes and score them with the sim's reward.

Scoring is the sim's own: `EpisodeTracker` over the robot's task reward (`task_reward`:
Humanoid-v4's, or the velocity task's terms, fed the policy's action and the cmd_vel in
force), fed the recorded states and the torque the robot received (the hardware command),
so an episode ends where the sim ended it, on a fall or at the time limit. A recording may
also jump: the sim resets the robot (or a real robot is picked up and set down), or the data
has a hole; such a jump ends the episode too, found from the pose (:func:`discontinuity`).
A state repeated exactly is no step (:func:`held`). After a fall the next episode starts at
the first healthy state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Union

import numpy as np

from ..robot.reward import HumanoidReward, StepReward
from ..robot.rotations import rotate_to_world
from ..robot.state import joint_jump
from ..robot.velocity_reward import VelocityScore, VelocityStep
from ..sim.episodes import EpisodeTracker
from .timeline import StateSample, Timeline

AT_REST = 0.1
"""rad/s and m/s: below this every joint and the base count as still (a reset robot moves
by its reset noise, 0.01)."""
POSITION_JUMP = 0.1
"""m: base displacement in one step beyond what its velocity explains."""
JOINT_JUMP = 1.0
"""rad: the same for any joint."""
MAX_GAP = 0.5
"""s: states further apart than this do not make a step (data missing, not a control tick)."""
END_REASONS = ('fall', 'time_limit', 'reset', 'gap', 'hold', 'end_of_bag')


@dataclass
class Episode:
    """One episode of the recording: states ``first..last`` (indices into the timeline)."""

    index: int
    first: int
    last: int
    end: str
    """fall | time_limit (the tracker's rule), reset (pose jump: the terminal state is not
    in the recording), gap (no data), hold (the state stopped changing) or end_of_bag."""
    steps: List[Union[StepReward, VelocityStep]] = field(default_factory=list)
    live_return: Optional[float] = None
    """The sim's /symphony/sim/episode_return for it, when recorded."""
    partial_start: bool = False
    """It begins with the recording, the robot already moving: its start is not recorded."""

    @property
    def length(self) -> int:
        """Control steps scored."""
        return len(self.steps)

    @property
    def ret(self) -> float:
        """Sum of the recomputed per-step rewards."""
        return float(sum(s.total for s in self.steps))

    @property
    def fallen(self) -> bool:
        """True when the recording shows the fall that ended it."""
        return self.end == 'fall'

    @property
    def complete(self) -> bool:
        """Recorded from start to the tracker's end, so it compares with a live evaluation."""
        return self.end in ('fall', 'time_limit') and not self.partial_start


def discontinuity(a: StateSample, b: StateSample, dt: float) -> Optional[str]:
    """Why ``a`` -> ``b`` is no control step ('gap', 'hold' or 'reset'), or None when it is."""
    gap = (b.stamp_ns - a.stamp_ns) * 1e-9
    if gap <= 0 or gap > MAX_GAP:
        return 'gap'
    if held(a, b):
        return 'hold'
    sa, sb = a.state, b.state
    predicted = sa.base_position + rotate_to_world(sa.base_orientation, sa.base_lin_vel) * gap
    if np.linalg.norm(sb.base_position - predicted) > POSITION_JUMP:
        return 'reset'
    if joint_jump(sa.joint_positions, sa.joint_velocities, sb.joint_positions, gap) > JOINT_JUMP:
        return 'reset'
    return None


def held(a: StateSample, b: StateSample) -> bool:
    """Return True when ``b`` repeats ``a``'s state exactly: no control step between them.

    The sim holds the robot this way until the watchdog is ACTIVE (a gantry: the state
    keeps flowing with fresh stamps); on hardware it is a driver republishing a stale
    state, since measured positions and velocities never repeat to the last bit.
    """
    sa, sb = a.state, b.state
    return bool(np.array_equal(sa.joint_positions, sb.joint_positions)
                and np.array_equal(sa.joint_velocities, sb.joint_velocities)
                and np.array_equal(sa.base_position, sb.base_position))


def moving(sample: StateSample) -> bool:
    """Return True unless the robot is at rest (as at a reset) in ``sample``."""
    s = sample.state
    return bool(np.max(np.abs(s.joint_velocities)) > AT_REST
                or np.max(np.abs(s.base_lin_vel)) > AT_REST)


def split_episodes(tl: Timeline, reward: Union[HumanoidReward, VelocityScore],
                   limit: int) -> List[Episode]:
    """Score every step between consecutive odometry-carrying states into episodes.

    :param limit: time limit in steps (0: none), as the sim's ``episode_steps``.
    """
    dt = tl.robot.control_dt
    states = tl.states
    tracker = EpisodeTracker(reward, limit)
    episodes: List[Episode] = []
    cur: Optional[Episode] = None
    resume = 0
    zero = np.zeros(tl.robot.n_joints)
    velocity = isinstance(reward, VelocityScore)
    if velocity:
        # The step from state i is scored with the action that answered state i and the
        # command in force when the next state was measured.
        answer = {c.state_index: c.action for c in tl.commands if c.state_index is not None}
        commands = tl.velocity_commands(np.array([s.log_ns for s in states], np.int64))

    def close(last: int, end: str) -> None:
        nonlocal cur
        if cur is not None and cur.steps:
            cur.last, cur.end = last, end
            cur.index = len(episodes)
            episodes.append(cur)
        cur = None

    for i in range(len(states) - 1):
        a, b = states[i], states[i + 1]
        if not (a.has_odom and b.has_odom):
            close(i, 'gap')
            continue
        if cur is None:
            if i < resume or reward.fallen(a.state):
                continue
            cur = Episode(0, i, i, 'end_of_bag', partial_start=not episodes and moving(a))
            tracker.start(a.state)
        jump = discontinuity(a, b, dt)
        if jump:
            close(i, jump)
            continue
        torque = tl.applied_torque(i)
        torque = zero if torque is None else torque
        if velocity:
            step, done = tracker.step(b.state, torque, action=answer.get(i),
                                      command=commands[i + 1])
        else:
            step, done = tracker.step(b.state, torque)
        cur.steps.append(step)
        if done is not None:
            close(i + 1, 'fall' if done.fallen else 'time_limit')
            resume = i + 2      # the sim resets after the terminal state
    close(len(states) - 1, 'end_of_bag')
    _attach_live_returns(tl, episodes)
    return episodes


def _attach_live_returns(tl: Timeline, episodes: List[Episode]) -> None:
    """Give each ending episode the sim's episode_return message received nearest its end.

    The sim publishes it right after the step that ended the episode, so within a control
    period or two of the last recorded state (1 s leaves room for a loaded machine).
    """
    free = list(tl.returns)
    for ep in episodes:
        if ep.end == 'end_of_bag' or not free:
            continue
        end_log = tl.states[ep.last].log_ns
        k = int(np.argmin([abs(log - end_log) for log, _ in free]))
        if abs(free[k][0] - end_log) < 1e9:
            ep.live_return = free.pop(k)[1]

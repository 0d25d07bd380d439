"""A recording as the control loop saw it: robot states, policy commands, applied torques.

States are rebuilt from /joint_states with the /odom and /imu/data of the same stamp (the
sim and most state estimators stamp one tick's messages alike), else the newest one stamped
before it. Repeats of a stamp (a sim holding its robot while the watchdog arms) are one
state. Log times are the recorder's receive times.

A pd_position policy commands joint targets: its action is recovered from them
(:meth:`PDLaw.action`) and the torque it asked for is the PD law's at the state it answered;
the torque that moved the robot is the PD's at each recorded state under the targets the
robot had (the checked ones on the position controller's topic, else the policy's), unless
the watchdog's torques were recorded.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..deploy.velocity_command import VelocityCommand
from ..robot.description import RobotDescription
from ..robot.msg_fields import (imu_fields, joint_efforts, joint_state_fields,
                                odometry_fields, stamp_ns)
from ..robot.pd import PDLaw
from ..robot.state import JointStateMapper, RobotState
from ..sim.lockstep import passed_through

MATCH_WINDOW = 0.1
"""s: an odometry or IMU message stamped up to this long before a joint state still counts
as its (for robots whose drivers stamp each topic separately)."""
STALE_TORQUE = 0.1
"""s: a hardware command older than this when a state arrives was not what moved the robot
(the sim applies zero torque after its command_timeout)."""
WIDE_TICKS = 10
"""States either side of a step searched for its exact output when the nearest hold none."""


@dataclass
class StateSample:
    """One robot state of the recording."""

    stamp_ns: int
    log_ns: int
    """When the recorder first received its /joint_states."""
    state: RobotState
    has_odom: bool
    has_imu: bool


@dataclass
class Command:
    """One /symphony/command: the policy's torque (or joint targets) for one tick."""

    log_ns: int
    stamp_ns: int
    torque: np.ndarray
    """N*m, robot joint order (pd_position: the PD's torque at the state it answered)."""
    action: np.ndarray
    """The clipped policy action: torque / gear, or recovered from the joint targets."""
    target: Optional[np.ndarray] = None
    """rad joint targets of a pd_position policy (None for a torque policy)."""
    state_index: Optional[int] = None
    """Index into ``Timeline.states`` of the state it answered (None: none recorded)."""
    state_log_ns: Optional[int] = None
    """Receive time of the /joint_states message it answered."""


@dataclass
class Timeline:
    """Everything the metrics read, in arrays and lists, times in ns."""

    robot: RobotDescription
    states: List[StateSample] = field(default_factory=list)
    commands: List[Command] = field(default_factory=list)
    hardware_log: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    hardware: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    watchdog: List[Tuple[int, str]] = field(default_factory=list)
    diagnostics: List[Tuple[int, str, Dict[str, str]]] = field(default_factory=list)
    rewards: List[Tuple[int, float]] = field(default_factory=list)
    returns: List[Tuple[int, float]] = field(default_factory=list)
    cmd_vel: List[Tuple[int, np.ndarray]] = field(default_factory=list)
    """(log ns, (vx, vy, yaw rate)) of each cmd_vel message, as sent (unclipped)."""
    targets_log: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    targets: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    """pd_position: the joint targets the robot received (position controller's topic, else
    the policy's), with their log times; the PD's torque at a state follows from them."""
    warnings: List[str] = field(default_factory=list)
    start_ns: int = 0
    """Earliest log time of the bag's read topics (report times are relative to it)."""
    inferred: int = 0
    """Lockstep steps scored with the command as the watchdog passes it on, its output not
    being in the recording (see :meth:`applied_torque`)."""
    _by_stamp: Optional[Dict[int, 'Command']] = field(default=None, repr=False)

    @functools.cached_property
    def pd_law(self) -> PDLaw:
        """The robot's PD law (pd_position robots): made once, used at every state."""
        return PDLaw(self.robot)

    def applied_torque(self, i: int) -> Optional[np.ndarray]:
        """Return the hardware command that moved the robot from state ``i`` to ``i + 1``.

        None if unknown (zero applied). A lockstep sim (its policy stamps each command with
        the state it answers) steps on the watchdog's answer: the command as the watchdog
        passes it on (:func:`symphony_ros.sim.lockstep.passed_through`), or as the soft-limit
        cut altered it (joints zeroed). The watchdog's output carries no stamp and the
        recorder may receive it and the next state in either order, so the recording is
        searched near the step for those values. Found neither while the watchdog reported
        ACTIVE, the recorder missed the output (a recorder that falls behind can lose some):
        the command as passed on is the torque, counted in :attr:`inferred`. Otherwise (a
        timer-driven policy, a FAULT's safe output, a pd_position robot) the torque in force
        when state ``i + 1`` arrived, which can be a neighbour's.
        """
        b = self.states[i + 1]
        newest = self._torque_at(b)
        command = self._answers().get(self.states[i].stamp_ns)
        if command is None or self.robot.action_kind != 'torque':
            return newest
        want = passed_through(command.torque, self.robot.effort_limits)
        near = self._outputs_near(i, 1)
        for out in near:
            if np.array_equal(out, want):
                return out
        kept = want != 0.0
        for out in near:
            # The soft-limit cut zeroes joints pushing past a limit and keeps the others.
            if np.all((out == want) | (out == 0.0)) and np.any((out == want) & kept):
                return out
        # A recorder behind on its queues logs each topic's backlog in turn, so an output
        # can be logged ticks away from its state; the exact values still identify it.
        if any(np.array_equal(out, want) for out in self._outputs_near(i, WIDE_TICKS)):
            return want
        if self._watchdog_active(b.log_ns):
            self.inferred += 1
            return want
        return newest

    def _outputs_near(self, i: int, k: int) -> np.ndarray:
        """Return the outputs logged from state ``i - k`` up to state ``i + 1 + k``."""
        lo = self.states[i - k].log_ns if i >= k else -1
        hi = (self.states[i + 1 + k].log_ns if i + 1 + k < len(self.states)
              else self.states[-1].log_ns + int(STALE_TORQUE * 1e9))
        first, last = np.searchsorted(self.hardware_log, [lo, hi], side='right')
        return self.hardware[int(first):int(last)]

    def _watchdog_active(self, log_ns: int) -> bool:
        """Whether the watchdog's last recorded state before ``log_ns`` is ACTIVE."""
        texts = [text for log, text in self.watchdog if log <= log_ns]
        return bool(texts) and texts[-1].startswith('ACTIVE')

    def _answers(self) -> Dict[int, 'Command']:
        """Stamp -> the last policy command stamped with it (lockstep stamps the state's)."""
        if self._by_stamp is None:
            self._by_stamp = {c.stamp_ns: c for c in self.commands}
        return self._by_stamp

    def torque_before(self, log_ns: int) -> Optional[np.ndarray]:
        """Return the last hardware command received before ``log_ns`` if fresh, else None."""
        i = _last_fresh(self.hardware_log, log_ns)
        return None if i is None else self.hardware[i]

    def _torque_at(self, sample: StateSample) -> Optional[np.ndarray]:
        """Return the torque in force when ``sample`` arrived (N*m), None if unknown.

        A torque hardware command when recorded; for a pd_position robot without one, the
        PD law's torque at ``sample`` under the targets in force (the last physics step's).
        """
        if len(self.hardware_log) or not len(self.targets_log):
            return self.torque_before(sample.log_ns)
        i = _last_fresh(self.targets_log, sample.log_ns)
        if i is None:
            return None
        s = sample.state
        return self.pd_law.torque(self.targets[i], s.joint_positions, s.joint_velocities)

    def velocity_commands(self, log_ns: np.ndarray) -> np.ndarray:
        """[len(log_ns), 3] the velocity command in force at each (increasing) log time.

        policy_node's rules (`VelocityCommand`, the task's ranges): clipped, zero when none
        came within its timeout or the last was not finite.
        """
        from ..robot.velocity_env import VelocityTask
        now = [0]
        cmd = VelocityCommand(VelocityTask.for_robot(self.robot).command_ranges(),
                              clock=lambda: now[0] * 1e-9)
        out, k = np.zeros((len(log_ns), 3)), 0
        for j, t in enumerate(log_ns):
            while k < len(self.cmd_vel) and self.cmd_vel[k][0] <= t:
                now[0] = self.cmd_vel[k][0]
                cmd.update(*self.cmd_vel[k][1])
                k += 1
            now[0] = int(t)
            out[j] = cmd.value()
        return out


def _last_fresh(logs: np.ndarray, log_ns: int) -> Optional[int]:
    """Index of the last log before ``log_ns`` if within STALE_TORQUE of it, else None."""
    i = int(np.searchsorted(logs, log_ns, side='left')) - 1
    if i < 0 or log_ns - logs[i] > STALE_TORQUE * 1e9:
        return None
    return i


def _nearest_before(stamps: np.ndarray, stamp: int, window_ns: int) -> Optional[int]:
    i = int(np.searchsorted(stamps, stamp, side='right')) - 1
    if i < 0 or stamp - stamps[i] > window_ns:
        return None
    return i


class _Keyed:
    """Messages of one topic by stamp: exact match first, else the newest stamped before."""

    def __init__(self, items: List[Tuple[int, Any]]) -> None:
        by_stamp: Dict[int, Any] = {}
        for stamp, value in items:
            by_stamp[stamp] = value     # the last one received wins a repeated stamp
        self.exact = by_stamp
        self.stamps = np.array(sorted(by_stamp), dtype=np.int64)

    def get(self, stamp: int, window_ns: int) -> Optional[Any]:
        if stamp in self.exact:
            return self.exact[stamp]
        i = _nearest_before(self.stamps, stamp, window_ns)
        return None if i is None else self.exact[int(self.stamps[i])]


def _convert(items, convert, topic: str, warnings: List[str]) -> List[Tuple[int, int, Any]]:
    """(log, stamp, convert(msg)) for each message; counts and names the ones that fail."""
    out, bad = [], []
    for log_ns, msg in items:
        try:
            out.append((log_ns, stamp_ns(msg.header) if hasattr(msg, 'header') else 0,
                        convert(msg)))
        except ValueError as exc:
            bad.append(str(exc))
    if bad:
        warnings.append(f'{topic}: skipped {len(bad)} of {len(items)} messages that do not '
                        f'convert (first: {bad[0]})')
    return out


def build_timeline(robot: RobotDescription, msgs: Dict[str, List[Tuple[int, Any]]],
                   names: Dict[str, str]) -> Timeline:
    """Turn deserialized messages (``{topic: [(log ns, msg)]}``) into a :class:`Timeline`.

    :param names: role -> topic name (see :func:`symphony_ros.bag.topics.resolve`).
    """
    tl = Timeline(robot)
    got = {role: msgs.get(topic, []) for role, topic in names.items()}
    logs = [m[0] for items in got.values() for m in items[:1]]
    tl.start_ns = min(logs) if logs else 0
    mapper = JointStateMapper(robot, ignore_unknown=True)
    js_logs = _add_states(tl, got, names, mapper)
    _add_commands(tl, got, names, mapper, js_logs)
    _add_hardware(tl, got['hardware'], names['hardware'])
    tl.watchdog = [(log, str(m.data)) for log, m in got['watchdog']]
    for log_ns, arr in got['diagnostics']:
        for status in arr.status:
            tl.diagnostics.append((log_ns, str(status.name),
                                   {str(kv.key): str(kv.value) for kv in status.values}))
    tl.rewards = [(log, float(m.data)) for log, m in got['reward']]
    tl.returns = [(log, float(m.data)) for log, m in got['episode_return']]
    tl.cmd_vel = [(log, np.array([m.linear.x, m.linear.y, m.angular.z], dtype=np.float64))
                  for log, m in got.get('cmd_vel', [])]
    if robot.action_kind == 'pd_position':
        _add_targets(tl, got.get('position_hardware', []), names.get('position_hardware', ''))
    return tl


def _add_targets(tl: Timeline, items: List[Tuple[int, Any]], topic: str) -> None:
    """Set the targets the robot received: its position controller's, else the policy's."""
    n = tl.robot.n_joints
    good = [(log, np.asarray(m.data, dtype=np.float64)) for log, m in items]
    good = [(log, d) for log, d in good if d.shape == (n,)]
    if len(good) < len(items):
        tl.warnings.append(f'{topic}: skipped {len(items) - len(good)} of {len(items)} '
                           f'targets without {n} values (robot {tl.robot.name!r})')
    if not good:
        good = [(c.log_ns, c.target) for c in tl.commands if c.target is not None]
    tl.targets_log = np.array([x[0] for x in good], dtype=np.int64)
    tl.targets = np.array([x[1] for x in good]) if good else np.zeros((0, n))


def _add_states(tl: Timeline, got: Dict[str, List[Tuple[int, Any]]], names: Dict[str, str],
                mapper: JointStateMapper) -> Dict[int, List[int]]:
    """Add one state per joint_states stamp, with odometry and IMU of that stamp.

    :returns: stamp -> the log times of every joint_states message with it.
    """
    w, window = tl.warnings, int(MATCH_WINDOW * 1e9)
    odom = _Keyed([(s, v) for _, s, v in _convert(got['odom'], odometry_fields,
                                                  names['odom'], w)])
    imu = _Keyed([(s, v) for _, s, v in _convert(got['imu'], imu_fields, names['imu'], w)])
    joints = _convert(got['joint_states'], lambda m: joint_state_fields(mapper, m),
                      names['joint_states'], w)
    # One state per stamp: the fields of the last message with it, the log of the first.
    first_log: Dict[int, int] = {}
    fields: Dict[int, Dict[str, Any]] = {}
    js_logs: Dict[int, List[int]] = {}
    for log_ns, stamp, f in joints:
        first_log.setdefault(stamp, log_ns)
        fields[stamp] = f
        js_logs.setdefault(stamp, []).append(log_ns)
    for stamp in sorted(fields):
        state = RobotState(stamp=stamp * 1e-9, **fields[stamp])
        o, i = odom.get(stamp, window), imu.get(stamp, window)
        if o is not None:
            state = state.with_odometry(o)
        if i is not None:
            state = state.with_imu(i)
        tl.states.append(StateSample(stamp, first_log[stamp], state, o is not None,
                                     i is not None))
    return js_logs


def _add_commands(tl: Timeline, got: Dict[str, List[Tuple[int, Any]]], names: Dict[str, str],
                  mapper: JointStateMapper, js_logs: Dict[int, List[int]]) -> None:
    """Add the policy's commands, each paired with the state it answered."""
    index = {s.stamp_ns: k for k, s in enumerate(tl.states)}
    all_js = sorted((log, stamp) for stamp, ls in js_logs.items() for log in ls)
    js_log_arr = np.array([x[0] for x in all_js], dtype=np.int64)
    law = tl.pd_law if tl.robot.action_kind == 'pd_position' else None
    field = 'effort' if law is None else 'position'
    for log_ns, stamp, value in _convert(got['command'],
                                         lambda m: joint_efforts(mapper, m, field),
                                         names['command'], tl.warnings):
        if law is None:
            cmd = Command(log_ns, stamp, value, value / tl.robot.gear)
        else:
            cmd = Command(log_ns, stamp, np.zeros_like(value), law.action(value), value)
        if stamp in index:
            # Answered that exact state (lockstep stamps the command with it): pair it with
            # the latest receipt of that state before the command.
            cmd.state_index = index[stamp]
            before = [x for x in js_logs[stamp] if x <= log_ns]
            cmd.state_log_ns = before[-1] if before else js_logs[stamp][0]
        elif len(js_log_arr):
            # Timer mode: the policy acted on the newest state it had received.
            j = int(np.searchsorted(js_log_arr, log_ns, side='right')) - 1
            if j >= 0:
                cmd.state_log_ns = int(js_log_arr[j])
                cmd.state_index = index.get(all_js[j][1])
        if law is not None and cmd.state_index is not None:
            s = tl.states[cmd.state_index].state
            cmd.torque = law.torque(value, s.joint_positions, s.joint_velocities)
        tl.commands.append(cmd)
    tl.commands.sort(key=lambda c: c.log_ns)


def _add_hardware(tl: Timeline, items: List[Tuple[int, Any]], topic: str) -> None:
    """Add the hardware commands with one value per joint (others skipped, with a warning)."""
    robot = tl.robot
    hw = [(log, np.asarray(m.data, dtype=np.float64)) for log, m in items]
    good = [(log, d) for log, d in hw if d.shape == (robot.n_joints,)]
    if len(good) < len(hw):
        tl.warnings.append(f'{topic}: skipped {len(hw) - len(good)} of {len(hw)} commands '
                           f'without {robot.n_joints} values (robot {robot.name!r})')
    tl.hardware_log = np.array([x[0] for x in good], dtype=np.int64)
    tl.hardware = (np.array([x[1] for x in good]) if good
                   else np.zeros((0, robot.n_joints)))

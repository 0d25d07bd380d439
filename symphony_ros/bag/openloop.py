"""Run a policy open-loop on recorded states, with the deploy side's own control-tick code.

`PolicyLoop` (the policy node's loop: contract checks, observation builder, previous action,
torque = gear * clip(action), or joint targets for a pd_position policy) is fed the states
the recorded policy answered, in the order it answered them, and a velocity-tracking policy
the cmd_vel in force when the recorded command went out (policy_node's clipping and
timeout). For the recorded policy this reproduces its commands (a check that the
observations were rebuilt right); for a candidate it says what it would have commanded. A
pd_position policy's torque is the PD law's at the state it answered (the first physics
step's), as the recorded commands' are. A policy with a gait clock gets the clock tick that
best reproduces the first recorded commands (a recording does not carry it).

The recorded policy may have had a cmd_vel the recorder logged only after that policy's
command (a recorder behind on its queues logs each topic's backlog in turn); a tick that the
cmd_vel in force by log time does not reproduce is tried with the next one logged, and takes
it if that reproduces. Else the difference would enter the previous action and every tick
after it.

Where the sim reset its robot between two answered states (`episodes.discontinuity`), the
loop starts afresh before the later one, as policy_node does when the sim asks it at every
reset: no previous action, the gait clock at 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

from ..deploy.policy_loop import PolicyLoop
from ..deploy.state_inputs import OncePerState
from ..robot.description import RobotDescription
from ..robot.pd import PDLaw
from ..robot.state import joint_jump
from .episodes import JOINT_JUMP, discontinuity
from .timeline import Command, Timeline

REPRODUCED = 1e-5
"""An action within this of the recorded one (every joint) reproduces it: float32 inference
on float64 observations rebuilt from the same message values."""


@dataclass
class OpenLoopRun:
    """One policy's actions on the recorded ticks."""

    path: str
    rows: np.ndarray
    """Indices into ``Timeline.commands`` of the ticks it acted on."""
    actions: np.ndarray
    """[ticks, joints] clipped actions (torque / gear, or recovered from joint targets)."""
    torques: np.ndarray
    """[ticks, joints] N*m."""
    skipped: int
    """Ticks whose state lacked what the observation needs."""
    first_error: str = ''


def run_open_loop(path: str, robot: RobotDescription, tl: Timeline,
                  recorded: bool = False) -> OpenLoopRun:
    """Act on the state of every recorded command; skip the ones without a full state.

    :param recorded: ``path`` is the recorded policy: a tick may take the next cmd_vel
        logged when that, not the one in force by log time, reproduces it.
    :raises DeployError, PolicyError: the policy cannot drive this robot (joint list,
        control period, model, observation spec), with a message naming the file.
    """
    loop = PolicyLoop(path, robot)
    choices = _command_choices(tl, loop.needs_command, recorded)
    start = 0 if loop.clock is None else _clock_start(loop, tl, choices)
    return _replay(loop, tl, choices, start)


def _command_choices(tl: Timeline, needs_command: bool, recorded: bool) -> list:
    """Return per recorded command the velocity commands to try, the one in force first."""
    if not needs_command:
        return [(None,)] * len(tl.commands)
    logs = np.array([c.log_ns for c in tl.commands], np.int64)
    now = tl.velocity_commands(logs)
    if not recorded or not tl.cmd_vel:
        return [(c,) for c in now]
    cmd_logs = np.array([t for t, _ in tl.cmd_vel], np.int64)
    after = np.searchsorted(cmd_logs, logs, side='right')
    # The in-force command at the next cmd_vel's log time (the last command's own if none).
    nxt = tl.velocity_commands(cmd_logs[np.minimum(after, len(cmd_logs) - 1)])
    return [(a,) if i >= len(cmd_logs) or np.array_equal(a, b) else (a, b)
            for a, b, i in zip(now, nxt, after)]


CLOCK_PROBE = 8
"""Recorded ticks a gait policy's clock is matched on (`_clock_start`)."""


def _clock_start(loop: PolicyLoop, tl: Timeline, choices: list) -> int:
    """Return the gait-clock tick of the first recorded command: the one that reproduces best.

    A recording does not carry the policy's clock (it counts from the policy's first action,
    which may be before the recording began), and the phase repeats every cycle, so each
    tick of one cycle is tried on the first recorded ticks.
    """
    best, best_err = 0, np.inf
    for start in range(loop.clock.cycle_ticks):
        run = _replay(loop, tl, choices, start, limit=CLOCK_PROBE)
        if len(run.rows):
            err = float(np.abs(run.actions - recorded_actions(
                tl.commands, run.rows, tl.robot.n_joints)).sum())
            if err < best_err:
                best, best_err = start, err
    return best


def _replay(loop: PolicyLoop, tl: Timeline, choices: list, clock_start: int,
            limit: Optional[int] = None) -> OpenLoopRun:
    """Feed ``loop`` (reset: no previous action, clock at ``clock_start``) the recorded ticks.

    :param choices: per recorded command, the velocity commands to try (`_command_choices`).
    :param limit: stop after this many ticks acted on (None: all).
    """
    robot = loop.robot
    loop.reset(clock_start)
    once = OncePerState()
    law = PDLaw(robot) if loop.pd is not None else None
    rows, actions, torques = [], [], []
    skipped, first = 0, ''
    last = None     # the state index last answered
    for k, cmd in enumerate(tl.commands):
        if limit is not None and len(rows) >= limit:
            break
        if cmd.state_index is not None:
            if last is not None and _robot_reset(tl, last, cmd.state_index):
                loop.reset()
                once = OncePerState()
            last = cmd.state_index
        # Answers to one held state (lockstep: one stamp) start from the same memory, as
        # policy_node's do; the clock counts the states answered, unrecorded ones too.
        loop.memory = once.memory(cmd.stamp_ns, loop.memory)
        if cmd.state_index is None:
            skipped += 1
            loop.ticks += 1
            continue
        state = tl.states[cmd.state_index].state
        try:
            out, action = _act(loop, law, state, choices[k], cmd.action)
        except ValueError as exc:      # a field the observation needs is missing
            skipped += 1
            loop.ticks += 1
            first = first or str(exc)
            continue
        rows.append(k)
        actions.append(action)
        torques.append(out if law is None else
                       law.torque(out, state.joint_positions, state.joint_velocities))
    n = robot.n_joints
    return OpenLoopRun(loop.policy.path, np.array(rows, dtype=np.intp),
                       np.array(actions) if actions else np.zeros((0, n)),
                       np.array(torques) if torques else np.zeros((0, n)), skipped, first)


def _robot_reset(tl: Timeline, i: int, j: int) -> bool:
    """Return whether the sim reset its robot between recorded states ``i`` and ``j``."""
    dt = tl.robot.control_dt
    for a, b in zip(tl.states[i:j], tl.states[i + 1:j + 1]):
        if a.has_odom and b.has_odom:
            if discontinuity(a, b, dt) == 'reset':
                return True
        elif joint_jump(a.state.joint_positions, a.state.joint_velocities,
                        b.state.joint_positions, (b.stamp_ns - a.stamp_ns) * 1e-9) > JOINT_JUMP:
            return True
    return False


def _act(loop: PolicyLoop, law: Optional[PDLaw], state, choices: tuple,
         recorded: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Return (torque or targets, clipped action) of one tick under the fitting command.

    The first of ``choices`` that reproduces ``recorded``, or the first when none does.
    """
    memory, first = loop.memory, None
    for command in choices:
        loop.memory = memory
        out, _ = loop.act(state, command)
        action = _clipped(loop, law, out)
        if len(choices) == 1 or np.abs(action - recorded).max() < REPRODUCED:
            return out, action
        first = first or (out, action, loop.memory)
    out, action, loop.memory = first
    return out, action


def _clipped(loop: PolicyLoop, law: Optional[PDLaw], out: np.ndarray) -> np.ndarray:
    """Return the clipped action of a tick's torque (or, for a PD robot, its targets)."""
    return out / loop.robot.gear if law is None else law.action(out)


def recorded_actions(commands: List[Command], rows: np.ndarray, n: int) -> np.ndarray:
    """[len(rows), n] recorded clipped actions of ``commands[rows]``."""
    if len(rows) == 0:
        return np.zeros((0, n))
    return np.array([commands[k].action for k in rows])


def disagreement(run: OpenLoopRun, tl: Timeline) -> Optional[dict]:
    """RMS difference between ``run``'s actions and the recorded ones: overall, per joint."""
    if len(run.rows) == 0:
        return None
    rec = recorded_actions(tl.commands, run.rows, tl.robot.n_joints)
    d = run.actions - rec
    per_joint = np.sqrt(np.mean(d * d, axis=0))
    dtau = run.torques - np.array([tl.commands[k].torque for k in run.rows])
    return {'rms': float(np.sqrt(np.mean(d * d))), 'max_abs': float(np.abs(d).max()),
            'reproduced_share': float(np.mean(np.abs(d).max(axis=1) < REPRODUCED)),
            'rms_torque_nm': float(np.sqrt(np.mean(dtau * dtau))),
            'per_joint': dict(zip(tl.robot.joint_names, per_joint.tolist())),
            'ticks': int(len(run.rows))}

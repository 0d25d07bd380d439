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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from ..deploy.policy_loop import PolicyLoop
from ..deploy.state_inputs import OncePerState
from ..robot.description import RobotDescription
from ..robot.pd import PDLaw
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


def run_open_loop(path: str, robot: RobotDescription, tl: Timeline) -> OpenLoopRun:
    """Act on the state of every recorded command; skip the ones without a full state.

    :raises DeployError, PolicyError: the policy cannot drive this robot (joint list,
        control period, model, observation spec), with a message naming the file.
    """
    loop = PolicyLoop(path, robot)
    commands = (tl.velocity_commands(np.array([c.log_ns for c in tl.commands], np.int64))
                if loop.needs_command else [None] * len(tl.commands))
    start = 0 if loop.clock is None else _clock_start(loop, tl, commands)
    return _replay(loop, tl, commands, start)


CLOCK_PROBE = 8
"""Recorded ticks a gait policy's clock is matched on (`_clock_start`)."""


def _clock_start(loop: PolicyLoop, tl: Timeline, commands: list) -> int:
    """Return the gait-clock tick of the first recorded command: the one that reproduces best.

    A recording does not carry the policy's clock (it counts from the policy's first action,
    which may be before the recording began), and the phase repeats every cycle, so each
    tick of one cycle is tried on the first recorded ticks.
    """
    best, best_err = 0, np.inf
    for start in range(loop.clock.cycle_ticks):
        run = _replay(loop, tl, commands, start, limit=CLOCK_PROBE)
        if len(run.rows):
            err = float(np.abs(run.actions - recorded_actions(
                tl.commands, run.rows, tl.robot.n_joints)).sum())
            if err < best_err:
                best, best_err = start, err
    return best


def _replay(loop: PolicyLoop, tl: Timeline, commands: list, clock_start: int,
            limit: Optional[int] = None) -> OpenLoopRun:
    """Feed ``loop`` (reset: no previous action, clock at ``clock_start``) the recorded ticks.

    :param limit: stop after this many ticks acted on (None: all).
    """
    robot = loop.robot
    loop.memory = (np.zeros(robot.n_joints), clock_start)
    once = OncePerState()
    law = PDLaw(robot) if loop.pd is not None else None
    rows, actions, torques = [], [], []
    skipped, first = 0, ''
    for k, cmd in enumerate(tl.commands):
        if limit is not None and len(rows) >= limit:
            break
        # Answers to one held state (lockstep: one stamp) start from the same memory, as
        # policy_node's do; the clock counts the states answered, unrecorded ones too.
        loop.memory = once.memory(cmd.stamp_ns, loop.memory)
        if cmd.state_index is None:
            skipped += 1
            loop.ticks += 1
            continue
        state = tl.states[cmd.state_index].state
        try:
            out, _ = loop.act(state, commands[k])
        except ValueError as exc:      # a field the observation needs is missing
            skipped += 1
            loop.ticks += 1
            first = first or str(exc)
            continue
        rows.append(k)
        if law is None:
            torques.append(out)
            actions.append(out / robot.gear)
        else:
            torques.append(law.torque(out, state.joint_positions, state.joint_velocities))
            actions.append(law.action(out))
    n = robot.n_joints
    return OpenLoopRun(loop.policy.path, np.array(rows, dtype=np.intp),
                       np.array(actions) if actions else np.zeros((0, n)),
                       np.array(torques) if torques else np.zeros((0, n)), skipped, first)


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

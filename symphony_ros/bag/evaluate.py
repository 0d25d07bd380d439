"""Offline evaluation of a recorded deploy: read the bag, rebuild, score, compare policies.

No ROS needed: rosbags reads the bag, the robot package rebuilds states and observations,
the sim's reward and episode rules score them, PolicyLoop replays policies open-loop.
What a missing topic prevents is said in the report, and everything else is computed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..robot.description import RobotDescription, get_robot
from ..robot.tracking import WindowTracking, window_steps
from ..robot.velocity_env import VelocityTask
from ..robot.velocity_reward import VelocityStep
from ..sim.episodes import task_reward
from . import metrics
from .episodes import Episode, split_episodes
from .estimate_check import estimate_error
from .openloop import OpenLoopRun, disagreement, run_open_loop
from .reader import Bag, open_bag
from .timeline import Command, Timeline, build_timeline
from .topics import BY_KEY, resolve
from ..util.files import sha256_file

REPORT_FORMAT = 1
DEFAULT_EPISODE_STEPS = 1000
"""Humanoid-v4's time limit, the sim's ``episode_steps`` default."""

LOST_WITHOUT = {
    'joint_states': 'robot states: return, episodes, falls, tilt, policy replay, latency',
    'odom': 'base pose: return, episodes, falls (and humanoid_v4_full observations); tilt '
            'comes from the IMU instead',
    'imu': 'IMU: tilt without odometry, proprioceptive observations',
    'hardware': 'applied torque: the control cost uses the policy command instead',
    'command': 'policy commands: saturation, jitter, latency, ticks missed, policy comparison',
    'watchdog': 'watchdog faults',
    'diagnostics': 'the policy node\'s own timing figures',
}
"""What each role's absence costs (the sim-only score topics are optional)."""


class EvaluationError(Exception):
    """Nothing can be evaluated (no states and no commands), or a policy is refused."""


@dataclass
class Evaluation:
    """The report (JSON-ready) and what the plots draw."""

    report: Dict[str, object]
    bag: Bag
    timeline: Timeline
    episodes: List[Episode]
    recorded: Optional[OpenLoopRun] = None
    candidate: Optional[OpenLoopRun] = None
    notes: List[str] = field(default_factory=list)


def _mean_std(values: List[float]) -> Dict[str, Optional[float]]:
    if not values:
        return {'mean': None, 'std': None, 'min': None, 'max': None}
    x = np.asarray(values)
    return {'mean': float(x.mean()), 'std': float(x.std()), 'min': float(x.min()),
            'max': float(x.max())}


def _recorded_policy(bag: Bag, given: Optional[str], notes: List[str]) -> Optional[str]:
    if given:
        return given
    path = bag.info.get('policy')
    if not path:
        notes.append('the bag does not say which policy it recorded (pass --recorded-policy '
                     'to replay it)')
        return None
    if not os.path.isfile(path):
        notes.append(f'recorded policy {path} is not on this machine; its replay is skipped')
        return None
    want = bag.info.get('policy_sha256')
    if want and sha256_file(path) != want:
        notes.append(f'recorded policy {path} changed since the recording (sha256 differs); '
                     'its replay is skipped')
        return None
    return path


def _episode_row(ep: Episode, tl: Timeline, faults: List[dict], commands_by_ep,
                 limits: np.ndarray) -> Dict[str, object]:
    first, last = tl.states[ep.first], tl.states[ep.last]
    cmds = commands_by_ep.get(ep.index, [])
    torques = np.array([c.torque for c in cmds]) if cmds else np.zeros((0, len(limits)))
    actions = np.array([c.action for c in cmds]) if cmds else np.zeros((0, len(limits)))
    return {
        'index': ep.index, 'start_s': (first.log_ns - tl.start_ns) * 1e-9,
        'duration_s': (last.stamp_ns - first.stamp_ns) * 1e-9, 'length': ep.length,
        'return': ep.ret, 'live_return': ep.live_return, 'end': ep.end,
        'fallen': ep.fallen, 'complete': ep.complete, 'partial_start': ep.partial_start,
        **_reward_parts(ep, tl.robot),
        'max_tilt_rad': metrics.max_tilt(tl, ep.first, ep.last),
        'faults': sum(1 for f in faults if f['episode'] == ep.index),
        'saturation_share': metrics.saturation(torques, limits)['share'],
        'jitter': metrics.jitter(actions),
        'command_step': _command_step(cmds, tl.robot),
    }


def _command_step(cmds: List[Command], robot: RobotDescription,
                  breaks: Sequence[int] = ()) -> Optional[float]:
    """Return the stress report's command step of ``cmds``: what the motors were told.

    A PD robot's motors are told joint targets within the servo range, a torque robot's its
    ctrl (torque / gear): the values the stress run reads from ``data.ctrl``, against the
    same ranges.
    """
    pd = robot.action_kind == 'pd_position'
    told = [c.target if pd else c.action for c in cmds]
    if not told or any(t is None for t in told):
        return None
    spans = np.diff(robot.servo_range(), axis=1)[:, 0]
    return metrics.command_step(np.array(told), spans, breaks)


def _reward_parts(ep: Episode, robot: RobotDescription) -> Dict[str, Any]:
    """Return the episode's return by part.

    Humanoid-v4's terms, or the velocity task's terms and its RMS tracking errors.
    """
    if ep.steps and isinstance(ep.steps[0], VelocityStep):
        terms = {k: float(sum(s.terms[k] for s in ep.steps)) for k in ep.steps[0].terms}
        return {'reward_terms': terms, 'tracking_rms': _tracking([ep.steps], robot)}
    return {'forward_reward': float(sum(s.forward for s in ep.steps)),
            'ctrl_cost': float(sum(s.ctrl_cost for s in ep.steps))}


def _tracking(episodes: List[List[VelocityStep]],
              robot: RobotDescription) -> Dict[str, Optional[float]]:
    """RMS of the planar velocity (m/s) and yaw-rate (rad/s) errors, per step and per stride.

    Per stride: of the velocity averaged over one gait cycle of the robot's task
    (`symphony_ros.robot.tracking`), each episode's window starting afresh.
    """
    steps = [s for ep in episodes for s in ep]
    stride = WindowTracking(window_steps(VelocityTask.for_robot(robot).gait_period,
                                         robot.control_dt))
    for ep in episodes:
        stride.restart()
        for s in ep:
            stride.add(s.command, s.velocity)
    if not steps:
        return {'lin_vel': None, 'yaw_rate': None, 'stride_lin_vel': None,
                'stride_yaw_rate': None}
    return {'lin_vel': float(np.sqrt(np.mean([s.lin_vel_error ** 2 for s in steps]))),
            'yaw_rate': float(np.sqrt(np.mean([s.yaw_rate_error ** 2 for s in steps]))),
            'stride_lin_vel': stride.lin_rms, 'stride_yaw_rate': stride.yaw_rms}


def evaluate_bag(path: str, candidate: Optional[str] = None,
                 recorded_policy: Optional[str] = None, robot_name: Optional[str] = None,
                 episode_steps: int = DEFAULT_EPISODE_STEPS,
                 topics: Optional[Mapping[str, str]] = None) -> Evaluation:
    """Evaluate the bag at ``path``; see the module docstring.

    :raises BagError: the bag cannot be read.
    :raises EvaluationError: nothing to evaluate, or a policy that cannot drive the robot.
    :raises ValueError: a bad ``topics`` override or robot name.
    """
    bag = open_bag(path)
    robot = get_robot(robot_name or bag.info.get('robot') or 'humanoid')
    names = resolve(topics)
    notes: List[str] = list(bag.warnings)
    present = _present_topics(path, bag, names)
    missing = _missing_topics(bag, names, present, robot)
    msgs = bag.messages(names[r] for r in present)      # one read serves every figure
    tl = _timeline(msgs, robot, names, present, notes)
    episodes = split_episodes(tl, task_reward(robot), episode_steps) if (
        'odom' in present and 'joint_states' in present) else []
    ev = Evaluation({}, bag, tl, episodes, notes=notes)
    policies = (('recorded', _recorded_policy(bag, recorded_policy, notes)),
                ('candidate', candidate))
    policy = {kind: _replay_policy(ev, kind, p, robot) for kind, p in policies
              if p and _can_replay(tl, kind, notes)}
    ev.report = {
        'format': REPORT_FORMAT, 'bag': _bag_summary(path, bag, tl),
        'robot': robot.name, 'joint_names': list(robot.joint_names),
        'control_dt': robot.control_dt, 'episode_steps': episode_steps,
        'topics': names, 'missing': missing, 'notes': notes,
        **_figures(tl, episodes, robot, notes), 'policy': policy,
        'diagnostics': metrics.diagnostics_summary(tl),
        'odometry_estimate': estimate_error(msgs, names, present),
    }
    return ev


def _present_topics(path: str, bag: Bag, names: Mapping[str, str]) -> Dict[str, str]:
    """Return role -> topic of the roles with messages in ``bag``.

    :raises EvaluationError: neither joint states nor commands: nothing to evaluate.
    """
    present = {role: t for role, t in names.items()
               if t in bag.topics and bag.topics[t].count > 0}
    if 'joint_states' not in present and 'command' not in present:
        has = ', '.join(sorted(bag.topics)) or 'no topics'
        raise EvaluationError(
            f'{path}: nothing to evaluate: neither {names["joint_states"]} nor '
            f'{names["command"]} has messages in the bag (it has: {has}); name remapped '
            'topics with --topic ROLE=NAME')
    return present


def _timeline(msgs: Mapping[str, List[Tuple[int, Any]]], robot: RobotDescription,
              names: Mapping[str, str], present: Mapping[str, str],
              notes: List[str]) -> Timeline:
    """Return the timeline of the bag's messages ``msgs`` (its warnings added to ``notes``)."""
    tl = build_timeline(robot, msgs, names)
    notes.extend(tl.warnings)
    if 'hardware' not in present and tl.commands and robot.action_kind == 'torque':
        # Without the hardware command, the policy's own torque is the best guess of it.
        tl.hardware_log = np.array([c.log_ns for c in tl.commands], dtype=np.int64)
        tl.hardware = np.array([c.torque for c in tl.commands])
    return tl


def _bag_summary(path: str, bag: Bag, tl: Timeline) -> Dict[str, Any]:
    """Return the report's ``bag`` section: where, what storage, how long, which topics."""
    return {'path': os.path.abspath(path), 'storage': bag.storage, 'clean': bag.clean,
            'duration_s': _duration(bag, tl),
            'topics': {t: {'type': i.msgtype, 'count': i.count}
                       for t, i in sorted(bag.topics.items())},
            'recording': dict(bag.info)}


def _figures(tl: Timeline, episodes: List[Episode],
             robot: RobotDescription, notes: List[str]) -> Dict[str, Any]:
    """Return the report's figures: overall, per episode, faults, saturation per joint."""
    faults = metrics.watchdog_faults(tl, episodes)
    by_ep: Dict[Optional[int], list] = {}
    for c in tl.commands:
        ep = metrics.episode_of(episodes, tl, c.state_log_ns or c.log_ns)
        by_ep.setdefault(ep, []).append(c)
    limits = robot.effort_limits
    # Commands while the robot is held or lies fallen between episodes say nothing about
    # the policy's behaviour: with episodes, the command figures count theirs only.
    outside = {id(c) for c in by_ep.get(None, [])}
    used = [c for c in tl.commands if id(c) not in outside] if episodes else tl.commands
    cmd_torques = np.array([c.torque for c in used]) if used else np.zeros((0, robot.n_joints))
    cmd_actions = np.array([c.action for c in used]) if used else np.zeros((0, robot.n_joints))
    notes.extend(_scoring_notes(tl, episodes))
    sat = metrics.saturation(cmd_torques, limits)
    return {
        'overall': _overall(tl, episodes, faults, sat, used, cmd_actions),
        'episodes': [_episode_row(e, tl, faults, by_ep, limits) for e in episodes],
        'faults': faults,
        'fault_causes': _counts(f['cause'] for f in faults),
        'watchdog_time_share': metrics.watchdog_time_shares(tl),
        'saturation_per_joint': (dict(zip(robot.joint_names, sat['per_joint']))
                                 if sat['per_joint'] is not None else None),
    }


def _scoring_notes(tl: Timeline, episodes: List[Episode]) -> List[str]:
    """Say what of the recording could not be scored as recorded, and how it was counted."""
    notes = []
    if episodes and episodes[0].partial_start:
        notes.append('episode 0 was already running when the recording began (the robot was '
                     'moving): it does not count as complete')
    if tl.inferred:
        notes.append(f'{tl.inferred} lockstep step(s) scored with the policy command as the '
                     'ACTIVE watchdog passes it on: the recorder missed that output')
    resets = sum(e.end == 'reset' for e in episodes)
    if resets:
        notes.append(f'{resets} episodes end in a reset whose terminal state is not in the '
                     'recording: the step into it is not scored, so their returns are short '
                     'by one step and they do not count as complete')
    return notes


def _missing_topics(bag: Bag, names: Mapping[str, str], present: Mapping[str, str],
                    robot: RobotDescription) -> List[Dict[str, Any]]:
    """Roles without messages: what is lost, and a hint where the bag has that type."""
    missing = []
    for role, lost in LOST_WITHOUT.items():
        if role in present:
            continue
        if role == 'hardware' and robot.action_kind == 'pd_position':
            if 'position_hardware' in present:
                continue    # the PD's torque follows from the targets the robot had
            lost = ('applied torque: the PD\'s torque under the policy\'s targets is '
                    'used instead')
        entry = {'role': role, 'topic': names[role], 'type': BY_KEY[role].msgtype,
                 'lost': lost}
        found = [t for t, i in bag.topics.items() if i.msgtype == BY_KEY[role].msgtype]
        if found and role in ('joint_states', 'odom', 'imu', 'hardware'):
            entry['hint'] = f'the bag has {", ".join(found)} of that type: --topic {role}=NAME'
        missing.append(entry)
    return missing


def _can_replay(tl: Timeline, kind: str, notes: List[str]) -> bool:
    if not tl.commands:
        notes.append(f'{kind} policy not replayed: no recorded commands to compare with')
    return bool(tl.commands)


def _replay_policy(ev: Evaluation, kind: str, path: str,
                   robot: RobotDescription) -> Dict[str, Any]:
    """Run ``path`` open loop on the recorded states; set ev.<kind>; return its figures."""
    from ..deploy.policy_loop import DeployError
    from ..policy.errors import PolicyError
    try:
        run = run_open_loop(path, robot, ev.timeline, recorded=kind == 'recorded')
    except (DeployError, PolicyError) as exc:
        raise EvaluationError(f'{kind} policy refused: {exc}') from None
    setattr(ev, kind, run)
    if run.skipped:
        ev.notes.append(f'{kind} policy: {run.skipped} ticks skipped'
                        + (f' ({run.first_error})' if run.first_error else ''))
    return {'path': path, 'sha256': sha256_file(path), 'ticks': int(len(run.rows)),
            'skipped_ticks': run.skipped,
            'vs_recorded_actions': disagreement(run, ev.timeline),
            'saturation_share': metrics.saturation(run.torques, robot.effort_limits)['share'],
            'jitter': metrics.jitter(run.actions)}


def _overall(tl: Timeline, episodes: List[Episode], faults: list, sat: Dict[str, Any], used: list,
             cmd_actions: np.ndarray) -> Dict[str, Any]:
    """Return the report's headline figures (returns over complete episodes if any)."""
    complete = [e for e in episodes if e.complete]
    scored = complete or episodes
    return {
        'episodes': len(episodes), 'complete_episodes': len(complete),
        'return': _mean_std([e.ret for e in scored]),
        'return_over': 'complete episodes' if complete else 'all (none complete)',
        'length': _mean_std([float(e.length) for e in scored]),
        'steps': int(sum(e.length for e in episodes)),
        'falls': sum(e.fallen for e in episodes),
        'resets_without_terminal_state': sum(e.end == 'reset' for e in episodes),
        'reward_total': float(sum(e.ret for e in episodes)),
        'live_return': _mean_std([e.live_return for e in episodes
                                  if e.live_return is not None]),
        'live_reward_total': float(sum(r for _, r in tl.rewards)) if tl.rewards else None,
        'live_episode_returns': [r for _, r in tl.returns],
        'max_tilt_rad': metrics.max_tilt(tl) if tl.states else None,
        'faults': len(faults),
        'saturation_share': sat['share'],
        'jitter': metrics.jitter(cmd_actions, metrics.command_breaks(used, episodes)),
        'command_step': _command_step(used, tl.robot, metrics.command_breaks(used, episodes)),
        'latency_ms': metrics.latency(tl),
        'ticks_missed': metrics.missed_ticks(tl, episodes),
        'policy_ticks': len(tl.commands), 'states': len(tl.states),
        'tracking_rms': (_tracking([e.steps for e in scored], tl.robot)
                         if scored and isinstance(scored[0].steps[0], VelocityStep) else None),
    }


def _counts(items) -> Dict[str, int]:
    out: Dict[str, int] = {}
    for x in items:
        out[x] = out.get(x, 0) + 1
    return out


def _duration(bag: Bag, tl: Timeline) -> Optional[float]:
    logs = [s.log_ns for s in tl.states] + [c.log_ns for c in tl.commands]
    return (max(logs) - min(logs)) * 1e-9 if logs else None

"""``symphony stress --ros``: conditions run through the deploy graph in realtime timing.

The graph is the one ``symphony launch deploy robot:=sim`` runs (mujoco_sim_node,
policy_node, watchdog_node, their config files), one condition after another, so the loop's
own timing (DDS, the policy's timer, the watchdog) is part of what is measured. Only
conditions the sim can inject through ROS run here, those the loop's timing bears on: the
delay ones, as mujoco_sim_node's ``command_delay`` (whole control steps of the robot, or
the latency conditions' ms, when named), the push ones, as its ``push_velocity`` (a kick
is answered through the loop, latency and all), and, when named, the held commands, as its
``cmd_vel`` (the one command a teleop would send, so the target is judged through the
loop). Each graph runs in a namespace of its own with localhost-only discovery, so it can
never reach a robot on the network. Spawns processes only; never imports rclpy.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
import threading
import time
from collections import Counter
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from ..graph import DEPLOY, Graph
from ..graph.processes import plan
from ..graph.runner import Runner
from ..robot.description import RobotDescription
from ..sim.delay import APPLIED_LINE
from ..sim.config import RANDOM, SimConfig
from ..sim.episodes import EPISODE_LINE, KICK_PART, REACHED_PART, STRIDE_PART, TRACKING_PART
from ..sim.pushes import PUSH_LINE
from . import conditions
from .conditions import CONDITIONS
from .kicks import episode_kicks
from .kicks import summary as kick_summary
from .run import mean_of, mean_reached

ROS_KNOBS = ('delay_steps', 'delay_s', 'push_velocity', 'push_interval_s', conditions.COMMAND)
"""Knobs the sim injects through ROS; a condition with any other knob runs in process only."""
SIM_PUSH_INTERVAL = (SimConfig.push_interval_min, SimConfig.push_interval_max)
"""s between the sim's kicks (its defaults: the graph sets only ``push_velocity``)."""


def _through_ros(knobs: Dict[str, object]) -> bool:
    return set(knobs) <= set(ROS_KNOBS) and tuple(
        knobs.get('push_interval_s', SIM_PUSH_INTERVAL)) == SIM_PUSH_INTERVAL


ROS_RUNNABLE = tuple(n for n, (knobs, _) in CONDITIONS.items() if _through_ros(knobs))
"""Conditions ``--ros`` can run."""
ROS_CONDITIONS = tuple(n for n in ROS_RUNNABLE if n not in conditions.DIAGNOSTIC)
"""Conditions ``--ros`` runs (the default set; the latency and held-command ones when named)."""
FAULT_REASON = re.compile(r'state: FAULT (\w+)')
"""The watchdog's log line of a FAULT, and its reason (e.g. ``joint_states_stale``)."""
START_S = 60.0
"""s a graph may take to start and arm before its episodes count against the time limit."""


def select(names: Sequence[str], robot: RobotDescription, commands: bool = True) -> List[str]:
    """Return the conditions to run through ROS (all of :data:`ROS_CONDITIONS` when empty).

    :param commands: whether the policy follows velocity commands (a held command needs it).
    :raises ValueError: an unknown name (see :func:`conditions.select`), one the sim
        cannot inject (listing those it can), or a held command the policy cannot follow.
    """
    if not names:
        return list(ROS_CONDITIONS)
    names = conditions.select(names, robot, commands=commands)
    for n in names:
        if not _through_ros(conditions.knobs(n)):
            raise ValueError(f'--conditions: {n!r} cannot run with --ros (the sim injects '
                             f'command delay, base kicks and a held command only); expected '
                             f'some of {", ".join(ROS_RUNNABLE)} (or of them joined with '
                             f'{conditions.JOIN})')
    return names


def command_delay(name: str, robot: RobotDescription) -> float:
    """Return the sim's ``command_delay`` in s for condition ``name`` on ``robot``."""
    knobs = conditions.knobs(name)
    return float(knobs.get('delay_s', knobs.get('delay_steps', 0) * robot.control_dt))


def push_velocity(name: str) -> float:
    """Return the sim's ``push_velocity`` in m/s for condition ``name`` (0: no kicks)."""
    return float(conditions.knobs(name).get('push_velocity', 0.0))


def held_cmd_vel(name: str) -> str:
    """Return condition ``name``'s held command as the sim's ``cmd_vel`` ('': none held)."""
    cmd = conditions.knobs(name).get(conditions.COMMAND)
    return ','.join(f'{float(v):g}' for v in cmd) if cmd is not None else ''


def graph(policy: str, robot: RobotDescription, name: str, episodes: int, seed: int,
          episode_steps: Optional[int], namespace: str, commands: str = '',
          estimator: str = 'none') -> Graph:
    """Return the deploy graph that runs condition ``name`` for ``episodes`` episodes.

    :param commands: a velocity policy's command ranges (``--commands`` form): the sim draws
        its commands from them as training does (``cmd_vel:=random``), as the in-process
        conditions draw from the contract's; empty: no command (a policy that takes none).
        A held-command condition publishes its one command instead.
    :param estimator: the deploy graph's ``estimator:=`` (legs for a policy trained on leg
        odometry, which then reads it as on a robot).
    """
    values = {'robot': 'sim', 'timing': 'realtime', 'policy': policy, 'estimator': estimator,
              'robot_model': robot.name, 'episodes': str(episodes), 'seed': str(seed),
              'command_delay': repr(command_delay(name, robot)),
              'push_velocity': repr(push_velocity(name)), 'namespace': namespace}
    if episode_steps:
        values['episode_steps'] = str(episode_steps)
    held = held_cmd_vel(name)
    if held:
        values['cmd_vel'] = held
    elif commands:
        values.update(cmd_vel=RANDOM, cmd_vel_ranges=commands)
    return DEPLOY(values)


class _Lines:
    """The runner's output: kept by line, copied to a log file, episodes reported."""

    def __init__(self, log: str, on_episode: Callable[[re.Match], None]) -> None:
        self.lines: List[str] = []
        self._fh = open(log, 'w', encoding='utf-8')
        self._on_episode = on_episode
        self._partial = ''

    def write(self, text: str) -> None:
        self._fh.write(text)
        *whole, self._partial = (self._partial + text).split('\n')
        for line in whole:
            self.lines.append(line)
            m = EPISODE_LINE.search(line)
            if m and line.startswith('[mujoco_sim_node]'):
                self._on_episode(m)

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def episode_row(m: re.Match, control_dt: float, push: float = 0.0,
                held: bool = False) -> Dict[str, object]:
    """Return one episode's figures from the sim's episode line (an :data:`EPISODE_LINE` match).

    A velocity robot's line adds its RMS tracking errors (m/s, rad/s), per step and per
    stride (``stride_tracking_error`` and ``stride_yaw_error``, as in process); None for
    others, and with ``held`` (a condition that holds one command) the mean velocity
    reached (``reached``). Its kicks (of ``push`` m/s) are judged as the in-process
    conditions' are (:func:`symphony_ros.stress.kicks.episode_kicks`), the episode's end at
    its steps times ``control_dt``.
    """
    track, stride = TRACKING_PART.search(m.string), STRIDE_PART.search(m.string)
    fell, steps = m.group(4) == 'fall', int(m.group(3))
    given = [(float(t), push, math.radians(float(b))) for t, b in KICK_PART.findall(m.string)]
    row = {'return': float(m.group(2)), 'steps': steps, 'fell': fell,
           'tracking_rms': [float(track.group(1)), float(track.group(2))] if track else None,
           'stride_tracking_error': float(stride.group(1)) if stride else None,
           'stride_yaw_error': float(stride.group(2)) if stride else None,
           'kicks': episode_kicks(given, fell, steps * control_dt)}
    reached = REACHED_PART.search(m.string)
    if held and reached:
        row['reached'] = [float(v) for v in reached.groups()]
    return row


def run_condition(policy: str, robot: RobotDescription, name: str, episodes: int, seed: int,
                  episode_steps: Optional[int], log: str,
                  progress: Optional[Callable[[], None]] = None,
                  commands: str = '', estimator: str = 'none') -> Dict[str, object]:
    """Run one condition's graph until its episodes are done (or its time limit); figures.

    The time limit is :data:`START_S` plus three times the episodes' simulated length.
    ``commands``, ``estimator``: as :func:`graph`'s.
    """
    steps = episode_steps or 1000
    limit = START_S + 3 * episodes * steps * robot.control_dt
    rows: List[Dict[str, object]] = []
    push, held = push_velocity(name), bool(held_cmd_vel(name))

    def on_episode(m: re.Match) -> None:
        rows.append(episode_row(m, robot.control_dt, push, held))
        if progress:
            progress()
    g = graph(policy, robot, name, episodes, seed, episode_steps,
              f'symphony_stress_{os.getpid()}', commands, estimator)
    out = _Lines(log, on_episode)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix='symphony_stress_ros_') as tmp:
        planned = [p for p in plan(g, tmp) if p.missing is None]
        for p in planned:
            # Never reach a robot on the network, whatever this shell's ROS settings.
            p.env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
        runner = Runner(planned, out=out)
        timer = threading.Timer(limit, runner.request_stop)
        timer.start()
        try:
            status = runner.run()
        finally:
            timer.cancel()
            out.close()
    wall = time.monotonic() - t0
    m = _last_match(APPLIED_LINE, out.lines)
    applied = m and {'median_ms': float(m.group(1)), 'steps': int(m.group(2)),
                     'command_delay_s': float(m.group(3))}
    m = _last_match(PUSH_LINE, out.lines)
    kicks = m and int(m.group(1))
    reasons = [m.group(1) for m in (FAULT_REASON.search(line) for line in out.lines
                                    if line.startswith('[watchdog_node]')) if m]
    rows = rows[:episodes]
    return {'rows': rows, 'wall_s': wall, 'complete': len(rows) == episodes and status == 0,
            'graph_status': status, 'applied': applied, 'watchdog_faults': len(reasons),
            'fault_reasons': dict(Counter(reasons)),
            'command_delay_s': command_delay(name, robot),
            'push_velocity': push_velocity(name), 'kicks': kicks,
            'log': os.path.basename(log)}


def _last_match(pattern: re.Pattern, lines: List[str]) -> Optional[re.Match]:
    """Return the last match of ``pattern`` in ``lines`` (the sim's closing line wins)."""
    found = None
    for line in lines:
        found = pattern.search(line) or found
    return found


def summarise(run: Dict[str, object]) -> Dict[str, object]:
    """Return a condition's figures over its episodes (the in-process report's fields).

    Figures the sim does not report through ROS (the per-step tracking error as in process
    measures it, torque saturation, joint margins, command steps) are None; the tracking
    errors per stride are the in-process figures, so ``--max-tracking-error`` and
    ``--max-yaw-error`` judge them here too. A graph that finished no episode counts as
    falling in all of them: a run that could not happen must not pass the verdict.
    """
    rows = run['rows']
    returns = np.array([r['return'] for r in rows]) if rows else np.zeros(0)
    tracked = [r['tracking_rms'] for r in rows if r.get('tracking_rms')]
    return {'episodes': len(rows), 'falls': int(sum(r['fell'] for r in rows)),
            'fall_rate': float(np.mean([r['fell'] for r in rows])) if rows else 1.0,
            'return_mean': float(returns.mean()) if rows else float('nan'),
            'return_std': float(returns.std()) if rows else float('nan'),
            'steps_mean': float(np.mean([r['steps'] for r in rows])) if rows else 0.0,
            'tracking_error': None, 'torque_saturation': None, 'min_joint_margin': None,
            'stride_tracking_error': mean_of(rows, 'stride_tracking_error'),
            'stride_yaw_error': mean_of(rows, 'stride_yaw_error'),
            'reached': mean_reached(rows), 'command_jitter': None, 'kicks': kick_summary(rows),
            'ros': {**{k: run[k] for k in ('command_delay_s', 'applied', 'push_velocity',
                                           'kicks', 'watchdog_faults', 'wall_s', 'complete',
                                           'graph_status', 'log')},
                    'fault_reasons': run.get('fault_reasons') or {},
                    # The sim's own figure: RMS over each episode's steps, then the mean.
                    'tracking_rms': np.mean(tracked, axis=0).tolist() if tracked else None}}

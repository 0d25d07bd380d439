"""Which kicks of a push condition the robot rode out, and which way they pushed it.

An episode's fall rate says whether a policy fell at all; a push condition gives several
kicks per episode, so counting the kicks it survived, by the way they pushed it, tells
a policy that falls to every kick from one that falls to the rare hard one, and which way
it is weak. A velocity policy's kicks are also counted by what it was told when each came
(stand, walk, turn in place): told to stand, a policy may have learnt to keep its feet down
whatever happens, a weakness the directions alone hide.
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..robot.command_terms import command_classes

KICK_WINDOW_S = 2.0
"""A fall within this many seconds of a kick is that kick's: two and a half strides of the
G1's 0.8 s gait, time to either catch the base or go down."""

COMMANDS = ('stand', 'walk', 'turn')
"""What a velocity policy was told when a kick came (`command_class`)."""
DIRECTIONS = ('forward', 'left', 'backward', 'right')
"""Ways a kick pushes the robot, by its bearing from the robot's heading (0, pi/2, pi,
-pi/2), each a quarter circle."""


def command_class(command: Sequence[float]) -> str:
    """Return what command (vx, vy, yaw rate) asks: 'stand', 'walk' or 'turn' (in place)."""
    walking, moving = command_classes(np.asarray(command, dtype=np.float64))
    return 'walk' if walking else 'turn' if moving else 'stand'


def direction(bearing: float) -> str:
    """Return the way a kick of ``bearing`` rad pushes the robot (0: forward, pi/2: left)."""
    return DIRECTIONS[int(round(bearing / (math.pi / 2))) % 4]


def outcomes(kick_times: Sequence[float], fell: bool, end_s: float,
             window: float = KICK_WINDOW_S) -> List[str]:
    """Return each kick's outcome: 'fell', 'survived' or 'unresolved'.

    A fall within ``window`` of the last kick before it is that kick's; any kick followed
    by ``window`` of episode is survived; the rest (too near the episode's end, or before a
    later kick that fell the robot within the window) cannot be told.

    :param end_s: when the episode ended (the fall's time, when ``fell``).
    """
    last = max(kick_times, default=None)
    out = []
    for t in kick_times:
        if fell and t == last and end_s - t <= window:
            out.append('fell')
        elif end_s - t >= window:
            out.append('survived')
        else:
            out.append('unresolved')
    return out


def episode_kicks(kicks: Sequence[Tuple[float, float, float]], fell: bool, end_s: float,
                  told: Optional[Sequence[str]] = None) -> List[List[object]]:
    """Return [bearing in degrees, outcome] per kick of one episode (report.json's form).

    :param told: per kick, what the policy was told then (`command_class`), appended to its
        row; None: a policy without commands.
    """
    times = [k[0] for k in kicks]
    rows = [[round(math.degrees(k[2]), 1), o]
            for k, o in zip(kicks, outcomes(times, fell, end_s))]
    for row, what in zip(rows, told or ()):
        row.append(what)
    return rows


def summary(rows: Sequence[Dict[str, object]]) -> Optional[Dict[str, object]]:
    """Return a condition's kicks over its episodes (None: no episode was kicked)."""
    kicks = [k for r in rows for k in (r.get('kicks') or [])]
    if not kicks:
        return None
    count = {o: sum(1 for k in kicks if k[1] == o) for o in ('survived', 'fell', 'unresolved')}
    sides = {d: {'survived': 0, 'fell': 0} for d in DIRECTIONS}
    told = {c: {'survived': 0, 'fell': 0} for c in COMMANDS}
    for bearing, o, *what in kicks:
        if o != 'unresolved':
            sides[direction(math.radians(bearing))][o] += 1
            if what:
                told[what[0]][o] += 1
    out = {'given': len(kicks), **count, 'window_s': KICK_WINDOW_S, 'by_direction': sides}
    if any(len(k) > 2 for k in kicks):
        out['by_command'] = told
    return out


def text(name: str, s: Dict[str, object]) -> str:
    """Say a condition's kick summary in one line of report.md."""
    told = s['survived'] + s['fell']
    sides = _counts(s['by_direction'])
    if s.get('by_command'):
        sides += '; told to ' + _counts(s['by_command'])
    tail = f'; {s["unresolved"]} too near an episode\'s end to tell' if s['unresolved'] else ''
    return f'- `{name}`: {s["survived"]} of {told} kicks survived ({sides}){tail}'


def _counts(by: Dict[str, Dict[str, int]]) -> str:
    return ', '.join(f'{k} {v["survived"]}/{v["survived"] + v["fell"]}' for k, v in by.items())


__all__ = ['COMMANDS', 'DIRECTIONS', 'KICK_WINDOW_S', 'command_class', 'direction',
           'episode_kicks', 'outcomes', 'summary', 'text']

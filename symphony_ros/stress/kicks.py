"""Which kicks of a push condition the robot rode out, and which way they pushed it.

An episode's fall rate says whether a policy fell at all; a push condition gives several
kicks per episode, so counting the kicks it survived, by the way they pushed it, tells
a policy that falls to every kick from one that falls to the rare hard one, and which way
it is weak.
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence, Tuple

KICK_WINDOW_S = 2.0
"""A fall within this many seconds of a kick is that kick's: two and a half strides of the
G1's 0.8 s gait, time to either catch the base or go down."""

DIRECTIONS = ('forward', 'left', 'backward', 'right')
"""Ways a kick pushes the robot, by its bearing from the robot's heading (0, pi/2, pi,
-pi/2), each a quarter circle."""


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


def episode_kicks(kicks: Sequence[Tuple[float, float, float]], fell: bool,
                  end_s: float) -> List[List[object]]:
    """Return [bearing in degrees, outcome] per kick of one episode (report.json's form)."""
    times = [k[0] for k in kicks]
    return [[round(math.degrees(k[2]), 1), o]
            for k, o in zip(kicks, outcomes(times, fell, end_s))]


def summary(rows: Sequence[Dict[str, object]]) -> Optional[Dict[str, object]]:
    """Return a condition's kicks over its episodes (None: no episode was kicked)."""
    kicks = [k for r in rows for k in (r.get('kicks') or [])]
    if not kicks:
        return None
    count = {o: sum(1 for _, k in kicks if k == o) for o in ('survived', 'fell', 'unresolved')}
    sides = {d: {'survived': 0, 'fell': 0} for d in DIRECTIONS}
    for bearing, o in kicks:
        if o != 'unresolved':
            sides[direction(math.radians(bearing))][o] += 1
    return {'given': len(kicks), **count, 'window_s': KICK_WINDOW_S, 'by_direction': sides}


def text(name: str, s: Dict[str, object]) -> str:
    """Say a condition's kick summary in one line of report.md."""
    told = s['survived'] + s['fell']
    sides = ', '.join(f'{d} {v["survived"]}/{v["survived"] + v["fell"]}'
                      for d, v in s['by_direction'].items())
    tail = f'; {s["unresolved"]} too near an episode\'s end to tell' if s['unresolved'] else ''
    return f'- `{name}`: {s["survived"]} of {told} kicks survived ({sides}){tail}'


__all__ = ['DIRECTIONS', 'KICK_WINDOW_S', 'direction', 'episode_kicks', 'outcomes', 'summary',
           'text']

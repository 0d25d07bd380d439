"""A velocity task's commands: the ranges a run sets, how they are drawn, said and written.

Kept apart from the env (no MuJoCo here), so that the sim's parameters, a launch file's
arguments and the policy contract read and write commands as training draws them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Dict, Iterable, Tuple

import numpy as np

if TYPE_CHECKING:
    from .velocity_env import VelocityTask

COMMAND_RANGES = ('lin_vel_x', 'lin_vel_y', 'yaw_rate')
"""`VelocityTask` ranges a run's ``--commands`` may set (lo:hi each)."""
FRACTIONS = ('standing_fraction', 'turning_fraction')
"""`VelocityTask` shares of commands a run's ``--commands`` may set (0..1 each)."""


def parse_commands(text: str, where: str = '--commands') -> Dict[str, Any]:
    """Return the `VelocityTask` settings of ``lin_vel_x=lo:hi,...,standing_fraction=f``.

    Ranges are m/s (``lin_vel_x``, ``lin_vel_y``) and rad/s (``yaw_rate``); ``lo:hi`` with
    lo <= hi, one value for a fixed command (``lin_vel_y=0``). ``standing_fraction`` is the
    share of zero commands, ``turning_fraction`` that of commands to turn in place, each
    0..1, together at most 1.

    :raises ValueError: naming ``where`` and the pair: an unknown setting, a value that is
        not a finite number, an inverted range or a fraction outside 0..1.
    """
    out: Dict[str, Any] = {}
    known = COMMAND_RANGES + FRACTIONS
    for pair in filter(None, (p.strip() for p in text.split(','))):
        key, eq, value = (x.strip() for x in pair.partition('='))
        if not eq or key not in known:
            raise ValueError(f'{where} {pair!r}: expected setting=value with a setting of '
                             f'{", ".join(known)}')
        try:
            nums = [float(v) for v in value.split(':')]
        except ValueError:
            nums = [math.nan]
        if not all(math.isfinite(v) for v in nums) or len(nums) > 2:
            raise ValueError(f'{where} {pair!r}: expected a number or lo:hi')
        if key in FRACTIONS:
            if len(nums) != 1 or not 0.0 <= nums[0] <= 1.0:
                raise ValueError(f'{where} {pair!r}: expected a share of 0..1')
            out[key] = nums[0]
            continue
        lo, hi = nums[0], nums[-1]
        if lo > hi:
            raise ValueError(f'{where} {pair!r}: inverted range (lo > hi)')
        out[key] = (lo, hi)
    check_shares(out.get('standing_fraction', 0.0), out.get('turning_fraction', 0.0),
                 f'{where} {text.strip()!r}')
    return out


def format_commands(ranges: Dict[str, Iterable[float]]) -> str:
    """Return command ranges (a contract's ``command_ranges``) as `parse_commands` reads them."""
    return ','.join(f'{k}={float(lo)!r}:{float(hi)!r}' for k, (lo, hi) in ranges.items())


def check_shares(standing: float, turning: float, where: str) -> None:
    """Refuse shares of standing and turning commands that add up to more than every command.

    :raises ValueError: naming ``where`` and both shares.
    """
    if standing + turning > 1.0:
        raise ValueError(f'{where}: standing_fraction {standing:g} + turning_fraction '
                         f'{turning:g} add up to more than 1')


def draw_command(task: 'VelocityTask', rng: np.random.Generator) -> np.ndarray:
    """Return a velocity command (vx m/s, vy m/s, yaw rate rad/s) drawn as training draws.

    A ``standing_fraction`` share is zero, a ``turning_fraction`` share turns in place (a yaw
    rate of at least half the range's largest magnitude, no linear velocity), the rest is
    uniform in each range. The sim node's ``cmd_vel random`` draws with this too, so a policy
    meets the same commands through the deploy graph as in training and in-process stress.
    """
    u = rng.uniform()
    if u < task.standing_fraction:
        return np.zeros(3)
    if u < task.standing_fraction + task.turning_fraction:
        return np.array([0.0, 0.0, _turning_rate(task.yaw_rate, rng)])
    return np.array([rng.uniform(*task.lin_vel_x), rng.uniform(*task.lin_vel_y),
                     rng.uniform(*task.yaw_rate)])


def _turning_rate(yaw_rate: Tuple[float, float], rng: np.random.Generator) -> float:
    """Return a yaw rate to turn in place: at least half the range's largest magnitude."""
    lo, hi = yaw_rate
    half = max(abs(lo), abs(hi)) / 2
    # Each way (sign, how far the range reaches) that reaches half; one always does.
    ways = [(side, edge) for side, edge in ((1.0, hi), (-1.0, -lo)) if edge >= half]
    side, edge = ways[int(rng.integers(len(ways)))]
    return side * float(rng.uniform(half, edge))


def draws_text(task: 'VelocityTask') -> str:
    """Say what `draw_command` draws from ``task``: its ranges and shares."""
    ranges = ', '.join(f'{k} {lo:g}..{hi:g}' for k, (lo, hi) in task.command_ranges().items())
    turning = (f', {task.turning_fraction:.0%} turning in place' if task.turning_fraction
               else '')
    return f'{ranges}, {task.standing_fraction:.0%} of them zero{turning}'


def commands_note(task: 'VelocityTask') -> str:
    """Say which commands a run draws (--commands over the robot file's ranges)."""
    return (f'commands drawn: {draws_text(task)}; the exported contract records these '
            'ranges, and policy_node clips cmd_vel to them')


__all__ = ['COMMAND_RANGES', 'FRACTIONS', 'check_shares', 'commands_note', 'draw_command',
           'draws_text', 'format_commands', 'parse_commands']

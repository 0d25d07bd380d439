"""How sure a count of falls is: intervals of a fall rate, and two policies compared pair by pair.

Ten episodes per condition is the gate's default, and ten episodes say little: no fall in
ten is consistent with a true fall rate of 28 %. The report gives each rate's interval so
that a PASS is read for what it shows, and the comparison of several policies says whether
a difference in falls is larger than chance would make it. Run with the same seed, episode k
of a condition starts alike and draws the same perturbations for every policy, so the
episodes pair up; the episodes where both fall or both stand say nothing about which is
better, and the rest decide (McNemar's exact test).
"""

from __future__ import annotations

import math
from typing import Dict, List, Sequence, Tuple

BOUNDS = ('observed', 'upper95')
"""What a verdict may hold to its threshold: the fall rate seen, or its 95 % upper bound."""
Z95 = 1.959963984540054
"""Standard normal quantile of a two-sided 95 % interval."""


def wilson(falls: int, episodes: int, z: float = Z95) -> Tuple[float, float]:
    """Return the Wilson score interval of a fall rate (95 % by default).

    Chosen over the normal approximation because it stays within [0, 1] and is not
    degenerate at 0 or all falls, which are the gate's everyday counts.
    """
    if episodes <= 0:
        return 0.0, 1.0
    p, n, z2 = falls / episodes, float(episodes), z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def interval_text(falls: int, episodes: int) -> str:
    """Return the 95 % interval of a fall rate as text, e.g. '11-60%'."""
    lo, hi = wilson(falls, episodes)
    return f'{lo:.0%}-{hi:.0%}'.replace('%-', '-')


def episodes_to_show(max_fall_rate: float, z: float = Z95) -> int:
    """Return the fewest episodes whose interval, with no fall, lies within ``max_fall_rate``.

    With no fall the Wilson upper bound is z^2 / (n + z^2).
    """
    if max_fall_rate <= 0:
        return 0
    return max(1, math.ceil(z * z * (1 - max_fall_rate) / max_fall_rate))


def paired_falls(a: Sequence[Dict[str, object]], b: Sequence[Dict[str, object]]
                 ) -> Tuple[int, int]:
    """Return (episodes only ``a`` fell in, episodes only ``b`` fell in), pairing by index."""
    if len(a) != len(b):
        raise ValueError(f'{len(a)} episodes against {len(b)}: they do not pair')
    only_a = sum(bool(x['fell']) and not bool(y['fell']) for x, y in zip(a, b))
    only_b = sum(bool(y['fell']) and not bool(x['fell']) for x, y in zip(a, b))
    return only_a, only_b


def mcnemar_p(only_a: int, only_b: int) -> float:
    """Return the exact two-sided p-value that two policies fall equally often.

    Under that hypothesis each discordant pair is a fair coin, so the smaller count
    follows a binomial(only_a + only_b, 1/2).
    """
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(only_a, only_b) + 1)) / 2.0 ** n
    return min(1.0, 2.0 * tail)


def chi2_sf(x: float, df: int) -> float:
    """Return P(X >= x) for X chi-square with ``df`` degrees of freedom (df >= 1).

    Stepped up from df 1 or 2 by the closed form of the regularised gamma function at
    half-integer and integer orders, so no statistics library is needed.
    """
    if x <= 0:
        return 1.0
    h = x / 2.0
    k, sf = (2, math.exp(-h)) if df % 2 == 0 else (1, math.erfc(math.sqrt(h)))
    while k < df:
        sf += math.exp((k / 2.0) * math.log(h) - h - math.lgamma(k / 2.0 + 1.0))
        k += 2
    return min(1.0, sf)


def rates_differ_p(falls: Sequence[int], exposure: Sequence[float]) -> float:
    """Return the p-value that groups fall at one rate per unit of exposure (time up).

    Pearson's chi-square test of Poisson counts against their share of the exposure: a
    small p says the groups' rates differ by more than chance would make them.
    """
    total, k = float(sum(exposure)), sum(falls)
    cells = [(f, k * t / total) for f, t in zip(falls, exposure) if t > 0] if total else []
    if len(cells) < 2 or k == 0:
        return 1.0
    return chi2_sf(sum((f - e) ** 2 / e for f, e in cells), len(cells) - 1)


def judged_pairs(first: Dict[str, object], other: Dict[str, object]) -> Tuple[int, int]:
    """Sum :func:`paired_falls` over the conditions both reports judged."""
    names: List[str] = [n for n in first['verdict']['judged']
                        if n in other['verdict']['judged']]
    pairs = [paired_falls(first['conditions'][n]['per_episode'],
                          other['conditions'][n]['per_episode']) for n in names]
    return sum(p[0] for p in pairs), sum(p[1] for p in pairs)


def pairable(reports: Sequence[Dict[str, object]]) -> bool:
    """Tell whether the reports' episodes pair up: in process, the same seed and count."""
    keys = {(r.get('through'), r.get('seed'), r.get('episodes'), r.get('max_steps'))
            for r in reports}
    return len(keys) == 1 and next(iter(keys))[0] == 'process'


__all__ = ['BOUNDS', 'chi2_sf', 'episodes_to_show', 'interval_text', 'judged_pairs',
           'mcnemar_p', 'pairable', 'paired_falls', 'rates_differ_p', 'wilson']

"""Several policies under one stress matrix, side by side (``symphony stress A.onnx B.onnx``).

Choosing between candidates (checkpoints of a run, students of a teacher) is the gate's
everyday use. Run with the same seed, each condition's episodes start alike and draw the
same perturbations for every policy, so the falls compare pair by pair within one run,
which is what a noisy machine allows (ten episodes cannot tell most candidates apart; fifty
can).
"""

from __future__ import annotations

import os
from typing import Dict, List, Optional, Sequence, Tuple

from .confidence import interval_text, judged_pairs, mcnemar_p, pairable
from .run import mean_of


def reached_text(reached: Sequence[float]) -> str:
    """Return the speed and yaw rate of a held command's mean (vx, vy, yaw rate) reached."""
    return f'{reached[0]:.2f} m/s, {reached[2]:.2f} rad/s'


def cell(c: Dict[str, object]) -> str:
    """Return a condition's falls of its episodes, with what tells a policy apart there.

    The kicks survived where it kicks; where it holds one command, the mean (vx, yaw rate)
    reached, so a policy that stands whatever it is told shows as one (0 falls, 0.00 m/s).
    """
    k, reached = c.get('kicks'), c.get('reached')
    kicks = f' ({k["survived"]}/{k["survived"] + k["fell"]} kicks)' if k else ''
    if reached:
        kicks += f' at {reached_text(reached)}'
    return f'{c["falls"]}/{c["episodes"]}{kicks}'


def labels(paths: Sequence[str]) -> List[str]:
    """Return a short, distinct label per policy path: its file name, else its path."""
    names = [os.path.basename(p) for p in paths]
    return names if len(set(names)) == len(names) else list(paths)


def compare_text(reports: Sequence[Tuple[str, Dict[str, object]]]) -> str:
    """Return a markdown table: falls per condition (and kicks survived) for each policy.

    The last rows sum the falls over the conditions each verdict judged and give the
    verdict. ``reports``: (label, report.json's content) per policy, in column order.
    """
    names: List[str] = []
    for _, r in reports:
        names += [n for n in r['conditions'] if n not in names]
    head = '| condition | ' + ' | '.join(f'`{label}`' for label, _ in reports) + ' |'
    rows = [head, '|---' * (len(reports) + 1) + '|']
    for n in names:
        cells = [cell(r['conditions'][n]) if n in r['conditions'] else '-' for _, r in reports]
        rows.append(f'| `{n}` | ' + ' | '.join(cells) + ' |')
    judged = [sum(r['conditions'][n]['falls'] for n in r['verdict']['judged'])
              for _, r in reports]
    episodes = [sum(r['conditions'][n]['episodes'] for n in r['verdict']['judged'])
                for _, r in reports]
    rows.append('| falls in the judged conditions (rate, 95 %) | '
                + ' | '.join(f'**{f}/{e}** ({interval_text(f, e)})'
                             for f, e in zip(judged, episodes)) + ' |')
    tracking = [_tracking(r) for _, r in reports]
    if any(t is not None for t in tracking):
        rows.append('| tracking error per stride, mean of the judged conditions (m/s) | '
                    + ' | '.join('-' if t is None else f'{t:.3f}' for t in tracking) + ' |')
    for key, label, unit in (('latency', 'latency budget', 'budget_ms'),
                             ('worst_depth', 'worst depth (of the way to `worst`)', 'budget')):
        if any(r.get(key) for _, r in reports):
            rows.append(f'| {label} | ' + ' | '.join(budget_cell(r.get(key), unit)
                                                     for _, r in reports) + ' |')
    rows.append('| verdict | ' + ' | '.join('PASS' if r['verdict']['passed'] else 'FAIL'
                                            for _, r in reports) + ' |')
    if len(reports) > 1 and pairable([r for _, r in reports]):
        rows.append(_paired_row(reports))
    return '\n'.join(rows) + '\n' + _ranking(reports, judged, episodes, tracking)


def budget_cell(budget: Optional[Dict[str, object]], key: str) -> str:
    """Say a report's budget (latency in ms, depth toward worst): '-' when not run."""
    if not budget:
        return '-'
    value = budget[key]
    return 'none' if value is None else f'{value:g}' + (' ms' if key == 'budget_ms' else '')


def _tracking(report: Dict[str, object]) -> Optional[float]:
    """Return the mean stride tracking error over the judged conditions (None: not measured).

    Beside the falls, since a command policy that stands whatever it is told falls least.
    """
    return mean_of([report['conditions'][n] for n in report['verdict']['judged']],
                   'stride_tracking_error')


def _ranking(reports: Sequence[Tuple[str, Dict[str, object]]], judged: List[int],
             episodes: List[int], tracking: List[Optional[float]]) -> str:
    """Rank three or more policies by their judged fall rate, fewest first.

    A table of many checkpoints is read for its best few; the order is by the rate seen,
    the intervals say which neighbours it cannot tell apart, and the tracking error whether
    the one that falls least still does what it is told.
    """
    if len(reports) < 3:
        return ''
    order = sorted(range(len(reports)), key=lambda i: (judged[i] / max(episodes[i], 1), i))
    items = [f'{k}. `{reports[i][0]}` {judged[i]}/{episodes[i]} '
             f'({interval_text(judged[i], episodes[i])})'
             + ('' if tracking[i] is None else f', tracking error {tracking[i]:.3f} m/s')
             for k, i in enumerate(order, 1)]
    return '\nFewest falls in the judged conditions first:\n\n' + '\n'.join(items) + '\n'


def _paired_row(reports: Sequence[Tuple[str, Dict[str, object]]]) -> str:
    """Each policy against the first, episode by episode: who fell where the other stood.

    p is McNemar's exact test that the two fall equally often; above 0.05 the difference
    in falls is within what chance makes of this many episodes.
    """
    first = reports[0][1]
    cells = ['-']
    for _, r in reports[1:]:
        worse, better = judged_pairs(r, first)
        cells.append(f'{worse} / {better}, p {mcnemar_p(worse, better):.2g}')
    return (f'| fell where `{reports[0][0]}` stood / stood where it fell, judged episodes '
            '(McNemar p) | ' + ' | '.join(cells) + ' |')


__all__ = ['budget_cell', 'compare_text', 'labels']

"""Screening a training run's kept actors under stress, each actor once, best first.

A run's test return (a few nominal episodes) does not tell which of its actors to ship: G1
actors at their run's best test return fell in 20 to 30 of 30 stressed episodes. So each
kept actor (``--keep-actors``) gets a stress report under the same conditions and seeds,
in ``<out>/actor_<step>_stress/``, and one table ranks them. A report already there for the
same settings is read, not run again, so a screen can follow a run as it trains.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .compare import budget_cell, cell, reached_text
from .confidence import interval_text
from .run import mean_of

DEFAULT_CONDITIONS = ('nominal', 'training_mix')
"""The robot as modelled, and every knob drawn as training draws it: the two that told the
G1 actors apart at the least cost (a judged-condition matrix is eight times longer)."""

SCREEN_DIR = 'screen'
"""Default report folder of a screen, inside the run folder."""


@dataclass(frozen=True)
class Settings:
    """What makes two stress reports of one actor comparable."""

    conditions: Tuple[str, ...]
    episodes: int
    seed: int
    max_steps: Optional[int]

    def matches(self, report: Dict[str, Any]) -> bool:
        """Say whether ``report`` (a report.json's content) was made with these settings."""
        return (tuple(report.get('conditions', {})) == self.conditions
                and report.get('episodes') == self.episodes
                and report.get('seed') == self.seed
                and report.get('max_steps') == self.max_steps
                and report.get('through') == 'process')


def keeps_actors(run_dir: str) -> bool:
    """Say whether the run in ``run_dir`` keeps its actors (``--keep-actors true``)."""
    from ..core.run_dir import RunDirError, read_run_config
    try:
        return bool(read_run_config(run_dir)['train_config'].get('keep_actors'))
    except RunDirError:
        return False


def pick(actors: Sequence[Tuple[int, str]], every: int = 0, since: int = 0
         ) -> List[Tuple[int, str]]:
    """Return the actors at or after step ``since``, with ``every``: one per ``every`` steps.

    The one per ``every`` steps is the first actor at or past each multiple of ``every``
    (``every``, twice ``every``, ...): actors are kept at evaluation steps, which a resume
    can shift a few steps past a round number (330,016 for 330,000).
    """
    out, last = [], None
    for step, path in actors:
        bucket = step // every if every else step
        if bucket != last and step >= max(since, every):
            out.append((step, path))
        last = bucket
    return out


REPORT_NAME = re.compile(r'actor_(\d+)_stress')
"""A report folder's name (:func:`report_dir`): the step of its actor."""


def report_dir(out: str, step: int) -> str:
    """Return the report folder of the actor at ``step``."""
    return os.path.join(out, f'actor_{step:09d}_stress')


def branch_start(run_dir: str, kept: Sequence[Tuple[int, str]]) -> int:
    """Return the step of the kept actor a branch (``symphony branch``) started from; 0 else.

    A branch holds copies of its source's actors up to the step it branched at: the last of
    them is the actor it started from, the one its own are weighed against.
    """
    from ..core.run_branch import read_branch
    branch = read_branch(run_dir)
    if branch is None:
        return 0
    before = [step for step, _ in kept if step <= int(branch['step'])]
    return max(before, default=0)


def report_steps(out: str) -> Dict[int, str]:
    """Return the report folders in ``out`` by the step of their actor."""
    try:
        names = os.listdir(out)
    except OSError:
        return {}
    found = (REPORT_NAME.fullmatch(n) for n in names)
    return {int(m.group(1)): os.path.join(out, m.group(0)) for m in found if m}


def row(step: int, test_return: Optional[float], report: Dict[str, Any]) -> Dict[str, Any]:
    """Return an actor's screen row from its stress report: falls per condition and in all."""
    conds = report['conditions']
    falls = sum(c['falls'] for c in conds.values())
    episodes = sum(c['episodes'] for c in conds.values())
    return {'step': step, 'test_return': test_return,
            'conditions': {n: {'falls': c['falls'], 'episodes': c['episodes'],
                               'kicks': c.get('kicks'), 'reached': c.get('reached')}
                           for n, c in conds.items()},
            'falls': falls, 'episodes': episodes,
            'tracking_error': mean_of(list(conds.values()), 'stride_tracking_error'),
            'worst_depth': report.get('worst_depth'),
            'passed': report['verdict']['passed']}


def best(rows: Sequence[Dict[str, Any]], max_tracking_error: float = 0.0
         ) -> Optional[Dict[str, Any]]:
    """Return the row with the fewest falls (the later on a tie), None for none.

    With ``max_tracking_error`` only rows within it count: a command policy that stands
    whatever it is told falls least.
    """
    fit = [r for r in rows if not max_tracking_error or (
        r['tracking_error'] is not None and r['tracking_error'] <= max_tracking_error)]
    return min(fit, key=lambda r: (r['falls'] / max(r['episodes'], 1), -r['step']),
               default=None)


def corner_cells(metrics: Sequence[Dict[str, float]]) -> Dict[int, str]:
    """Return step -> the run's corner test at that evaluation (``hard_tests``), as a cell.

    The depth the actor was tested at and its falls (``0.3: 4/10``): how far into the corner
    its run judged it, beside how the stress matrix finds it.
    """
    return {int(r['step']): f'{r["corner_tested"]:g}: {r["corner_falls"]:g}/'
                            f'{r["corner_episodes"]:g}'
            for r in metrics if math.isfinite(r.get('corner_falls', math.nan))}


def table(rows: Sequence[Dict[str, Any]], conditions: Sequence[str],
          max_tracking_error: float = 0.0) -> str:
    """Return the screen as markdown: one row an actor by step, then the fewest falls.

    A row's ``corner`` (`corner_cells`), where any has one, gets a column.
    """
    depth = any(r.get('worst_depth') for r in rows)
    corner = any(r.get('corner') for r in rows)
    head = (['step', 'test return'] + [f'`{n}`' for n in conditions]
            + ['falls (95 %)', 'tracking error per stride (m/s)']
            + (['worst depth'] if depth else [])
            + (['corner test in training'] if corner else []) + ['verdict'])
    lines = ['| ' + ' | '.join(head) + ' |', '|---' * len(head) + '|']
    top = best(rows, max_tracking_error)
    for r in rows:
        mark = '**' if r is top else ''
        cells = ([f'{mark}{r["step"]:,}{mark}',
                  '-' if r['test_return'] is None else f'{r["test_return"]:,.0f}']
                 + ['-' if n not in r['conditions'] else cell(r['conditions'][n])
                    for n in conditions]
                 + [f'{r["falls"]}/{r["episodes"]} ({interval_text(r["falls"], r["episodes"])})',
                    '-' if r['tracking_error'] is None else f'{r["tracking_error"]:.3f}']
                 + ([budget_cell(r.get('worst_depth'), 'budget')] if depth else [])
                 + ([r.get('corner') or '-'] if corner else [])
                 + ['PASS' if r['passed'] else 'FAIL'])
        lines.append('| ' + ' | '.join(cells) + ' |')
    if top is None:
        within = f' within {max_tracking_error:g} m/s of tracking' if max_tracking_error else ''
        lines.append(f'\nNo actor screened{within} yet.')
    else:
        lines.append(f'\nFewest falls: step {top["step"]:,}, {top["falls"]} of '
                     f'{top["episodes"]} episodes'
                     + (f' (of the actors within {max_tracking_error:g} m/s of tracking)'
                        if max_tracking_error else '') + '.')
    return '\n'.join(lines) + '\n'


def _falls(c: Dict[str, Any]) -> str:
    reached = c.get('reached')
    return f'{c["falls"]}' + (f' ({reached_text(reached)})' if reached else '')


def compare_table(runs: Mapping[str, Mapping[int, Dict[str, Any]]],
                  conditions: Sequence[str]) -> str:
    """Return runs side by side as markdown: a row a step, a cell a run's falls per condition.

    Each cell lists the falls of the conditions in order (``-`` where a run has no actor
    at that step), a held command's with the mean (vx, yaw rate) reached; the last row,
    each run's fewest falls in all.
    """
    names = [os.path.basename(os.path.normpath(r)) for r in runs]
    order = ' / '.join(f'`{n}`' for n in conditions)
    lines = [f'Falls per cell: {order}.\n', '| step | ' + ' | '.join(names) + ' |',
             '|---' * (len(names) + 1) + '|']
    for step in sorted({s for rows in runs.values() for s in rows}):
        cells = []
        for rows in runs.values():
            r = rows.get(step)
            cells.append('-' if r is None else ' / '.join(
                _falls(r['conditions'][n]) if n in r['conditions'] else '-'
                for n in conditions))
        lines.append(f'| {step:,} | ' + ' | '.join(cells) + ' |')
    tops = [best(list(rows.values())) for rows in runs.values()]
    lines.append('| fewest falls | ' + ' | '.join(
        '-' if t is None else f'{t["falls"]}/{t["episodes"]} at {t["step"]:,}'
        for t in tops) + ' |')
    return '\n'.join(lines) + '\n'

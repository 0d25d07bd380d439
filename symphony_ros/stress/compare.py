"""Several policies under one stress matrix, side by side (``symphony stress A.onnx B.onnx``).

Choosing between candidates (checkpoints of a run, students of a teacher) is the gate's
everyday use. Run with the same seed, each condition's episodes start alike and draw the
same perturbations for every policy, so the falls compare pair by pair within one run,
which is what a noisy machine allows (ten episodes cannot tell most candidates apart; fifty
can).
"""

from __future__ import annotations

import os
from typing import Dict, List, Sequence, Tuple


def _cell(c: Dict[str, object]) -> str:
    k = c.get('kicks')
    kicks = f' ({k["survived"]}/{k["survived"] + k["fell"]} kicks)' if k else ''
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
        cells = [_cell(r['conditions'][n]) if n in r['conditions'] else '-' for _, r in reports]
        rows.append(f'| `{n}` | ' + ' | '.join(cells) + ' |')
    judged = [sum(r['conditions'][n]['falls'] for n in r['verdict']['judged'])
              for _, r in reports]
    episodes = [sum(r['conditions'][n]['episodes'] for n in r['verdict']['judged'])
                for _, r in reports]
    rows.append('| falls in the judged conditions | '
                + ' | '.join(f'**{f}/{e}**' for f, e in zip(judged, episodes)) + ' |')
    rows.append('| verdict | ' + ' | '.join('PASS' if r['verdict']['passed'] else 'FAIL'
                                            for _, r in reports) + ' |')
    return '\n'.join(rows) + '\n'


__all__ = ['compare_text', 'labels']

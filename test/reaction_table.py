"""The watchdog suite's reaction-time table, gathered across pytest-xdist workers too.

The root conftest registers the hooks: under ``-n`` the rows are recorded in the workers,
and only the controller, which loads the root conftest alone, prints the table.
"""

from __future__ import annotations

import os
from typing import Dict, List, Tuple

import numpy as np

TABLE_PATH = os.path.join(os.path.dirname(__file__), '..', 'out', 'watchdog',
                          'reaction_times.md')
WORKER_KEY = 'watchdog_reactions'


class Reactions:
    """Reaction times per fault: (what is measured, seconds...)."""

    def __init__(self):
        self.rows: Dict[str, Tuple[str, List[float]]] = {}

    def add(self, fault: str, measured: str, seconds: float) -> None:
        """Record one reaction time."""
        self.rows.setdefault(fault, (measured, []))[1].append(seconds)

    def table(self) -> str:
        """Markdown table: fault, measured until, n, p50, max (ms)."""
        lines = ['| fault injected | reaction measured until | n | p50 (ms) | max (ms) |',
                 '|---|---|---|---|---|']
        for fault, (measured, values) in sorted(self.rows.items()):
            v = np.array(values) * 1e3
            lines.append(f'| {fault} | {measured} | {len(v)} | {np.median(v):.1f} | '
                         f'{v.max():.1f} |')
        return '\n'.join(lines) + '\n'


REACTIONS = Reactions()


def hand_to_controller(config) -> None:
    """In a pytest-xdist worker, pass this worker's rows on (``workeroutput``).

    As plain floats: execnet cannot send numpy scalars, and a worker that fails to send its
    output is reported as crashed.
    """
    out = getattr(config, 'workeroutput', None)
    if out is not None:
        out[WORKER_KEY] = {f: [m, [float(x) for x in v]] for f, (m, v) in REACTIONS.rows.items()}


def take_from_worker(node) -> None:
    """In the controller, add the rows a finished worker passed on."""
    for fault, (measured, values) in getattr(node, 'workeroutput', {}).get(
            WORKER_KEY, {}).items():
        for seconds in values:
            REACTIONS.add(fault, measured, seconds)


def write_table(terminalreporter) -> None:
    """Print the table and write it where the README can take it from (if any rows).

    Not in a pytest-xdist worker: its rows are a part of the table, and two workers would
    overwrite each other's file; the controller writes the whole.
    """
    if not REACTIONS.rows or hasattr(terminalreporter.config, 'workeroutput'):
        return
    table = REACTIONS.table()
    os.makedirs(os.path.dirname(TABLE_PATH), exist_ok=True)
    with open(TABLE_PATH, 'w') as f:
        f.write(table)
    terminalreporter.write_sep('=', 'watchdog reaction times over DDS')
    terminalreporter.write(table)
    terminalreporter.write_line(f'(written to {os.path.normpath(TABLE_PATH)})')

"""What a training run writes for people: metrics.csv, TensorBoard scalars, learning_curve.png."""

from __future__ import annotations

import csv
import os
from typing import Dict, List

# Imported with the module, not at the first plot: matplotlib's first import parses its
# style files with pyparsing, whose cache keeps the frames of that moment, and a first
# import inside a trainer's evaluation kept that trainer (and its replay) alive for good.
# The figure API needs no pyplot and leaves the process's backend alone.
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

METRIC_FIELDS = ('step', 'test_return_mean', 'test_return_std', 'episodes', 'falls',
                 'noise_falls', 'mean_S', 'steps_per_s', 'updates', 'reward_scale', 'wall_s')
TERM_PREFIX = 'reward/'
"""Columns ``reward/<term>``: an env's named reward terms, mean per-episode sum at evaluation
(after the fixed columns, in the order first seen)."""


class RunLog:
    """Metrics history of a run; rewritten whole at each evaluation so resumes stay clean.

    Columns are :data:`METRIC_FIELDS` then any further keys the rows bring, in the order
    they first appear (a distributed run adds its collector figures this way).
    """

    def __init__(self, run_dir: str, rows: List[Dict[str, float]] | None = None,
                 tensorboard: bool = True, title: str = '') -> None:
        self.run_dir, self.title = run_dir, title
        self.rows: List[Dict[str, float]] = list(rows or [])
        self.fields: List[str] = list(METRIC_FIELDS)
        for row in self.rows:
            self._add_fields(row)
        self._tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter
            # purge_step drops events a killed run logged after its last checkpoint.
            purge = int(self.rows[-1]['step']) + 1 if self.rows else None
            self._tb = SummaryWriter(os.path.join(run_dir, 'tb'), purge_step=purge)

    def scalar(self, tag: str, value: float, step: int) -> None:
        """Log one TensorBoard scalar."""
        if self._tb is not None:
            self._tb.add_scalar(tag, value, step)

    def _add_fields(self, row: Dict[str, float]) -> None:
        self.fields += [k for k in row if k not in self.fields]

    def record(self, row: Dict[str, float]) -> None:
        """Append an evaluation row; refresh metrics.csv, TensorBoard and the plot."""
        self._add_fields(row)
        self.rows.append({k: row.get(k, float('nan')) for k in self.fields})
        step = int(row['step'])
        for key in self.fields[1:]:
            tag = key if key.startswith(TERM_PREFIX) else f'train/{key}'
            self.scalar(tag, float(row.get(key, float('nan'))), step)
        if self._tb is not None:
            self._tb.flush()
        self._write_csv()
        self._plot()

    def _write_csv(self) -> None:
        path = os.path.join(self.run_dir, 'metrics.csv')
        tmp = path + '.tmp'
        with open(tmp, 'w', newline='') as f:
            writer = csv.DictWriter(f, fieldnames=self.fields, restval='')
            writer.writeheader()
            writer.writerows(self.rows)
        os.replace(tmp, path)

    def _plot(self) -> None:
        steps = [r['step'] for r in self.rows]
        mean = [r['test_return_mean'] for r in self.rows]
        std = [r['test_return_std'] for r in self.rows]
        fig = Figure(figsize=(7, 4), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.plot(steps, mean, color='tab:blue', label='test return (deterministic)')
        ax.fill_between(steps, [m - s for m, s in zip(mean, std)],
                        [m + s for m, s in zip(mean, std)], color='tab:blue', alpha=0.2)
        ax.set_xlabel('environment steps')
        ax.set_ylabel('episode return')
        if self.title:
            ax.set_title(self.title)
        if len(steps) == 1:  # one point: a readable x axis around it, not -0.4..0.4
            ax.set_xlim(0, max(2 * steps[0], 1))
        ax.grid(alpha=0.3)
        ax.legend(loc='upper left')
        fig.tight_layout()
        tmp = os.path.join(self.run_dir, '.learning_curve.png')
        fig.savefig(tmp, format='png')
        os.replace(tmp, os.path.join(self.run_dir, 'learning_curve.png'))

    def close(self) -> None:
        """Flush and close TensorBoard."""
        if self._tb is not None:
            self._tb.close()
            self._tb = None

"""What a run folder says about its training, read without disturbing it.

`symphony inspect RUN_DIR` reads this beside a trainer that may be writing the folder, so it
only reads, and only files the trainer replaces atomically (config.json, metrics.csv,
checkpoints). Whether a trainer holds the folder comes from the kernel's lock table, not from
taking the lock: even a momentary probe could make the trainer's own start refuse the folder.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from .checkpoint import list_checkpoints, replay_path, step_of
from .run_branch import read_branch
from .run_dir import (best_starts_at, CONFIG_FILE, read_run_config, RunDirError,
                      stored_scale_in_force)
from .snapshot import ACTORS, BEST

METRICS_FILE = 'metrics.csv'
LOCKS_TABLE = '/proc/locks'


@dataclass(frozen=True)
class RunSummary:
    """A run folder's state: its identity, its evaluations and what it holds on disk."""

    path: str
    train: Dict[str, Any]
    """config.json's ``train_config``."""
    sym: Dict[str, Any]
    """config.json's ``symphony_config`` (the resolved learner settings)."""
    rows: List[Dict[str, float]]
    """metrics.csv, one row per evaluation, oldest first."""
    metrics_problem: str
    """Why metrics.csv could not be read ('' when it was, or when there is none yet)."""
    checkpoint: Optional[str]
    """The newest checkpoint file, None before the first."""
    exact_resume: bool
    """The newest checkpoint has its replay buffer beside it (a resume continues exactly)."""
    actors: int
    """Kept actors (``--keep-actors``) in ``actors/``."""
    has_best: bool
    """``best_actor.pt`` is there (what ``symphony export RUN_DIR`` takes)."""
    trainer_pid: Optional[int]
    """The process training in the folder now; None when none (or no lock table to ask)."""
    branched_from: Optional[Dict[str, Any]] = None
    """What ``symphony branch`` made the run from (source, step, replay); None: not a branch."""

    @property
    def step(self) -> int:
        """Return the env step of the newest checkpoint (0 before the first)."""
        return step_of(self.checkpoint) if self.checkpoint else 0

    @property
    def best_since(self) -> int:
        """The env step from which the best test return counts (0: the run's start)."""
        return best_starts_at(self.train.get('curriculum') or [])

    @property
    def best(self) -> Optional[Dict[str, float]]:
        """The evaluation row with the best mean test return since :attr:`best_since`.

        That is best_actor.pt's row: the trainer's best starts over at a change of reward
        weights or commands, so an older, higher return summed other terms.
        """
        since = self.best_since
        scored = [r for r in self.rows if math.isfinite(r.get('test_return_mean', math.nan))
                  and (r['step'] > since or not since)]
        return max(scored, key=lambda r: r['test_return_mean']) if scored else None

    @property
    def scale_in_force(self) -> float:
        """The randomisation scale the run trains under at its newest checkpoint."""
        return stored_scale_in_force(self.train, self.step)


def read_run(run_dir: str) -> RunSummary:
    """Read what ``run_dir`` holds.

    :raises RunDirError: no run there (config.json missing) or an unreadable config.json,
        naming the file. An unreadable metrics.csv is reported in the summary instead, since
        the rest of the folder (checkpoints, actors) is still worth showing.
    """
    if not os.path.isdir(run_dir):
        raise RunDirError(f'{run_dir}: no such folder')
    if not os.path.isfile(os.path.join(run_dir, CONFIG_FILE)):
        if os.path.isfile(os.path.join(run_dir, BEST)) or list_checkpoints(run_dir):
            raise RunDirError(f'{run_dir}: holds an actor but no {CONFIG_FILE}, so no run to '
                              f'say more of; `symphony export {run_dir} -o policy.onnx` makes '
                              'a policy of it')
        raise RunDirError(f'{run_dir}: neither a policy file nor a run folder ({CONFIG_FILE} '
                          'missing; `symphony train --run-dir` writes one)')
    stored = read_run_config(run_dir)
    rows, problem = read_metrics(os.path.join(run_dir, METRICS_FILE))
    found = list_checkpoints(run_dir)
    newest = found[-1] if found else None
    actors = os.path.join(run_dir, ACTORS)
    kept = len([n for n in os.listdir(actors) if n.endswith('.pt')]) if os.path.isdir(
        actors) else 0
    return RunSummary(
        path=run_dir, train=dict(stored['train_config']), sym=dict(stored['symphony_config']),
        rows=rows, metrics_problem=problem, checkpoint=newest,
        exact_resume=bool(newest) and os.path.isfile(replay_path(run_dir, step_of(newest))),
        actors=kept, has_best=os.path.isfile(os.path.join(run_dir, BEST)),
        trainer_pid=lock_holder(run_dir), branched_from=read_branch(run_dir))


def read_metrics(path: str) -> Tuple[List[Dict[str, float]], str]:
    """Return (rows, problem) of a metrics.csv: its rows as floats, or why it is unreadable.

    A run that has not evaluated yet has no file: no rows and no problem.
    """
    if not os.path.isfile(path):
        return [], ''
    try:
        with open(path, newline='') as f:
            rows = [{k: _number(v) for k, v in row.items() if k} for row in csv.DictReader(f)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return [], f'{path}: unreadable ({exc})'
    bad = [i for i, r in enumerate(rows, 2) if not math.isfinite(r.get('step', math.nan))]
    if bad:
        return [], f'{path}: line {bad[0]} has no step number'
    return rows, ''


def _number(text: Optional[str]) -> float:
    try:
        return float(text) if text not in (None, '') else math.nan
    except ValueError:
        return math.nan


def lock_holder(run_dir: str, table: str = LOCKS_TABLE) -> Optional[int]:
    """Return the PID holding the trainer's flock on ``run_dir``, from the kernel's lock table.

    Lines of /proc/locks read ``1: FLOCK ADVISORY WRITE <pid> <major>:<minor>:<inode> 0 EOF``
    (device numbers in hex). None when no process holds it or the table cannot be read.
    """
    try:
        st = os.stat(run_dir)
        with open(table) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    want = (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
    for line in lines:
        parts = line.split()
        if '->' in parts or len(parts) < 6 or parts[1] != 'FLOCK':
            continue  # '->' marks a request still waiting for the lock, not a holder
        try:
            major, minor, inode = parts[5].split(':')
            if (int(major, 16), int(minor, 16), int(inode)) == want:
                return int(parts[4])
        except ValueError:
            continue
    return None


__all__ = ['lock_holder', 'read_metrics', 'read_run', 'RunSummary']

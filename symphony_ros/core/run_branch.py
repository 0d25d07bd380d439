"""Branching a training run: a new run folder that resumes from one of another run's checkpoints.

A change of reward, ranges or commands is tried from a step a run has passed, and the run
itself goes on untouched. The branch holds what ``--resume`` reads: ``config.json`` (its
``run_dir`` the branch), the chosen checkpoint with its replay when the source kept one
(only the newest checkpoint does), ``metrics.csv`` to that step, and the actors kept to it.
TensorBoard logs and ``randomization.jsonl`` stay with the source. Files are hard-linked
where the file system allows (a run replaces its files, never rewrites them, so a link
cannot change under the branch), and the folder appears whole or not at all.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
from dataclasses import dataclass
from typing import List, Optional

from ..util.atomic import atomic_write
from .checkpoint import (CheckpointError, checkpoint_step, ckpt_path, list_checkpoints,
                         replay_path, safe_torch_load)
from .run_dir import CONFIG_FILE, RunDirError, read_run_config
from .snapshot import ACTORS, BEST

METRICS = 'metrics.csv'
_ACTOR = re.compile(r'^actor_(\d{9})\.pt$')


@dataclass(frozen=True)
class Branch:
    """What :func:`branch_run` made."""

    source: str
    target: str
    step: int
    """The step of the checkpoint the branch resumes from."""
    replay: bool
    """Whether its replay came along (else a resume refills the buffer)."""
    actors: int
    """Kept actors carried over (those at or before ``step``)."""
    best: bool
    """Whether best_actor.pt came along (not when the source's is from after ``step``)."""


def pick_checkpoint(run_dir: str, at: Optional[int]) -> str:
    """Return the checkpoint of ``run_dir`` nearest step ``at`` (None: the newest).

    Checkpoints wait for an episode's end, so one taken for step S sits a few hundred steps
    past it; the nearest is taken, and one further than a checkpoint interval is refused.
    :raises RunDirError: no checkpoint, or none near ``at`` (naming the nearest kept).
    """
    found = list_checkpoints(run_dir)
    if not found:
        raise RunDirError(f'{run_dir}: no checkpoint to branch from (checkpoints/'
                          'ckpt_<step>.pt)')
    if at is None:
        return found[-1]
    steps = [checkpoint_step(p) for p in found]
    nearest = min(range(len(found)), key=lambda i: abs(steps[i] - at))
    every = int(read_run_config(run_dir)['train_config'].get('checkpoint_every') or 0)
    if abs(steps[nearest] - at) > every:
        before = [s for s in steps if s <= at][-1:]
        after = [s for s in steps if s > at][:1]
        kept = ' and '.join(f'{s:,}' for s in before + after)
        raise RunDirError(f'{run_dir}: no checkpoint near step {at:,} (the nearest kept: '
                          f'{kept}); a run keeps its newest two unless trained with '
                          '--keep-checkpoints true')
    return found[nearest]


def branch_run(source: str, target: str, at: Optional[int] = None) -> Branch:
    """Make run folder ``target`` resume from ``source``'s checkpoint nearest step ``at``.

    :raises RunDirError: ``target`` exists, ``source`` is no run, or no checkpoint is near.
    """
    if os.path.exists(target):
        raise RunDirError(f'{target}: exists; a branch is a new run folder')
    stored = read_run_config(source)
    path = pick_checkpoint(source, at)
    step = checkpoint_step(path)
    partial = os.path.join(os.path.dirname(os.path.abspath(target)),
                           f'.{os.path.basename(os.path.normpath(target))}.partial')
    shutil.rmtree(partial, ignore_errors=True)      # a branch cut short before
    try:
        replay = _fill(source, partial, target, stored, step)
        actors = _link_actors(source, partial, step)
        best = _link_best(source, partial, step)
        os.rename(partial, target)
    except FileNotFoundError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise RunDirError(f'{source}: {exc.filename} went while it was branched (the run, '
                          'still training, pruned it); branch again') from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return Branch(source, target, step, replay, actors, best)


def _fill(source: str, partial: str, target: str, stored: dict, step: int) -> bool:
    """Write the branch's config, metrics and checkpoint; return whether a replay came."""
    os.makedirs(os.path.join(partial, 'checkpoints'))
    stored = dict(stored, train_config=dict(stored['train_config'], run_dir=target))
    atomic_write(os.path.join(partial, CONFIG_FILE),
                 lambda f: f.write(json.dumps(stored, indent=2).encode()))
    _link(ckpt_path(source, step), ckpt_path(partial, step))
    replay = os.path.exists(replay_path(source, step))
    if replay:
        _link(replay_path(source, step), replay_path(partial, step))
    metrics = os.path.join(source, METRICS)
    if os.path.isfile(metrics):
        with open(metrics, newline='') as f:
            text = _rows_to(f.read(), step)
        atomic_write(os.path.join(partial, METRICS), lambda f: f.write(text.encode()))
    return replay


def _rows_to(text: str, step: int) -> str:
    """Return metrics.csv's ``text`` without the rows after ``step``."""
    rows = list(csv.reader(io.StringIO(text)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator='\n')
    writer.writerows(rows[:1] + [r for r in rows[1:] if r and int(float(r[0])) <= step])
    return out.getvalue()


def _link_actors(source: str, partial: str, step: int) -> int:
    folder = os.path.join(source, ACTORS)
    names: List[str] = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    kept = [n for n in names if _ACTOR.match(n) and int(_ACTOR.match(n).group(1)) <= step]
    if kept:
        os.makedirs(os.path.join(partial, ACTORS))
    for name in kept:
        _link(os.path.join(folder, name), os.path.join(partial, ACTORS, name))
    return len(kept)


def _link_best(source: str, partial: str, step: int) -> bool:
    path = os.path.join(source, BEST)
    if not os.path.isfile(path):
        return False
    try:
        taken = int(safe_torch_load(path).get('step', step + 1))
    except CheckpointError:
        return False
    if taken > step:
        return False
    _link(path, os.path.join(partial, BEST))
    return True


def _link(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        shutil.copy2(src, dst)      # another file system, or one without hard links


__all__ = ['Branch', 'branch_run', 'pick_checkpoint']

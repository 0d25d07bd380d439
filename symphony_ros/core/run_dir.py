"""The run folder: its ``config.json``, and the checks made before a run may use the folder.

A run folder holds one run: its identity (``config.json``: the TrainConfig and resolved
Symphony config), checkpoints, ``best_actor.pt``, metrics and logs. Everything here reads or
refuses; the only write is :func:`write_run_config`, made once every check has passed, so a
refused run leaves the folder as it was.
"""

from __future__ import annotations

import json
import os
from typing import Dict

from ..util.atomic import atomic_write
from .checkpoint import latest_checkpoint
from .config import SymphonyConfig, TrainConfig
from .envs import canonical_env_id
from .snapshot import BEST

CONFIG_FILE = 'config.json'
RANDOMIZATION_LOG = 'randomization.jsonl'
"""One JSON line per training episode of a randomised run: that episode's draws."""
RESUMABLE = ('steps', 'device', 'exact_resume', 'threads')
"""TrainConfig fields a resume may change. The others are the run's identity, except
``run_dir``: where a run folder lives (relative path, moved, copied) is not part of it."""

Identity = Dict[str, Dict[str, object]]
"""What ``config.json`` holds: ``train_config`` and ``symphony_config`` as plain dicts."""


class RunDirError(ValueError):
    """A run folder that cannot be used as asked (another run, nothing to resume...)."""


def identity(cfg: TrainConfig, sym: SymphonyConfig) -> Identity:
    """Return the run identity of ``cfg`` and its resolved ``sym`` (``config.json``'s content)."""
    return {'train_config': cfg.to_dict(), 'symphony_config': sym.to_dict()}


def read_run_config(run_dir: str) -> Identity:
    """Read the ``config.json`` of a run folder.

    :raises RunDirError: naming the file, when it is missing, unreadable or malformed.
    """
    path = os.path.join(run_dir, CONFIG_FILE)
    if not os.path.isfile(path):
        raise RunDirError(f'--resume: {run_dir} holds no run ({CONFIG_FILE} missing)')
    try:
        with open(path) as f:
            stored = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunDirError(f'{path}: not a readable run config ({exc})') from None
    if not (isinstance(stored, dict) and isinstance(stored.get('train_config'), dict)
            and isinstance(stored.get('symphony_config'), dict)):
        raise RunDirError(f'{path}: expected train_config and symphony_config objects')
    return stored


def write_run_config(run_dir: str, ident: Identity) -> None:
    """Write ``config.json`` (atomically), making the folder if needed."""
    os.makedirs(run_dir, exist_ok=True)
    path = os.path.join(run_dir, CONFIG_FILE)
    atomic_write(path, lambda f: f.write(json.dumps(ident, indent=2).encode()))


def _flag(name: str) -> str:
    return '--' + name.replace('_', '-')


def resume_config(run_dir: str, given: Dict[str, object],
                  given_overrides: Dict[str, object]) -> TrainConfig:
    """Return the TrainConfig to resume the run in ``run_dir``: its config.json plus ``given``.

    A setting given must agree with the stored one, except :data:`RESUMABLE` (more steps,
    another device) and ``run_dir`` (a run folder may be moved or named another way).

    :param given: TrainConfig fields set explicitly (flags), by name.
    :param given_overrides: algorithm settings set explicitly, compared with the run's
        resolved Symphony config (``--lr`` equal to the named config's value agrees).
    :raises RunDirError: naming the flag, the stored value and the given one.
    """
    stored = read_run_config(run_dir)
    path = os.path.join(run_dir, CONFIG_FILE)
    train, sym = dict(stored['train_config']), stored['symphony_config']
    pairs = [(k, v, train.get(k)) for k, v in given.items()
             if k not in RESUMABLE + ('run_dir',)]
    pairs += [(k, v, sym.get(k)) for k, v in given_overrides.items()]
    for name, mine, theirs in pairs:
        if name == 'env':  # a run of Humanoid-v4 resumes as symphony/Humanoid-v4
            mine, theirs = canonical_env_id(str(mine)), canonical_env_id(str(theirs))
        if mine != theirs:
            raise RunDirError(f'--resume: {_flag(name)} {mine} disagrees with the run: {path} '
                              f'has {name} {theirs}; leave {_flag(name)} out to keep it')
    train.update({k: v for k, v in given.items() if k in RESUMABLE}, run_dir=run_dir)
    try:
        return TrainConfig(**train)
    except (TypeError, ValueError) as exc:
        raise RunDirError(f'{path}: train_config: {exc}') from None


def _writable_folder(path: str) -> None:
    """Check that ``path`` is a folder or can be made one; write nothing."""
    if not path.strip():
        raise RunDirError("--run-dir '': expected a folder path")
    if os.path.exists(path) and not os.path.isdir(path):
        raise RunDirError(f'--run-dir {path}: exists and is not a folder')
    probe = os.path.abspath(path)
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise RunDirError(f'--run-dir {path}: {probe} is a file, not a folder')
    if not os.access(probe, os.W_OK | os.X_OK):
        raise RunDirError(f'--run-dir {path}: cannot write in {probe} (permission denied)')


def _identity_diff(theirs: Identity, mine: Identity) -> list:
    """Return (field, stored, given) for each identity field that differs.

    :data:`RESUMABLE` fields and ``run_dir`` are not compared; a TrainConfig field added
    since the run was written counts as its default; ``env`` is compared by canonical id.
    """
    ignore = RESUMABLE + ('run_dir',)
    stored = dict(TrainConfig().to_dict(), **theirs['train_config'])
    a = {k: v for k, v in stored.items() if k not in ignore}
    b = {k: v for k, v in mine['train_config'].items() if k not in ignore}
    for d in (a, b):  # a run of Humanoid-v4 resumes as symphony/Humanoid-v4
        d['env'] = canonical_env_id(str(d.get('env', '')))
    diff = [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    diff += [(k, theirs['symphony_config'].get(k), v)
             for k, v in mine['symphony_config'].items()
             if theirs['symphony_config'].get(k) != v]
    return diff


def check_run_dir(run_dir: str, mine: Identity, resume: bool) -> None:
    """Refuse a run folder that cannot be used as asked; write nothing.

    A fresh run needs a folder without a started run; a resume needs this run's
    ``config.json`` (same identity, see :func:`_identity_diff`) and a checkpoint.

    :param mine: the identity of the run about to use the folder (:func:`identity`).
    :raises RunDirError: naming the folder or file and what is wrong with it.
    """
    _writable_folder(run_dir)
    path = os.path.join(run_dir, CONFIG_FILE)
    best = os.path.join(run_dir, BEST)
    started = latest_checkpoint(run_dir) or (best if os.path.exists(best) else None)
    if not resume:
        # A config.json alone (a run refused or killed before its first checkpoint)
        # holds nothing to lose: the folder may be used again.
        if started:
            raise RunDirError(f'{run_dir} already holds a run ({started}); pass '
                              '--resume to continue it or choose another --run-dir')
        return
    diff = _identity_diff(read_run_config(run_dir), mine)
    if diff:
        raise RunDirError(f'{path} was written by another run configuration (differs in: '
                          + ', '.join(f'{k} stored {x!r}, given {y!r}' for k, x, y in diff)
                          + ')')
    if latest_checkpoint(run_dir) is None:
        raise RunDirError(f'--resume: {run_dir} has no checkpoint yet; start it '
                          'afresh without --resume')


__all__ = ['CONFIG_FILE', 'RANDOMIZATION_LOG', 'RESUMABLE', 'Identity', 'RunDirError',
           'check_run_dir', 'identity', 'read_run_config', 'resume_config',
           'write_run_config']

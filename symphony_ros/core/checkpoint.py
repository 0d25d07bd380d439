"""Atomic, code-free checkpoints of a training run.

A checkpoint is two files written in this order, each atomically (temp file, fsync,
os.replace, fsync of the folder): ``replay_<step>.pt`` (the Fading Replay Buffer) and
``ckpt_<step>.pt`` (networks, optimizer, RNG states, progress, configs). A checkpoint
counts only once its ``ckpt`` file exists, so a kill -9 at any moment leaves the previous
one intact. Files are loaded with ``torch.load(weights_only=True)``: no code runs.
"""

from __future__ import annotations

import os
import re
from typing import Any, Dict, List, Optional

import torch

from .atomic import atomic_write

FORMAT = 1
KEEP = 2
_CKPT = re.compile(r'^ckpt_(\d{9})\.pt$')


class CheckpointError(ValueError):
    """A checkpoint file that is missing, truncated, corrupt or of another format."""


def atomic_torch_save(obj: Any, path: str) -> None:
    """Write ``obj`` to ``path`` so that readers see the old file or the new one, never half."""
    atomic_write(path, lambda f: torch.save(obj, f))


def safe_torch_load(path: str) -> Dict[str, Any]:
    """Load a dict saved by :func:`atomic_torch_save` without executing code.

    :raises CheckpointError: naming the file and what is wrong with it.
    """
    if not os.path.isfile(path):
        raise CheckpointError(f'{path}: no such checkpoint file')
    try:
        obj = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as exc:  # torch raises many types for damaged files
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f'{path}: not a readable checkpoint ({reason[:200]})') from None
    if not isinstance(obj, dict):
        raise CheckpointError(f'{path}: expected a dict, found {type(obj).__name__}')
    return obj


def ckpt_path(run_dir: str, step: int) -> str:
    """Path of the checkpoint for ``step``."""
    return os.path.join(run_dir, 'checkpoints', f'ckpt_{step:09d}.pt')


def replay_path(run_dir: str, step: int) -> str:
    """Path of the replay buffer saved with the checkpoint for ``step``."""
    return os.path.join(run_dir, 'checkpoints', f'replay_{step:09d}.pt')


def checkpoint_step(path: str) -> Optional[int]:
    """Return the step of a checkpoint file name (``ckpt_<step>.pt``), None for other names."""
    match = _CKPT.match(os.path.basename(path))
    return int(match.group(1)) if match else None


def list_checkpoints(run_dir: str) -> List[str]:
    """Checkpoint files of a run, oldest first."""
    folder = os.path.join(run_dir, 'checkpoints')
    if not os.path.isdir(folder):
        return []
    names = sorted(n for n in os.listdir(folder) if _CKPT.match(n))
    return [os.path.join(folder, n) for n in names]


def latest_checkpoint(run_dir: str) -> Optional[str]:
    """Newest checkpoint file of a run, or None."""
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def save_checkpoint(run_dir: str, step: int, state: Dict[str, Any],
                    replay: Dict[str, Any]) -> str:
    """Write replay then checkpoint for ``step`` and prune to the newest :data:`KEEP`."""
    atomic_torch_save(replay, replay_path(run_dir, step))
    state = dict(state, format=FORMAT, step=step)
    path = ckpt_path(run_dir, step)
    atomic_torch_save(state, path)
    for old in list_checkpoints(run_dir)[:-KEEP]:
        old_step = int(_CKPT.match(os.path.basename(old)).group(1))
        for p in (old, replay_path(run_dir, old_step)):
            if os.path.exists(p):
                os.unlink(p)
    return path


def load_checkpoint(path: str) -> Dict[str, Any]:
    """Load and validate a checkpoint file (without its replay buffer).

    :raises CheckpointError: unreadable file, wrong format or missing fields.
    """
    state = safe_torch_load(path)
    if state.get('format') != FORMAT:
        raise CheckpointError(f'{path}: checkpoint format {state.get("format")!r} is not '
                              f'supported (expected {FORMAT})')
    missing = [k for k in ('step', 'agent', 'train_config', 'symphony_config', 'obs_dim',
                           'act_dim') if k not in state]
    if missing:
        raise CheckpointError(f'{path}: checkpoint lacks {", ".join(missing)}')
    return state


def load_replay(run_dir: str, step: int) -> Dict[str, Any]:
    """Load the replay buffer saved with checkpoint ``step``."""
    return safe_torch_load(replay_path(run_dir, step))

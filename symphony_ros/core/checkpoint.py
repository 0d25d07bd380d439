"""Atomic, code-free checkpoints of a training run.

A checkpoint is ``ckpt_<step>.pt`` (networks, optimizer, RNG states, progress, configs),
preceded by ``replay_<step>.pt`` (the Fading Replay Buffer's data) when the run keeps exact
resume; each file is written atomically (temp file, fsync, os.replace, fsync of the folder).
A checkpoint counts only once its ``ckpt`` file exists, so a kill -9 at any moment leaves the
previous one intact. Only the newest checkpoint keeps its replay file (the buffer is most of
a checkpoint's size, and a resume needs only the newest); the :data:`KEEP` - 1 older ones
keep networks and optimizer. Files are loaded with ``torch.load(weights_only=True)``: no
code runs.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import time
from dataclasses import dataclass
from typing import Any, BinaryIO, Dict, List, Optional, Tuple, Union

import torch

from ..util.atomic import atomic_write

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
    return _torch_load(path, path)


def hashed_torch_load(path: str) -> Tuple[Dict[str, Any], str]:
    """Load like :func:`safe_torch_load`; return the dict and the SHA-256 of the bytes loaded.

    The file is read once, so the hash names exactly what was loaded even when the path is
    replaced meanwhile (``best_actor.pt`` is rewritten while its run trains). Reads the whole
    file into memory: for networks and actor snapshots, not replay buffers.

    :raises CheckpointError: naming the file and what is wrong with it.
    """
    if not os.path.isfile(path):
        raise CheckpointError(f'{path}: no such checkpoint file')
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as exc:
        raise CheckpointError(f'{path}: cannot be read ({exc.strerror})') from None
    return _torch_load(io.BytesIO(data), path), hashlib.sha256(data).hexdigest()


def _torch_load(source: Union[str, BinaryIO], path: str) -> Dict[str, Any]:
    try:
        obj = torch.load(source, map_location='cpu', weights_only=True)
    except Exception as exc:  # torch raises many types for damaged files
        raise CheckpointError(f'{path}: not a readable checkpoint ({_reason(exc)}); expected '
                              'a file written by symphony train (ckpt_<step>.pt, '
                              'best_actor.pt)') from None
    if not isinstance(obj, dict):
        raise CheckpointError(f'{path}: expected a dict, found {type(obj).__name__}')
    return obj


def _reason(exc: BaseException) -> str:
    """Say why torch could not load a file, in our words.

    torch's own text advises re-running with ``weights_only=False``, which would execute
    code from the file: never repeat that advice, say what the file is instead.
    """
    text = str(exc)
    low = text.lower()
    if 'unsupported global' in low:
        return ('it holds Python objects, not only tensors and numbers, so it was not written '
                'by symphony train; it is not loaded, as that would run code from it')
    if isinstance(exc, EOFError) or 'ran out of input' in low or 'central directory' in low:
        return 'the file is truncated or damaged: its end is missing'
    if 'weights only load failed' in low or 'unpickl' in low or 'zip' in low or 'magic' in low:
        return 'not a torch file'
    first = text.splitlines()[0].rstrip(' .:') if text else type(exc).__name__
    return first[:160]


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


@dataclass(frozen=True)
class Saved:
    """What :func:`save_checkpoint` wrote: path, sizes in bytes and the time it took."""

    path: str
    ckpt_bytes: int
    replay_bytes: int
    seconds: float

    def line(self) -> str:
        """``checkpoint step 2,500: 12.1 MB (replay 27.6 MB) in 0.4 s``, for logs."""
        replay = (f' + replay {size_text(self.replay_bytes)}' if self.replay_bytes
                  else ' (no replay: resume re-fills the buffer)')
        return (f'checkpoint step {step_of(self.path):,}: {size_text(self.ckpt_bytes)}'
                f'{replay} in {self.seconds:.1f} s')


def size_text(n: int) -> str:
    """Write a byte count for people: ``812 kB``, ``27.6 MB``, ``1.18 GB``."""
    if n >= 1e9:
        return f'{n / 1e9:.2f} GB'
    return f'{n / 1e6:.1f} MB' if n >= 1e6 else f'{n / 1e3:.0f} kB'


def step_of(path: str) -> int:
    """Return the step in a checkpoint file name (``ckpt_000002500.pt`` -> 2500)."""
    match = _CKPT.match(os.path.basename(path))
    if match is None:
        raise CheckpointError(f'{path}: not a checkpoint file name (ckpt_<step>.pt)')
    return int(match.group(1))


def save_checkpoint(run_dir: str, step: int, state: Dict[str, Any],
                    replay: Optional[Dict[str, Any]], keep_all: bool = False) -> Saved:
    """Write replay (if given) then checkpoint for ``step``; prune older files.

    The newest :data:`KEEP` checkpoints stay (every one with ``keep_all``); replay files
    other than the newest one go.
    """
    t0 = time.perf_counter()
    replay_bytes = 0
    if replay is not None:
        atomic_torch_save(replay, replay_path(run_dir, step))
        replay_bytes = os.path.getsize(replay_path(run_dir, step))
    state = dict(state, format=FORMAT, step=step, has_replay=replay is not None)
    path = ckpt_path(run_dir, step)
    atomic_torch_save(state, path)
    found = list_checkpoints(run_dir)
    for old in found[:-1]:
        old_step = step_of(old)
        pruned = old in found[:-KEEP] and not keep_all
        stale = [replay_path(run_dir, old_step)] + ([old] if pruned else [])
        for p in stale:
            if os.path.exists(p):
                os.unlink(p)
    return Saved(path, os.path.getsize(path), replay_bytes, time.perf_counter() - t0)


def load_checkpoint(path: str) -> Dict[str, Any]:
    """Load and validate a checkpoint file (without its replay buffer).

    :raises CheckpointError: unreadable file, wrong format or missing fields.
    """
    return check_checkpoint(safe_torch_load(path), path)


def check_checkpoint(state: Dict[str, Any], path: str) -> Dict[str, Any]:
    """Return ``state``, read from ``path``, once it is a training checkpoint of this format.

    :raises CheckpointError: an actor snapshot, another format, or missing fields.
    """
    if state.get('kind') == 'actor':
        raise CheckpointError(f'{path}: an actor snapshot, not a training checkpoint: it '
                              'holds no critic; give its run folder or one of its '
                              'checkpoints/ckpt_<step>.pt')
    if state.get('format') != FORMAT:
        raise CheckpointError(f'{path}: checkpoint format {state.get("format")!r} is not '
                              f'supported (expected {FORMAT})')
    missing = [k for k in ('step', 'agent', 'train_config', 'symphony_config', 'obs_dim',
                           'act_dim') if k not in state]
    if missing:
        raise CheckpointError(f'{path}: checkpoint lacks {", ".join(missing)}')
    return state


def load_replay(run_dir: str, step: int) -> Optional[Dict[str, Any]]:
    """Load the replay buffer saved with checkpoint ``step``; None if it has none."""
    path = replay_path(run_dir, step)
    return safe_torch_load(path) if os.path.exists(path) else None

"""Actor snapshots: the deterministic policy of a run, without optimizer or replay state.

``best_actor.pt`` in a run folder is rewritten (atomically) at each new best test return;
export and evaluation read an actor from it, from a full checkpoint, or from a run folder.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from .checkpoint import (CheckpointError, atomic_torch_save, check_checkpoint,
                         latest_checkpoint, safe_torch_load)
from .config import SymphonyConfig
from .networks import Actor

BEST = 'best_actor.pt'


@dataclass
class ActorSource:
    """An actor with what is known about where it came from."""

    actor: Actor
    path: str
    symphony_config: SymphonyConfig
    train_config: Dict[str, Any]
    step: int
    test_return: Optional[float]
    env: str
    obs_spec: Optional[str]
    sha256: Optional[str] = None
    """Hex SHA-256 of the file the actor was read from, when the reader hashed its bytes."""
    obs_scales: Optional[Dict[str, List[float]]] = None
    """The spec's per-term factors it was trained with (None: not recorded, older files)."""
    randomization: Optional[Dict[str, Any]] = None
    """The training env's ranges (`RandomizationSpec.to_dict`; None: none, or not recorded)."""
    history: int = 1
    """Observations of the spec the actor takes at once, newest first (`FrameStack`)."""


ACTORS = 'actors'
"""Folder of a run's kept actors (``--keep-actors``): ``actor_<step>.pt``, best_actor's form."""
_KEPT = re.compile(r'^actor_(\d+)\.pt$')


def kept_actors(run_dir: str) -> List[Tuple[int, str]]:
    """Return (step, path) of each actor in ``run_dir/actors``, by step (none: [])."""
    folder = os.path.join(run_dir, ACTORS)
    return sorted((int(m.group(1)), os.path.join(folder, name))
                  for name in (os.listdir(folder) if os.path.isdir(folder) else ())
                  for m in [_KEPT.match(name)] if m)


def save_best_actor(run_dir: str, actor: Actor, info: Dict[str, Any]) -> str:
    """Write ``best_actor.pt`` with the actor's weights and ``info`` (configs, step...)."""
    return _save_actor(os.path.join(run_dir, BEST), actor, info)


def keep_actor(run_dir: str, actor: Actor, info: Dict[str, Any]) -> str:
    """Write ``actors/actor_<step>.pt`` (``info['step']``), read back as best_actor.pt is."""
    folder = os.path.join(run_dir, ACTORS)
    os.makedirs(folder, exist_ok=True)
    return _save_actor(os.path.join(folder, f'actor_{int(info["step"]):09d}.pt'), actor, info)


def _save_actor(path: str, actor: Actor, info: Dict[str, Any]) -> str:
    # CPU tensors: an actor trained on a GPU loads with a plain torch.load where none is.
    weights = {k: v.cpu() for k, v in actor.state_dict().items()}
    atomic_torch_save(dict(info, kind='actor', actor=weights), path)
    return path


def _build(state: Dict[str, Any], weights: Dict[str, Any], path: str,
           sha256: Optional[str] = None) -> ActorSource:
    cfg = SymphonyConfig.from_dict(state['symphony_config'])
    actor = Actor(int(state['obs_dim']), int(state['act_dim']), cfg.hidden_dim, cfg.noise_clip)
    try:
        actor.load_state_dict(weights)
    except RuntimeError as exc:
        raise CheckpointError(f'{path}: actor weights do not fit the stored config '
                              f'({str(exc).splitlines()[0]})') from None
    actor.eval()
    tc = state.get('train_config', {})
    return ActorSource(actor, path, cfg, tc, int(state.get('step', 0)),
                       state.get('test_return'), tc.get('env', ''), state.get('obs_spec'),
                       sha256, state.get('obs_scales'), state.get('randomization'),
                       int(tc.get('history', 1)))


def load_actor(path: str) -> ActorSource:
    """Load an actor from a run folder (best, else latest checkpoint) or a .pt file.

    :raises CheckpointError: nothing loadable at ``path``.
    """
    if os.path.isdir(path):
        best = os.path.join(path, BEST)
        target = best if os.path.isfile(best) else latest_checkpoint(path)
        if target is None:
            raise CheckpointError(f'{path}: run folder has neither {BEST} nor checkpoints/')
        path = target
    state = safe_torch_load(path)
    if state.get('kind') == 'actor':
        return actor_snapshot(state, path)
    state = check_checkpoint(state, path)
    return _build(state, state['agent']['actor'], path)


def actor_snapshot(state: Dict[str, Any], path: str,
                   sha256: Optional[str] = None) -> ActorSource:
    """Return the actor of a ``best_actor.pt`` already read from ``path`` (kind 'actor').

    ``sha256``: of the bytes ``state`` was loaded from, if the caller hashed them.

    :raises CheckpointError: a key the snapshot lacks, or weights that do not fit its config.
    """
    for key in ('actor', 'symphony_config', 'obs_dim', 'act_dim'):
        if key not in state:
            raise CheckpointError(f'{path}: actor snapshot lacks {key!r}')
    return _build(state, state['actor'], path, sha256)

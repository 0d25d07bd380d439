"""What ``--init-from`` names: a run's checkpoint, or an actor alone.

A run folder or ``checkpoints/ckpt_<step>.pt`` gives networks and optimizer; ``best_actor.pt``
or an exported policy (``.onnx``, e.g. a shipped model whose run is gone) gives an actor
alone, beside which the critic starts fresh.
"""

from __future__ import annotations

import os
from typing import Optional

from .checkpoint import CheckpointError, safe_torch_load
from .snapshot import ActorSource, load_actor


def actor_alone(source: str) -> Optional[ActorSource]:
    """Return the actor of ``source`` when it holds one alone; None for a checkpoint or run.

    :raises CheckpointError: an exported policy that cannot be read back into an actor,
        naming the file and why.
    """
    if source.lower().endswith('.onnx'):
        # Lazy: policy builds on core, not the other way round, and only this needs it.
        from ..policy.errors import PolicyError
        from ..policy.unfold import actor_from_policy
        try:
            return actor_from_policy(source)
        except PolicyError as exc:
            raise CheckpointError(f'--init-from {exc}') from None
    if os.path.isfile(source) and safe_torch_load(source).get('kind') == 'actor':
        return load_actor(source)
    return None


__all__ = ['actor_alone']

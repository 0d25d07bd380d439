"""How far a training run has got: what a checkpoint restores besides networks and replay."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Dict


@dataclass
class Progress:
    """How far a run has got: the one list of what a checkpoint restores besides networks."""

    step: int = 0
    episodes: int = 0
    falls: int = 0
    """Training episodes that ended by a fall while the actor acted."""
    noise_falls: int = 0
    """Falls in the deliberate fall before the time limit, where only noise acts: counted
    apart, since they say nothing of the actor and would make every long episode a fall."""
    updates: int = 0
    learning: bool = False
    warmup_from: int = 0
    """Step at which the current warm-up began (0; or a resume whose buffer was not kept)."""
    wall_s: float = 0.0
    mean_s: float = float('nan')
    best_return: float = -float('inf')
    last_return: float = float('nan')

    @classmethod
    def from_dict(cls, d: Dict[str, object], step: int) -> 'Progress':
        """Read a checkpoint's ``progress`` entry (also one written before this class)."""
        d = dict(d, step=step)
        if 'mean_S' in d:
            d['mean_s'] = d.pop('mean_S')
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


__all__ = ['Progress']

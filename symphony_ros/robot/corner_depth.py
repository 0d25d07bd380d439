"""How deep into the hard corner a run's corner episodes go, moved by how they end.

A ranges file's ``hard_depth: auto``: the corner episodes (``hard_share``) set every
`HARD_END` knob ``depth`` of the way from nominal toward its hard end, and the depth follows
the actor. After every `WINDOW` corner episodes it rises by `STEP` when at most `RAISE_AT`
of them fell, and falls back by `STEP` when at least `LOWER_AT` did. This is Automatic
Domain Randomization's boundary rule (OpenAI et al. 2019, "Solving Rubik's Cube with a
Robot Hand": a range's edge widens when episodes drawn at it do well, narrows when they do
badly) applied to the one corner the stress gate's ``worst`` condition tests. A fixed
corner that no actor survives teaches nothing (its episodes end in seconds whatever the
actor does); one held where about half of them stand up is where there is something to learn.

Pure data and arithmetic: the env wrapper records outcomes and reads the depth, the trainer
saves `state_dict` in its checkpoints, so a resumed run goes on at the depth it reached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

WINDOW = 10
"""Corner episodes judged together before the depth moves."""
STEP = 0.1
"""How far one move takes the depth (of the way from nominal to the hard end)."""
RAISE_AT = 0.5
"""Deeper when at most this share of a window's episodes fell."""
LOWER_AT = 0.9
"""Shallower when at least this share fell."""


@dataclass
class CornerDepth:
    """The adaptive depth and the outcomes of the corner episodes since it last moved."""

    depth: float = 0.0
    falls: List[bool] = field(default_factory=list)
    moves: int = 0
    """How many times the depth has moved (up or down) since the run began."""

    def record(self, fell: bool) -> Optional[float]:
        """Count one corner episode's outcome; return the new depth when it moves, else None.

        An episode that ended without a fall (the time limit, or cut short by its user) counts
        as stood: the depth errs toward harder.
        """
        self.falls.append(bool(fell))
        if len(self.falls) < WINDOW:
            return None
        share = sum(self.falls) / len(self.falls)
        self.falls = []
        if share <= RAISE_AT and self.depth < 1.0:
            new = min(1.0, self.depth + STEP)
        elif share >= LOWER_AT and self.depth > 0.0:
            new = max(0.0, self.depth - STEP)
        else:
            return None
        self.depth, self.moves = round(new, 6), self.moves + 1
        return self.depth

    def state_dict(self) -> Dict[str, Any]:
        """Return the state a checkpoint keeps (plain values)."""
        return {'depth': self.depth, 'falls': list(self.falls), 'moves': self.moves}

    @classmethod
    def from_state(cls, state: Dict[str, Any]) -> 'CornerDepth':
        """Rebuild from `state_dict`.

        :raises ValueError: a depth outside 0..1 or a window longer than `WINDOW`.
        """
        depth, falls = float(state['depth']), [bool(f) for f in state.get('falls', [])]
        if not 0.0 <= depth <= 1.0 or len(falls) >= WINDOW:
            raise ValueError(f'corner depth state: expected depth 0..1 and fewer than {WINDOW} '
                             f'pending outcomes, got {depth} and {len(falls)}')
        return cls(depth, falls, int(state.get('moves', 0)))


__all__ = ['LOWER_AT', 'RAISE_AT', 'STEP', 'WINDOW', 'CornerDepth']

"""How much each observation term weighs in the actor's first layer, from warm-up data.

The first Linear sums every input with weights drawn alike at initialisation, so a term's
share of a hidden unit's variance is its share of the observation's mean square; the
LayerNorm after it rescales the sum, not the shares. A term with a tiny share barely moves
the actor until learning grows its weights, which Adam does by about the learning rate per
update whatever the input's size: in effect the actor does not see it. A spec's ``scales``
(README, Observations) weigh such a term.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from ..util.layout import term_slices

FAINT = 1e-3
"""A term below this share of the observation's mean square is reported."""


def term_shares(obs: np.ndarray, terms: Sequence[Tuple[str, int]]) -> Dict[str, float]:
    """Return each term's share of the mean square of observations ``obs`` ([n, dim])."""
    energy = np.mean(np.square(np.asarray(obs, dtype=np.float64)), axis=0)
    total = float(energy.sum())
    return {name: float(energy[s].sum()) / total if total > 0 else 0.0
            for name, s in term_slices(terms).items()}


def faint_terms_note(obs: np.ndarray, terms: Sequence[Tuple[str, int]],
                     spec: str) -> Optional[str]:
    """Return a line naming the terms of ``spec`` below `FAINT` of the input; None if none.

    Terms that are zero throughout (nothing to see yet) are not named.
    """
    shares = term_shares(obs, terms)
    faint = [(name, s) for name, s in shares.items() if 0.0 < s < FAINT]
    if not faint:
        return None
    heavy = max(shares, key=shares.get)
    listed = ', '.join(f'{name} {s:.0e}' for name, s in faint)
    return (f'observation {spec}: {listed} of the input\'s mean square over the warm-up '
            f'({heavy} {shares[heavy]:.0%}): the actor\'s first layer barely sees '
            f'{"it" if len(faint) == 1 else "them"} until learning grows the weights; a spec '
            'that scales its terms weighs them (README, Observations)')


__all__ = ['FAINT', 'faint_terms_note', 'term_shares']

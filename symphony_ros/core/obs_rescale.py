"""Moving a run onto a spec that scales its observation otherwise, computing what it computed.

Every network takes the observation through its first Linear, W x + b. An input scaled k
times larger (x' = k x) with its weight column divided by k (W' = W / k) gives W' x' = W x:
the actor acts and the critics judge exactly as before. What changes is learning: Adam moves
each weight by about the learning rate whatever its gradient, so through a column whose input
is k times larger the output moves k times as fast, and a faint input is learnt sooner. The
optimizer's moments follow their weights' units (m x k, v x k^2), so the next update has the
direction it would have had, and the replay's stored observations are rescaled alike.
"""

from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch

from .agent_inputs import ACTORS, CRITICS, edit_inputs
from .replay import CLEAN_FIELDS, CRITIC_FIELDS

ACTOR_FIELDS = ('obs', 'next_obs') + CLEAN_FIELDS
"""Replay fields that hold the actor's (stacked) observation."""


def frame_factors(terms: Sequence[Tuple[str, int]], before: Mapping[str, Sequence[float]],
                  after: Mapping[str, Sequence[float]]) -> np.ndarray:
    """Return the factor (after / before) of each element of one observation frame.

    :param before, after: the specs' ``scales`` (term -> factor per element; a term not
        named is unscaled).
    """
    out = []
    for name, size in terms:
        old = np.asarray(before.get(name, (1.0,) * size), dtype=np.float64)
        new = np.asarray(after.get(name, (1.0,) * size), dtype=np.float64)
        out.append(new / old)
    return np.concatenate(out)


def input_factors(frame: np.ndarray, obs_dim: int, critic_dim: int
                  ) -> Tuple[np.ndarray, np.ndarray]:
    """Return the factors of the actor's input and of the critic's (less its action).

    The actor's input is whole frames stacked (``--history``); a privileged critic's (longer
    than one frame) is one frame, then what sensors do not give, which no spec scales;
    otherwise the critic sees the actor's input.
    :raises ValueError: sizes that are not whole frames.
    """
    n = len(frame)
    if obs_dim % n:
        raise ValueError(f'the actor takes {obs_dim} values, not whole frames of {n}')
    actor = np.tile(frame, obs_dim // n)
    if critic_dim == obs_dim:
        return actor, actor
    if critic_dim < n:
        raise ValueError(f'the critic takes {critic_dim} values, fewer than a frame ({n})')
    return actor, np.concatenate([frame, np.ones(critic_dim - n)])


def rescale_agent(agent: Mapping[str, object], actor_f: np.ndarray, critic_f: np.ndarray
                  ) -> Dict[str, object]:
    """Return a copy of a `Symphony` state dict for inputs scaled by the given factors.

    :param actor_f: per element of the actor's input, new factor / old.
    :param critic_f: per element of the critic's input before the action.
    """
    def edit(net: str, tensor: torch.Tensor, moment: Optional[str]) -> torch.Tensor:
        k = torch.as_tensor(actor_f if net in ACTORS else critic_f, dtype=tensor.dtype)
        return _columns(tensor, {None: 1.0 / k, 'm': k, 'v': k * k}[moment])

    return edit_inputs(agent, [net for net in ACTORS + CRITICS if net in agent], edit)


def _columns(weight: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """Return ``weight`` with its first len(factors) columns multiplied by them."""
    out = weight.clone()
    out[:, :len(factors)] *= factors.to(weight.device)
    return out


def rescale_replay(replay: Mapping[str, object], actor_f: np.ndarray,
                   critic_f: Optional[np.ndarray]) -> Dict[str, object]:
    """Return a copy of a saved replay buffer with its observations scaled by the factors.

    Warm-up tiles (``warm_<field>``) are scaled as their fields are.
    """
    out = dict(replay)
    for key, value in replay.items():
        field = key[len('warm_'):] if key.startswith('warm_') else key
        if not isinstance(value, torch.Tensor):
            continue
        factors = (actor_f if field in ACTOR_FIELDS else
                   critic_f if field in CRITIC_FIELDS else None)
        if factors is not None:
            out[key] = value * torch.as_tensor(factors, dtype=value.dtype)
    return out


__all__ = ['ACTOR_FIELDS', 'frame_factors', 'input_factors', 'rescale_agent', 'rescale_replay']

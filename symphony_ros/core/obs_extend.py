"""Moving a run onto a spec that observes more: the run's terms, then new ones at the end.

Each network's first Linear gets zero columns for the new inputs (the actor's after its
observation; a privileged critic's after the observation, before the hidden state it sees),
so actor and critics compute exactly what they did and learn the new inputs from there; the
Adam moments of those columns start at zero, as a new weight's do. A symmetric actor's mirror
map is replaced by the new spec's.

Only terms the privileged critic already saw can be added (`FROM_CRITIC`): a saved replay's
steps are given them from the hidden state stored beside each observation, times the new
spec's factor. They are exact there, where the observation's other terms carry the sensor
noise they were drawn with (which was not stored); a branch that refills its replay
(``--refill-steps``) learns from noisy ones only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Mapping, Sequence, Tuple

import numpy as np
import torch

from .agent_inputs import insert_inputs
from .obs_rescale import ACTOR_FIELDS
from .replay import CRITIC_FIELDS

FROM_CRITIC = {'odom_lin_vel': 'base_lin_vel'}
"""Observation term a branch can add -> the privileged critic's term it equals (unscaled)."""
_NEXT = {'obs': 'critic_obs', 'next_obs': 'next_critic_obs', 'next_clean_obs': 'next_critic_obs'}
"""Replay field of the actor -> the critic's field of the same step."""


@dataclass(frozen=True)
class Extension:
    """New observation terms appended to a run's, and where their values come from."""

    obs_dim: int
    """The run's observation size (where the new terms begin)."""
    terms: Tuple[Tuple[str, int], ...]
    """The (name, size) pairs appended."""
    source: Tuple[int, ...]
    """Per new element, its column in the run's (old) critic view."""
    factor: Tuple[float, ...]
    """Per new element, the new spec's factor."""
    mirror: Tuple[np.ndarray, np.ndarray]
    """The new spec's observation mirror map (index, sign), for a symmetric actor."""
    frames: int = 1
    """Frames the actor reads stacked (``--history``): each frame gets the new terms."""

    @property
    def size(self) -> int:
        """Values appended."""
        return len(self.source)

    def actor_mirror(self) -> Tuple[np.ndarray, np.ndarray]:
        """Return the actor's mirror map: the new spec's, once per stacked frame."""
        index, sign = (np.asarray(m) for m in self.mirror)
        frame = self.obs_dim + self.size
        return (np.concatenate([index + k * frame for k in range(self.frames)]),
                np.tile(sign, self.frames))


def added_terms(before: Sequence[Tuple[str, int]], after: Sequence[Tuple[str, int]]
                ) -> Tuple[Tuple[str, int], ...]:
    """Return the terms ``after`` appends to ``before``.

    :raises ValueError: ``after`` does not begin with ``before``'s terms, appends none, or
        appends a term a branch cannot compute (not in `FROM_CRITIC`).
    """
    before, after = tuple(before), tuple(after)
    if len(after) <= len(before) or after[:len(before)] != before:
        raise ValueError('not the run\'s terms with others after them')
    new = after[len(before):]
    unknown = [name for name, _ in new if name not in FROM_CRITIC]
    if unknown:
        raise ValueError(f'it adds {", ".join(unknown)}, which a branch cannot compute from '
                         f'stored steps (it can add: {", ".join(FROM_CRITIC)})')
    return new


def source_columns(terms: Sequence[Tuple[str, int]], hidden: Sequence[Tuple[str, int]],
                   obs_dim: int) -> Tuple[int, ...]:
    """Return, per element of ``terms``, its column in a critic view of ``obs_dim`` + hidden.

    :param hidden: the privileged critic's terms after the observation.
    :raises ValueError: a term's source is not among ``hidden`` or has another size.
    """
    at, where = obs_dim, {}
    for name, size in hidden:
        where[name] = (at, size)
        at += size
    out = []
    for name, size in terms:
        start, have = where.get(FROM_CRITIC[name], (None, 0))
        if start is None or have != size:
            raise ValueError(f'{name} comes from the critic\'s {FROM_CRITIC[name]} '
                             f'({size} values), which its view lacks')
        out.extend(range(start, start + size))
    return tuple(out)


def extend_agent(agent: Mapping[str, object], ext: Extension) -> Dict[str, object]:
    """Return a copy of a `Symphony` state dict whose networks take ``ext``'s new inputs.

    Zero weights (outputs unchanged) and zero Adam moments for them; a symmetric actor (and
    anchor) gets the new spec's mirror map. An actor reading stacked frames gets the new
    inputs after each frame; the critics see one frame.
    """
    out = insert_inputs(agent, ext.obs_dim, ext.size)
    for k in reversed(range(ext.frames)):       # the last frame's first: earlier places hold
        out = insert_inputs(out, (k + 1) * ext.obs_dim, ext.size, actors=True, critics=False)
    index, sign = ext.actor_mirror()
    for net in ('actor', 'anchor'):
        if net in agent and 'mirror_obs_index' in agent[net]:
            out[net]['mirror_obs_index'] = torch.as_tensor(index, dtype=torch.long)
            out[net]['mirror_obs_sign'] = torch.as_tensor(sign, dtype=torch.float32)
    return out


def extend_replay(replay: Mapping[str, object], ext: Extension) -> Dict[str, object]:
    """Return a copy of a saved buffer whose observations hold ``ext``'s new terms.

    Taken from each step's critic view (before it grows), times their factors; the critic's
    own view gets them after its observation, as the env now lays it out.

    :raises ValueError: an actor reading stacked frames (a step's older frames would need
        the critic views of the steps before it; such a branch refills its replay).
    """
    if ext.frames > 1:
        raise ValueError('a replay of stacked frames is not extended: refill it')
    out = dict(replay)
    cols = list(ext.source)
    for prefix in ('', 'warm_'):
        views = {f: replay.get(prefix + f) for f in CRITIC_FIELDS}
        if any(v is None for v in views.values()):
            continue
        new = {f: v[:, cols] * torch.as_tensor(ext.factor, dtype=v.dtype)
               for f, v in views.items()}
        for field in ACTOR_FIELDS:
            value = replay.get(prefix + field)
            if isinstance(value, torch.Tensor):
                out[prefix + field] = torch.cat([value, new[_NEXT[field]].to(value.dtype)], 1)
        for field, value in views.items():
            out[prefix + field] = torch.cat(
                [value[:, :ext.obs_dim], new[field], value[:, ext.obs_dim:]], 1)
    return out


__all__ = ['FROM_CRITIC', 'Extension', 'added_terms', 'extend_agent', 'extend_replay',
           'source_columns']

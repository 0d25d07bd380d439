"""Moving a single-frame run onto stacked observations: ``symphony branch --history N``.

A run's actor reads one observation; `history_env.HistoryObservation` stacks the last N,
newest first, the first frame of an episode filling the history. The branch gives the actor
(and its anchor) zero columns for the N-1 older frames after the newest, so it acts exactly
as it did and learns what the older frames tell from there (how the base drifts after a
kick, how long a command in flight has acted); their Adam moments start at zero. A critic
that reads the observation gets the columns too; a privileged critic reads its own exact
frame and is left as it was. A symmetric actor's mirror map is repeated for every frame.

The saved replay's observations are stacked from the rows before them: rows in the order
they were stored, a row whose observation is not its predecessor's next observation begins
an episode (as a reset does, its frame fills the history). A row after an evicted or
recycled one is taken for an episode's first, so its history repeats it where the env's
would have held the frames the buffer no longer has.
"""

from __future__ import annotations

from typing import Dict, Mapping, Optional, Tuple

import numpy as np
import torch

from .agent_inputs import insert_inputs
from .replay import CLEAN_FIELDS, age_order, episode_starts


def history_agent(agent: Mapping[str, object], obs_dim: int, frames: int,
                  privileged: bool) -> Dict[str, object]:
    """Return a copy of a `Symphony` state dict whose actor reads ``frames`` stacked frames.

    :param obs_dim: one frame's size (the run's observation).
    :param privileged: the critics read their own view (left as they were), not the
        observation.
    """
    if frames < 2:
        raise ValueError(f'history: expected 2 frames or more, got {frames}')
    out = insert_inputs(agent, obs_dim, (frames - 1) * obs_dim, actors=True,
                        critics=not privileged)
    for net in ('actor', 'anchor'):
        state = agent.get(net)
        if isinstance(state, Mapping) and 'mirror_obs_index' in state:
            index, sign = stacked_mirror((state['mirror_obs_index'].numpy(),
                                          state['mirror_obs_sign'].numpy()), frames)
            out[net]['mirror_obs_index'] = torch.as_tensor(index, dtype=torch.long)
            out[net]['mirror_obs_sign'] = torch.as_tensor(sign, dtype=torch.float32)
    return out


def stacked_mirror(frame: Tuple[np.ndarray, np.ndarray], frames: int
                   ) -> Tuple[np.ndarray, np.ndarray]:
    """Return one frame's (index, sign) mirror map repeated for ``frames`` stacked frames.

    Each frame mirrors within itself, as `history_env.HistoryObservation` maps them.
    """
    from ..robot.mirror import Mirror   # MuJoCo's, loaded only for a symmetric actor
    stacked = Mirror.concat([Mirror(np.asarray(frame[0]), np.asarray(frame[1]))] * frames)
    return stacked.index, stacked.sign


def stack_rows(obs: np.ndarray, next_obs: np.ndarray, frames: int,
               next_clean: Optional[np.ndarray] = None) -> Dict[str, np.ndarray]:
    """Return the stacked fields of rows in the order they were stored.

    Row i's stacked observation is its own frame then its predecessors' (newest first),
    back to its episode's first, which fills what is left; its next observation is its
    next frame, then that stack less its oldest. ``next_clean`` (the next frames before
    their noise) is stacked along the same episodes from the clean frames before it, an
    episode's first clean frame (never stored) standing in by its noisy one.
    """
    starts, first = episode_starts(obs, next_obs)
    back = [np.maximum(np.arange(len(obs)) - k, first) for k in range(frames)]
    out = {'obs': np.concatenate([obs[b] for b in back], axis=1),
           'next_obs': np.concatenate([next_obs] + [obs[b] for b in back[:-1]], axis=1)}
    if next_clean is not None:
        clean = np.where(starts[:, None], obs, np.roll(next_clean, 1, axis=0))
        out['next_clean_obs'] = np.concatenate([next_clean] + [clean[b] for b in back[:-1]],
                                               axis=1)
    return out


def history_replay(replay: Mapping[str, object], frames: int) -> Dict[str, object]:
    """Return a copy of a saved buffer whose actor fields hold ``frames`` stacked frames."""
    out = dict(replay)
    for prefix, order in (('', age_order(replay)), ('warm_', None)):
        if prefix + 'obs' not in replay:
            continue
        fields = {f: replay.get(prefix + f) for f in ('obs', 'next_obs') + CLEAN_FIELDS}
        idx = np.arange(len(fields['obs'])) if order is None else order
        rows = {f: (None if v is None else v.numpy()[idx]) for f, v in fields.items()}
        stacked = stack_rows(rows['obs'], rows['next_obs'], frames, rows['next_clean_obs'])
        for field, values in stacked.items():
            placed = np.empty_like(values)
            placed[idx] = values
            out[prefix + field] = torch.as_tensor(placed, dtype=fields[field].dtype)
    return out


__all__ = ['history_agent', 'history_replay', 'stack_rows']

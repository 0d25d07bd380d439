"""Bringing a run's privileged critic up to a view its env has grown since the run was saved.

The critic's view is the policy's observation, then what sensors do not give; a term the env
appends there later is a new input of every critic net. Each net's first Linear gets a zero
column for it, so the critics judge exactly as they did and learn the input from there; the
optimizer's moments of those columns start at zero, as a new weight's do. The replay is given
the term's value at every stored step, recomputed from the steps stored, and the reward terms
the env reports since (which a resume re-scores with), so that a run asked to weigh them
learns from its old steps as from new ones.

Only terms computable from the stored steps can be grown (`COMPUTED`). ``yaw_rate_stride``
(`YawWindow`): the yaw rates the rows reached, averaged over their episode's last gait
cycle. A replay's steps are consecutive within an episode except where the buffer evicted
or recycled one; a row whose view does not continue its predecessor's starts a window, as a
reset does, so the rows within a cycle after such a break (not after a reset) average fewer
steps than the env did.
"""

from __future__ import annotations

from typing import Dict, Mapping, Sequence, Tuple

import numpy as np
import torch

from ..robot.command_terms import CommandLayout
from .agent_inputs import insert_inputs
from .replay import CRITIC_FIELDS, age_order, episode_starts

COMPUTED = ('yaw_rate_stride',)
"""Critic terms a branch can add to a run saved without them."""
TERMS_COMPUTED = ('track_yaw_stride',)
"""Reward terms a branch can add to a replay saved without them."""


def grown_terms(old_dim: int, terms: Sequence[Tuple[str, int]]) -> Tuple[Tuple[str, int], ...]:
    """Return the terms of the view ``terms`` after its first ``old_dim`` values.

    :raises ValueError: ``old_dim`` is not where a term ends, or a term after it is not one
        a branch can compute (`COMPUTED`).
    """
    at = 0
    for i, (name, size) in enumerate(terms):
        if at == old_dim:
            new = tuple(terms[i:])
            unknown = [n for n, _ in new if n not in COMPUTED]
            if unknown:
                raise ValueError(f'the critic\'s view grew by {", ".join(unknown)}, which '
                                 'cannot be computed from stored steps')
            return new
        at += size
    if at == old_dim:
        return ()
    raise ValueError(f'the critic takes {old_dim} values, which is not where a term of its '
                     f'view ({", ".join(n for n, _ in terms)}) ends')


def grow_agent(agent: Mapping[str, object], at: int, n: int) -> Dict[str, object]:
    """Return a copy of a `Symphony` state dict whose critics take ``n`` more inputs at ``at``.

    Zero weights (the critics' outputs are unchanged) and zero Adam moments for them.
    """
    return insert_inputs(agent, at, n)


def yaw_windows(critic: np.ndarray, next_critic: np.ndarray, layout: CommandLayout,
                steps: int) -> Tuple[np.ndarray, np.ndarray]:
    """Return the stride yaw rate (`YawWindow`) before and after each of consecutive rows.

    :param critic, next_critic: the rows' views (without the new term), in the order they
        were stored; a row whose view is not its predecessor's next view starts a window.
    :param steps: the window (one gait cycle, `tracking.window_steps`).
    """
    n = len(critic)
    rate = next_critic[:, layout.yaw_rate].astype(np.float64) / layout.yaw_rate_scale
    starts, first = episode_starts(critic, next_critic)
    i = np.arange(n)
    lo = np.maximum(first, i - steps + 1)
    total = np.concatenate([[0.0], np.cumsum(rate)])
    after = (total[i + 1] - total[lo]) / (i + 1 - lo)
    before = np.where(starts, 0.0, np.concatenate([[0.0], after[:-1]]))
    return before, after


def grow_replay(replay: Mapping[str, object], layout: CommandLayout, steps: int,
                term_names: Sequence[str]) -> Dict[str, object]:
    """Return a copy of a saved buffer with the grown critic term and reward terms.

    :param layout: the env's command layout (where the command and the yaw rate are).
    :param term_names: the env's reward terms now; those the buffer lacks at its end are
        computed (`TERMS_COMPUTED`), and a buffer saved with others keeps none (as a resume
        would keep none).
    """
    out = dict(replay)
    saved = list(replay.get('term_names') or ())
    extra = list(term_names[len(saved):]) if list(term_names[:len(saved)]) == saved else None
    grow_terms = bool(saved) and extra is not None and all(t in TERMS_COMPUTED for t in extra)
    for prefix, order in (('', age_order(replay)), ('warm_', None)):
        if prefix + 'critic_obs' not in replay:
            continue
        crit, nxt = replay[prefix + 'critic_obs'], replay[prefix + 'next_critic_obs']
        idx = np.arange(len(crit)) if order is None else order
        before, after = yaw_windows(crit.numpy()[idx], nxt.numpy()[idx], layout, steps)
        for field, values in zip(CRITIC_FIELDS, (before, after)):
            col = np.empty(len(crit))
            col[idx] = values
            out[prefix + field] = torch.cat(
                [replay[prefix + field], torch.as_tensor(col, dtype=crit.dtype)[:, None]], 1)
        if grow_terms and extra:
            # The env's own terms of the step, from the grown view of the state it reached.
            terms = layout.terms(layout.commands(crit.numpy()),
                                 out[prefix + 'next_critic_obs'].numpy())
            new = np.stack([terms[n] for n in extra], 1)
            out[prefix + 'terms'] = torch.cat(
                [replay[prefix + 'terms'], torch.as_tensor(new, dtype=torch.float32)], 1)
    if grow_terms:
        out['term_names'] = list(term_names)
    return out


__all__ = ['COMPUTED', 'TERMS_COMPUTED', 'grow_agent', 'grow_replay', 'grown_terms',
           'yaw_windows']

"""Editing a saved `Symphony` state dict at its networks' inputs.

Every network takes its input through its first Linear, so a change to the observation is a
change to the columns of those weights alone: rescaled columns for a rescaled input
(`obs_rescale`), zero columns for an added one (`critic_grow`, `obs_extend`, `obs_history`).
The optimizer's Adam moments of an optimised weight are columns of the same shape and must
follow, or the next update would move the edited columns by moments of other inputs: each
edit here applies to the weight and to its two moments at once.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Mapping, Optional, Sequence

import torch

from .networks import Actor, Critic

ACTOR_INPUT = 'net.0.weight'
"""The actor's (and its anchor's) first Linear, in their state dicts."""
ACTORS = ('actor', 'anchor')
CRITICS = ('critic', 'target_critic')

Edit = Callable[[str, torch.Tensor, Optional[str]], torch.Tensor]
"""(net, tensor, moment) -> the edited tensor; moment is None for the weight, 'm' or 'v'."""


def critic_inputs(critic: Mapping[str, torch.Tensor]) -> List[str]:
    """Return the keys of a critic state dict's first Linear weights (one per net)."""
    return sorted(k for k in critic if k.startswith('nets.') and k.endswith('.0.weight'))


def param_index(agent: Mapping[str, object]) -> Dict[str, int]:
    """Return '<actor|critic>.<parameter>' -> its place in the optimizer's moment lists.

    The order `Symphony` gives its optimizer, read off networks of the state's sizes.
    """
    actor_w = agent['actor'][ACTOR_INPUT]
    first = critic_inputs(agent['critic'])[0]
    critic_w = agent['critic'][first]
    heads = agent['critic'][first.replace('.0.weight', '.4.weight')].shape[0]
    act_dim = agent['actor']['net.4.weight'].shape[0] // 3
    names = [f'actor.{n}' for n, _ in Actor(actor_w.shape[1], act_dim, actor_w.shape[0])
             .named_parameters()]
    names += [f'critic.{n}' for n, _ in Critic(critic_w.shape[1] - act_dim, act_dim,
                                               critic_w.shape[0], heads).named_parameters()]
    return {name: i for i, name in enumerate(names)}


def edit_inputs(agent: Mapping[str, object], nets: Sequence[str], edit: Edit
                ) -> Dict[str, object]:
    """Return a copy of a state dict with the first-layer weights of ``nets`` edited.

    The Adam moments of the optimised ones (actor and critic; the anchor and target critic
    are not optimised) are edited alike.
    """
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in agent.items()}
    index = param_index(agent)
    optim = dict(agent['optimizer'])
    optim['m'], optim['v'] = list(optim['m']), list(optim['v'])
    for net in nets:
        for key in [ACTOR_INPUT] if net in ACTORS else critic_inputs(agent[net]):
            out[net][key] = edit(net, agent[net][key], None)
            i = index.get(f'{net}.{key}')
            if i is not None:
                for moment in ('m', 'v'):
                    optim[moment][i] = edit(net, optim[moment][i], moment)
    out['optimizer'] = optim
    return out


def insert_inputs(agent: Mapping[str, object], at: int, n: int, actors: bool = False,
                  critics: bool = True) -> Dict[str, object]:
    """Return a copy of a `Symphony` state dict with ``n`` zero inputs at ``at``.

    In every critic's first layer (unless not ``critics``), and with ``actors`` the actor's
    and anchor's too. Zero weights leave every output as it was; zero moments are what a new
    weight starts with.
    """
    nets = [net for net in ACTORS if actors and net in agent] + list(CRITICS if critics else ())
    return edit_inputs(agent, nets, lambda net, weight, moment: insert_columns(weight, at, n))


def insert_columns(weight: torch.Tensor, at: int, n: int) -> torch.Tensor:
    """Return ``weight`` with ``n`` zero columns inserted before column ``at``."""
    zeros = weight.new_zeros((weight.shape[0], n))
    return torch.cat([weight[:, :at], zeros, weight[:, at:]], dim=1)


__all__ = ['ACTORS', 'ACTOR_INPUT', 'CRITICS', 'critic_inputs', 'edit_inputs', 'insert_columns',
           'insert_inputs', 'param_index']

"""Symphony's networks: ReSine, GradientDropout, FeedForward, the actor and the critic ensemble.

Each class is one definition of the paper (arXiv 2512.10477); names follow it.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class ReSine(nn.Module):
    """Harmonic activation with a trainable per-unit scale.

    sigma = sigmoid(s); f = sigma * sin(x / sigma); y = f * sigmoid(1.5 * f / sigma),
    with s ~ U(-1/sqrt(h), 1/sqrt(h)) at initialisation.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        k = 1.0 / math.sqrt(width)
        self.s = nn.Parameter(torch.empty(width).uniform_(-k, k))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the activation elementwise.

        Written as y = sigma * (sin(u) * sigmoid(1.5 sin(u))), u = x * (1/sigma), since
        f/sigma = sin(u): no division of [batch, h] tensors forward or backward, which made
        this 1.6x faster (float rounding apart, the same function).
        """
        sigma = torch.sigmoid(self.s)
        sine = torch.sin(x * sigma.reciprocal())
        return sine * torch.sigmoid(1.5 * sine) * sigma


class GradientDropout(nn.Module):
    """Drops gradients, not values: y = m*x + (1-m)*x.detach(), m ~ Bernoulli(1-p)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f'gradient dropout p must be in [0, 1), got {p}')
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return x unchanged, with a random share of its gradient cut."""
        if not self.training or self.p == 0.0:
            return x
        keep = (torch.rand_like(x) >= self.p).to(x.dtype)
        return keep * x + (1.0 - keep) * x.detach()


class FeedForward(nn.Sequential):
    """Linear -> LayerNorm -> Linear -> ReSine -> Linear [-> GradientDropout].

    A Sequential, so parameters keep the names ``0.weight`` ... that every checkpoint holds;
    code that needs one layer (the ONNX export's folding) reads it by the names below.
    """

    def __init__(self, f_in: int, hidden: int, f_out: int, grad_dropout: float = 0.0) -> None:
        layers = [nn.Linear(f_in, hidden), nn.LayerNorm(hidden), nn.Linear(hidden, hidden),
                  ReSine(hidden), nn.Linear(hidden, f_out)]
        if grad_dropout > 0.0:
            layers.append(GradientDropout(grad_dropout))
        super().__init__(*layers)

    @property
    def linear_in(self) -> nn.Linear:
        """The first Linear (input -> hidden)."""
        return self[0]

    @property
    def norm(self) -> nn.LayerNorm:
        """The LayerNorm after the first Linear."""
        return self[1]

    @property
    def linear_hidden(self) -> nn.Linear:
        """The Linear before ReSine (hidden -> hidden)."""
        return self[2]

    @property
    def resine(self) -> 'ReSine':
        """The harmonic activation."""
        return self[3]

    @property
    def linear_out(self) -> nn.Linear:
        """The last Linear (hidden -> output)."""
        return self[4]

    def forward_apart(self, fixed: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Return ``self(cat([fixed, x], -1))`` with the first layer applied to each part.

        Backward then computes no input gradient for ``fixed``'s columns, which autograd
        would compute for the whole concatenation when ``x`` needs one.
        """
        first, k = self.linear_in, fixed.shape[-1]
        out = F.linear(fixed, first.weight[:, :k]) + F.linear(x, first.weight[:, k:],
                                                              first.bias)
        for layer in list(self)[1:]:
            out = layer(out)
        return out


def limited_noise(like: torch.Tensor, clip: float) -> torch.Tensor:
    """Limited parametric noise N = clamp(eps, -clip, clip) / clip, eps ~ N(0, 1)."""
    return torch.randn_like(like).clamp_(-clip, clip) / clip


def noise_std(clip: float) -> float:
    """Return the standard deviation of :func:`limited_noise` at ``clip`` (about 1/clip)."""
    inside = math.erf(clip / math.sqrt(2.0))                    # P(|eps| < c)
    density = math.exp(-clip * clip / 2.0) / math.sqrt(2.0 * math.pi)
    second = inside - 2.0 * clip * density + clip * clip * (1.0 - inside)
    return math.sqrt(second) / clip


MIRROR_BUFFERS = ('mirror_obs_index', 'mirror_obs_sign', 'mirror_act_index', 'mirror_act_sign')
"""An actor's left-right maps (`Actor.set_mirror`), kept in its state dict so that a saved or
exported symmetric actor loads as one."""


class Actor(nn.Module):
    """Deterministic transitional-policy actor: a = tanh(S*A + N), with action strength S.

    The FeedForward emits 3*act_dim values; ASB = tanh(out/2) gives the action A, its
    strength S = |row 1| and the swaddling exponent B = |row 2|.

    With mirror maps (:meth:`set_mirror`) the actor is left-right symmetric by construction:
    A, S and B are each the mean of the network's answer to the observation and the mirror
    image of its answer to the mirrored observation, so the action to a mirrored state is the
    mirrored action, exactly. Mirrored batches only pull a policy toward symmetry, and trained
    G1 actors kept a one-sided yaw bias with them on.
    """

    def __init__(self, obs_dim: int, act_dim: int, hidden: int, noise_clip: float = math.e,
                 grad_dropout: float = 0.0, act_noise_clip: float = 0.0) -> None:
        """Build the network; ``act_noise_clip``: c of :meth:`forward`'s noise (0: noise_clip)."""
        super().__init__()
        self.obs_dim, self.act_dim, self.noise_clip = obs_dim, act_dim, noise_clip
        self.act_noise_clip = act_noise_clip or noise_clip
        self.net = FeedForward(obs_dim, hidden, 3 * act_dim, grad_dropout)

    @property
    def symmetric(self) -> bool:
        """Whether the actor has mirror maps (:meth:`set_mirror`)."""
        return hasattr(self, MIRROR_BUFFERS[0])

    def set_mirror(self, obs: Tuple[np.ndarray, np.ndarray],
                   action: Tuple[np.ndarray, np.ndarray]) -> None:
        """Make the actor symmetric under the (index, sign) maps of observation and action.

        :raises ValueError: maps of other sizes than the actor's, or not signed permutations.
        """
        for (index, sign), n, what in ((obs, self.obs_dim, 'observation'),
                                       (action, self.act_dim, 'action')):
            index, sign = np.asarray(index), np.asarray(sign)
            if (index.shape != (n,) or sign.shape != (n,)
                    or sorted(index.tolist()) != list(range(n))
                    or not np.all(np.abs(sign) == 1)):
                raise ValueError(f'actor mirror: the {what} map is not a signed permutation '
                                 f'of {n} values')
        device = self.net.linear_in.weight.device
        for name, value in zip(MIRROR_BUFFERS, (obs[0], obs[1], action[0], action[1])):
            dtype = torch.long if name.endswith('index') else torch.float32
            self.register_buffer(name, torch.as_tensor(np.asarray(value), dtype=dtype,
                                                       device=device))

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True,
                        assign: bool = False) -> Any:
        """Load weights; a state holding mirror maps makes this actor symmetric first."""
        if MIRROR_BUFFERS[0] in state_dict and not self.symmetric:
            maps = [state_dict[n].cpu().numpy() for n in MIRROR_BUFFERS]
            self.set_mirror((maps[0], maps[1]), (maps[2], maps[3]))
        return super().load_state_dict(state_dict, strict, assign)

    def asb(self, obs: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return (A, S, B), each [batch, act_dim]."""
        if not self.symmetric:
            return self._asb(obs)
        n = obs.shape[0]
        both = torch.cat([obs, obs[:, self.mirror_obs_index] * self.mirror_obs_sign])
        a, s, b = self._asb(both)
        index, sign = self.mirror_act_index, self.mirror_act_sign
        return (0.5 * (a[:n] + a[n:, index] * sign), 0.5 * (s[:n] + s[n:, index]),
                0.5 * (b[:n] + b[n:, index]))

    def _asb(self, obs: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        asb = torch.tanh(self.net(obs) / 2.0).reshape(-1, 3, self.act_dim)
        return asb[:, 0], asb[:, 1].abs(), asb[:, 2].abs()

    def forward(self, obs: torch.Tensor, noise: bool = True, fall: bool = False,
                eps: Optional[torch.Tensor] = None
                ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return (action, S, B) as acted in the environment, with act_noise_clip's noise.

        ``fall=True`` zeroes S*A, the deliberate fall near an episode's time limit: the
        robot, driven by noise alone, falls and feeds terminal transitions into the replay
        buffer. ``eps``: the unit Gaussian the noise limits (None: drawn now, white).
        """
        a, s, b = self.asb(obs)
        return self.action(a, s, noise, fall, self.act_noise_clip, eps), s, b

    def action(self, a: torch.Tensor, s: torch.Tensor, noise: bool = True,
               fall: bool = False, clip: float = 0.0,
               eps: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Return tanh(S*A + N) from :meth:`asb`'s A and S (tanh(S*A) without noise).

        :param clip: c of the noise (0: noise_clip, the loss's).
        :param eps: the N(0, 1) draws N limits (None: drawn now, as :func:`limited_noise`).
        """
        x = torch.zeros_like(a) if fall else s * a
        if noise:
            c = clip or self.noise_clip
            x = x + (limited_noise(a, c) if eps is None else eps.clamp(-c, c) / c)
        return torch.tanh(x)

    def deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        """Return the evaluation and export action a = tanh(S*A)."""
        a, s, _ = self.asb(obs)
        return self.action(a, s, noise=False)


def soft_weights(heads: int) -> torch.Tensor:
    """Weights over ascending-sorted critic heads: w_n = tanh((pi*(1-n/H))^e), sum 1."""
    n = torch.arange(heads, dtype=torch.float64) / heads
    w = torch.tanh((math.pi * (1.0 - n)) ** math.e)
    return (w / w.sum()).float()


class Critic(nn.Module):
    """Three FeedForwards on [s, a], concatenated into an ensemble of heads."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: int, heads_each: int,
                 grad_dropout: float = 0.0) -> None:
        super().__init__()
        self.nets = nn.ModuleList(
            FeedForward(obs_dim + act_dim, hidden, heads_each, grad_dropout) for _ in range(3))
        self.register_buffer('weights', soft_weights(3 * heads_each))

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Return all heads, [batch, H]."""
        if action.requires_grad and not obs.requires_grad:
            # The actor's gradient through the target critic: only the action needs one,
            # and skipping the observation's saves ~8% of an update's FLOPs.
            return torch.cat([net.forward_apart(obs, action) for net in self.nets], dim=-1)
        x = torch.cat([obs, action], dim=-1)
        return torch.cat([net(x) for net in self.nets], dim=-1)

    def soft(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Pessimistic soft value: weighted sum of the sorted heads, [batch, 1]."""
        return soft_value(self(obs, action), self.weights)


def sorted_with_weights(q: torch.Tensor, weights: torch.Tensor,
                        with_numpy: Optional[bool] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Rows of ``q`` sorted ascending, and ``weights[rank of q_ij]`` at each q_ij (no gradient).

    On CPU numpy sorts (``with_numpy`` defaults to that): torch.sort and torch.searchsorted
    each took 2-3x numpy's argsort at the update's [batch, heads] shape.
    """
    q = q.detach()
    if q.device.type == 'cpu' if with_numpy is None else with_numpy:
        rows = q.contiguous().numpy()
        order = np.argsort(rows, axis=-1)
        at_rank = np.empty_like(rows)
        np.put_along_axis(at_rank, order, weights.numpy()[None, :], axis=-1)
        return (torch.from_numpy(np.take_along_axis(rows, order, axis=-1)),
                torch.from_numpy(at_rank))
    values, order = torch.sort(q, dim=-1)
    return values, torch.empty_like(q).scatter_(-1, order, weights.to(q.dtype).expand_as(q))


def soft_value(q: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted sum of each row's ascending-sorted entries, [batch, 1].

    The value is computed from the sorted rows as written; its gradient, weights[rank of
    q_ij] at q_ij, as sort's backward gives it, enters through a term exactly zero in value.
    """
    values, at_rank = sorted_with_weights(q, weights)
    value = (values * weights).sum(dim=-1, keepdim=True)
    if not q.requires_grad:
        return value
    return value + ((q - q.detach()) * at_rank).sum(dim=-1, keepdim=True)

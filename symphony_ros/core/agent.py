"""The Symphony learner: one loss, one optimizer, one backward pass per update."""

from __future__ import annotations

import copy
from typing import Callable, Dict, Optional

import torch

from .config import SymphonyConfig
from .graphed import GraphedUpdate
from .losses import advantage_baseline, normalised_advantage, rehae, rehse, swaddling
from .networks import Actor, Critic
from .optim import SymphonyAdamW
from .replay import Batch


def deliberate_fall(step: int, limit: int, fall_steps: int) -> bool:
    """Whether only noise acts at 1-based ``step`` of a training episode capped at ``limit``.

    The reference acts fully while ``step < limit - fall_steps`` (counting from 1), so the
    fall covers steps limit - fall_steps .. limit: fall_steps + 1 steps (51 of 1,000).
    """
    return step >= limit - fall_steps


class Symphony:
    """Actor, critic ensemble, target critics and the temporal-advantage baseline m."""

    def __init__(self, obs_dim: int, act_dim: int, cfg: SymphonyConfig,
                 device: torch.device | str = 'cpu', critic_dim: Optional[int] = None) -> None:
        """Build the networks; ``critic_dim``: a privileged critic's input (None: obs_dim)."""
        self.cfg, self.device = cfg, torch.device(device)
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.critic_dim = critic_dim or obs_dim
        self.actor = Actor(obs_dim, act_dim, cfg.hidden_dim, cfg.noise_clip,
                           cfg.gradient_dropout, cfg.acting_noise_clip).to(self.device)
        self.critic = Critic(self.critic_dim, act_dim, cfg.hidden_dim, cfg.critic_heads,
                             cfg.gradient_dropout).to(self.device)
        # Critics only: Symphony keeps no target actor. The target stays in training mode
        # (never optimised: no parameter needs a gradient) because in S2 its GradientDropout
        # cuts part of the actor's advantage gradient, which flows through it, as in the
        # reference; the other configs have no mode-dependent layer.
        self.target_critic = copy.deepcopy(self.critic).requires_grad_(False)
        params = list(self.actor.parameters()) + list(self.critic.parameters())
        self.optimizer = SymphonyAdamW(params, cfg.lr, cfg.betas, cfg.weight_decay)
        self.m = torch.zeros((), device=self.device)
        self.anchor: Optional[Actor] = None
        """A frozen copy of the actor a fine-tune started from (see :meth:`set_anchor`)."""
        self._anchor_weight = torch.zeros((), device=self.device)
        self._anchor_value = 0.0
        self.noise_smoothing = 0.0
        """Weight of the actor's mean squared action change between the noisy and the clean
        observation of each sample (TrainConfig.noise_smoothing)."""
        self._online = list(self.critic.parameters())
        self._target = list(self.target_critic.parameters())
        self.graphed: Optional[GraphedUpdate] = None
        """Set by :meth:`use_cuda_graphs`: updates replayed as CUDA graphs."""
        self.compiled_loss: Optional[Callable[[Batch], Dict[str, torch.Tensor]]] = None
        """Set by :meth:`use_compile`: :meth:`loss` compiled, forward and backward."""

    @property
    def anchor_weight(self) -> float:
        """Weight of the actor's squared distance from :attr:`anchor` in the loss."""
        return self._anchor_value

    @anchor_weight.setter
    def anchor_weight(self, value: float) -> None:
        # A tensor updated in place, so a recorded CUDA graph reads each new weight.
        if value != self._anchor_value:
            self._anchor_value = float(value)
            self._anchor_weight.fill_(float(value))

    @property
    def anchor_active(self) -> bool:
        """Whether the anchor term is part of the loss."""
        return self.anchor is not None and self._anchor_value > 0.0

    def use_cuda_graphs(self) -> None:
        """Replay each update as a CUDA graph from now on (a CUDA agent only)."""
        self.graphed = GraphedUpdate(self)

    def use_compile(self) -> None:
        """Compute each update's loss, forward and backward, with torch.compile from now on.

        Inductor fuses the elementwise work around the small matrix products into a few
        kernels. It draws the noise and dropout masks from its own generator, seeded from
        torch's: a compiled run repeats itself (and its resume), not an eager run.
        """
        self.compiled_loss = torch.compile(self.loss)

    def warm_compile(self, batch: Batch) -> None:
        """Compile the loss for ``batch``'s shapes and the current thread count.

        Nothing changes: no parameter or moment moves, and torch's random state is put back,
        so a run that compiles at its start or at a resume draws as one that did not.
        """
        state = torch.get_rng_state()
        try:
            self.compiled_loss(batch)['loss'].backward()
        finally:
            self.optimizer.zero_grad()
            torch.set_rng_state(state)

    def loss(self, batch: Batch) -> Dict[str, torch.Tensor]:
        """Return the total loss and its terms for one batch (no parameter change).

        ``anchor``, the actor's mean squared distance from the anchor (over the rows the
        batch's ``anchor_mask`` holds, when it has one), is among the terms only while the
        anchor weighs in; ``noise_gap``, the mean squared change of its
        actions between the noisy and the clean observation, while noise smoothing does.

        A privileged critic values (its view of) the states where the actor acts on its own
        observation: the actor's gradient reaches it only through the action.

        The critic's target takes the next action with target_noise_clip's noise when that
        is set, a separate draw; the actor's objective and the advantage's baseline take it
        with noise_clip's.
        """
        cfg = self.cfg
        a_next, s_next, b_next = self.actor.asb(batch.next_obs)
        next_action = self.actor.action(a_next, s_next)
        critic_obs, critic_next = ((batch.obs, batch.next_obs) if batch.critic_obs is None
                                   else (batch.critic_obs, batch.next_critic_obs))
        q_next = self.target_critic.soft(critic_next, next_action)
        q_next_value = q_next.detach()
        if cfg.target_noise_clip:
            with torch.no_grad():
                target_action = self.actor.action(a_next, s_next, clip=cfg.target_noise_clip)
                q_target = self.target_critic.soft(critic_next, target_action)
        else:
            q_target = q_next_value
        y = batch.reward + cfg.gamma * (1.0 - batch.done) * q_target
        q = self.critic(critic_obs, batch.action)
        q_t = advantage_baseline(self.m, q_next_value, cfg.advantage_alpha)
        actor_term = -rehae(normalised_advantage(q_next, q_t, cfg.q_floor))
        critic_term = rehse(q - y)
        swaddle_term = swaddling(s_next, b_next)
        total = actor_term + critic_term + swaddle_term
        terms: Dict[str, torch.Tensor] = {}
        clean = batch.next_clean_obs
        if self.noise_smoothing > 0.0 and clean is not None:
            # Both sides learn: the actor may move either action toward the other.
            gap = (self.actor.action(a_next, s_next, noise=False)
                   - self.actor.deterministic(clean)).square().mean()
            total = total + self.noise_smoothing * gap
            terms['noise_gap'] = gap.detach()
        if self.anchor_active:
            with torch.no_grad():
                start = self.anchor.deterministic(batch.next_obs if clean is None else clean)
            # The same forward pass as next_action's, without the noise.
            rows = (self.actor.action(a_next, s_next, noise=False) - start).square()
            if batch.anchor_mask is None:
                drift = rows.mean()
            else:   # the mean over the rows it holds
                held = batch.anchor_mask
                drift = (rows.mean(dim=-1, keepdim=True) * held).sum() / held.sum().clamp(
                    min=1.0)
            total = total + self._anchor_weight * drift
            terms['anchor'] = drift.detach()
        terms.update(loss=total, actor=actor_term.detach(), critic=critic_term.detach(),
                     swaddling=swaddle_term.detach(), q_t_mean=q_t.mean(),
                     mean_S=s_next.detach().mean())
        return terms

    def update(self, batch: Batch, train_actor: bool = True) -> Dict[str, torch.Tensor]:
        """One Symphony update, replayed as a CUDA graph once :meth:`use_cuda_graphs` is on.

        A graph's terms are overwritten by its next replay: read them before the next update.
        """
        if self.graphed is not None:
            return self.graphed(batch, train_actor)
        return self.eager_update(batch, train_actor)

    def eager_update(self, batch: Batch, train_actor: bool = True) -> Dict[str, torch.Tensor]:
        """One Symphony update: backward, AdamW step, Polyak target, m <- mean(Q_T).

        Every tensor that outlives it is updated in place, so a CUDA graph can record it.

        :param train_actor: false: the critic alone learns and the actor stays exactly as it
            is, weight decay included. Its gradients still reach the optimizer's moments:
            Adam's first steps from empty moments are lr x sign(g) for every parameter, which
            knocks a trained actor over when it is released; warmed moments scale them by
            the gradients it has been seeing.
        """
        terms = (self.compiled_loss or self.loss)(batch)
        self.optimizer.zero_grad()
        terms['loss'].backward()
        kept = None if train_actor else [p.detach().clone() for p in self.actor.parameters()]
        self.optimizer.step()
        if kept is not None:
            with torch.no_grad():
                torch._foreach_copy_(list(self.actor.parameters()), kept)
        self.soft_update()
        self.m.copy_(terms['q_t_mean'].detach())
        return terms

    def set_anchor(self) -> None:
        """Keep a frozen copy of the actor as it is now, to penalise drifting from it."""
        self.anchor = copy.deepcopy(self.actor).requires_grad_(False).eval()
        if self.graphed is not None:
            self.graphed.reset()  # graphs read the anchor they were recorded with

    @torch.no_grad()
    def soft_update(self) -> None:
        """Polyak-average the target critics toward the online critics."""
        torch._foreach_lerp_(self._target, self._online, self.cfg.tau)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, noise: bool = True, fall: bool = False,
            eps: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Return the action for acting in the environment (no gradient).

        :param fall: the deliberate fall, S*A off (see :func:`deliberate_fall`).
        :param eps: the noise's Gaussian draws (coloured acting noise); None: white, drawn now.
        """
        return self.actor(obs, noise=noise, fall=fall, eps=eps)[0]

    def state_dict(self) -> Dict[str, object]:
        """Networks, optimizer moments, m, and the anchor actor when there is one."""
        state = {'actor': self.actor.state_dict(), 'critic': self.critic.state_dict(),
                 'target_critic': self.target_critic.state_dict(),
                 'optimizer': self.optimizer.state_dict(), 'm': self.m.clone()}
        if self.anchor is not None:
            state['anchor'] = self.anchor.state_dict()
        return state

    def load_state_dict(self, state: Dict[str, object]) -> None:
        """Restore from :meth:`state_dict`."""
        self.actor.load_state_dict(state['actor'])
        self.critic.load_state_dict(state['critic'])
        self.target_critic.load_state_dict(state['target_critic'])
        self.optimizer.load_state_dict(state['optimizer'])
        self.m.copy_(state['m'])
        if 'anchor' in state:
            self.set_anchor()
            self.anchor.load_state_dict(state['anchor'])

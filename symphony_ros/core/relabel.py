"""Hindsight commands: part of each minibatch learned under velocity commands drawn anew.

A velocity task's reward is a function of the motion and the command, and the command does
not move the robot: a stored transition is, with another command written into its
observations and its command terms recomputed, a transition the robot made under that
command. One environment step then teaches the critic what the motion is worth under many
commands, where a run otherwise sees each command only while it lasts (a few hundred per
100k steps on one core). As in hindsight experience replay (Andrychowicz et al. 2017) for
goals; the commands are drawn from the task's own ranges, so the critic learns how the
same motion scores against commands faster or slower than it.

Only rows whose command asks to move are relabelled, with a new command of the same class
(walking or turning in place, `command_classes`) that frees the gait terms where the old one
did (`gait_freed`, a task's ``gait_free_error``): the gait terms depend on these alone, so
the stored reward minus the old command terms plus the new ones is the env's reward. The
velocity comes from the critic's view (exact), so relabelling needs a privileged critic.
An actor that reads its last few observations (``--history``) is given the new command in
every frame: the row becomes one whose command held over them, as a command does between
its resamples.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import gymnasium as gym
import numpy as np
import torch

from ..robot.command_terms import (COMMAND_TERMS, MOVING_SQ, CommandLayout, command_classes,
                                   gait_freed)
from .history_env import HistoryObservation
from .replay import Batch

CLASS_MARGIN = 1e-4
"""Commands this close to a class boundary (`MOVING_SQ`), or errors this close to the gait
terms' (`gait_freed`), are left alone: float32 storage could put them on the other side of
it from the env's float64 figures."""


class CommandRelabel:
    """Write a new command into a share of a batch's rows and re-score their reward."""

    def __init__(self, layout: CommandLayout, term_names: Sequence[str],
                 weights: np.ndarray, fraction: float, device: torch.device | str = 'cpu',
                 frames: int = 1, frame_dim: int = 0) -> None:
        """Keep the layout and the weights of the command terms.

        :param term_names: the env's reward terms, in the order of ``weights``.
        :param fraction: the share of each batch's rows to relabel (those asking to move).
        :param frames, frame_dim: the actor's stacked frames and one frame's size (the
            critic's view holds one frame).
        """
        names = list(term_names)
        self.layout, self.fraction = layout, float(fraction)
        self.frames, self.frame_dim = int(frames), int(frame_dim)
        self.weights: Dict[str, float] = {k: float(weights[names.index(k)])
                                          for k in COMMAND_TERMS}
        self.device = torch.device(device)
        self._scale = torch.tensor(layout.command_scale, dtype=torch.float32,
                                   device=self.device)
        lo, hi = zip(*layout.ranges)
        self._lo = torch.tensor(lo, dtype=torch.float32, device=self.device)
        self._width = torch.tensor(hi, dtype=torch.float32, device=self.device) - self._lo

    def _reward_change(self, before: Dict[str, np.ndarray], after: Dict[str, np.ndarray]
                       ) -> np.ndarray:
        """Return the weighted command terms ``after`` minus those ``before``."""
        return sum(w * (after[k] - before[k]) for k, w in self.weights.items() if w)

    def _eligible(self, old: np.ndarray, new: np.ndarray, before: Dict[str, np.ndarray],
                  after: Dict[str, np.ndarray]) -> np.ndarray:
        """Rows whose old command moves and whose new one is of its class, freeing alike.

        Freeing: the gait terms, by the error each command leaves (`gait_freed`), read from
        the command terms ``before`` (under ``old``) and ``after`` (under ``new``).
        """
        (walk0, move0), (walk1, move1) = command_classes(old), command_classes(new)
        near = np.zeros(len(old), dtype=bool)
        for c in (old, new):
            for sq in (c[:, 0] ** 2 + c[:, 1] ** 2, c[:, 2] ** 2):
                near |= np.abs(sq - MOVING_SQ) < CLASS_MARGIN
        alike = move0 & (walk0 == walk1) & (move0 == move1)
        free = self.layout.gait_free_error
        if free > 0.0:
            sq0, sq1 = before['lin_vel_error'] ** 2, after['lin_vel_error'] ** 2
            alike &= gait_freed(sq0, free) == gait_freed(sq1, free)
            for sq in (sq0, sq1):
                near |= np.abs(sq - free ** 2) < CLASS_MARGIN
        return alike & ~near

    def __call__(self, batch: Batch, reward_scale: float) -> Batch:
        """Return ``batch`` with a share of its rows under new commands.

        :param reward_scale: the replay's reward scale (stored rewards are divided by it).
        :raises ValueError: a batch without the critic's view (it holds the velocity).
        """
        if batch.next_critic_obs is None:
            raise ValueError('command relabelling needs the critic\'s view of each transition '
                             '(a privileged critic): the velocity the reward measured')
        n, (a, b) = batch.obs.shape[0], self.layout.command
        new = self._lo + self._width * torch.rand((n, 3), device=self.device)
        pick = torch.rand(n, device=self.device) < self.fraction
        old = batch.obs[:, a:b] / self._scale
        old_np = old.cpu().numpy().astype(np.float64)
        new_np = new.cpu().numpy().astype(np.float64)
        view = batch.next_critic_obs.cpu().numpy()
        before, after = self.layout.terms(old_np, view), self.layout.terms(new_np, view)
        ok_np = self._eligible(old_np, new_np, before, after) & pick.cpu().numpy()
        change = self._reward_change(before, after)
        ok = torch.as_tensor(ok_np, device=self.device)
        delta = torch.as_tensor(np.where(ok_np, change, 0.0) / reward_scale,
                                dtype=torch.float32, device=self.device).reshape(-1, 1)
        seen = new * self._scale

        def written(x: torch.Tensor, frames: int = 1) -> torch.Tensor:
            out = x.clone()
            for k in range(frames):
                at = k * self.frame_dim
                out[:, at + a:at + b] = torch.where(ok[:, None], seen, x[:, at + a:at + b])
            return out
        f = self.frames
        out = batch._replace(obs=written(batch.obs, f), next_obs=written(batch.next_obs, f),
                             reward=batch.reward + delta,
                             critic_obs=written(batch.critic_obs),
                             next_critic_obs=written(batch.next_critic_obs))
        if batch.next_clean_obs is not None:
            out = out._replace(next_clean_obs=written(batch.next_clean_obs, f))
        return out


def command_layout(env: gym.Env, flag: str, what: str, usable: bool = True) -> CommandLayout:
    """Return where ``env``'s transitions hold their command and velocity, for ``flag``.

    :param usable: False refuses an env that has a layout but lacks what ``flag`` also needs.
    :raises ValueError: naming ``flag``, for an env without velocity commands.
    """
    try:
        layout = env.get_wrapper_attr('command_layout')()
    except AttributeError:
        layout = None
    if layout is None or not usable:
        name = env.spec.id if env.spec else repr(env)
        raise ValueError(f'{flag}: env {name!r} has no velocity command to {what}; a velocity '
                         'task has (velocity:<robot>)')
    return layout


def command_relabel(env: gym.Env, fraction: float, device: torch.device | str,
                    terms: Optional[Tuple[Sequence[str], np.ndarray]]) -> CommandRelabel:
    """Return the relabelling of ``env``'s transitions (--relabel-commands ``fraction``).

    :param terms: the env's reward term names and weights (`envs.reward_terms`).
    :raises ValueError: an env without velocity commands or reward terms.
    """
    layout = command_layout(env, '--relabel-commands', 'relabel', terms is not None)
    frames = env.frames if isinstance(env, HistoryObservation) else 1
    dim = int(np.prod(env.observation_space.shape)) // frames
    return CommandRelabel(layout, terms[0], terms[1], fraction, device, frames, dim)


def relabel_note(relabel: CommandRelabel) -> str:
    """Say, once, what --relabel-commands does to this run's minibatches."""
    ranges = ', '.join(f'{name} {lo:g}..{hi:g}' for name, (lo, hi) in
                       zip(('vx', 'vy', 'yaw rate'), relabel.layout.ranges))
    return (f'--relabel-commands {relabel.fraction:g}: that share of each minibatch\'s moving '
            f'commands is replaced by one drawn from {ranges} (same class: walking or '
            'turning in place), its tracking terms re-scored from the velocity the step '
            'reached')


__all__ = ['CommandRelabel', 'command_layout', 'command_relabel', 'relabel_note']

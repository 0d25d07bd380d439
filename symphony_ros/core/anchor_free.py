"""Which sampled steps a fine-tune's anchor holds: those near the commanded velocity.

An anchor (``--anchor-weight``) keeps a fine-tuned actor's actions near those of the actor
it started from, so that a fresh critic's first gradients cannot unlearn a walker. It holds
every state alike, so it also holds the starting actor's answer to a kick that the starting
actor did not survive. With ``--anchor-free-error E`` it leaves out the steps whose base
misses its command by more than E m/s in the plane (a kick threw it, as the gait terms'
``--gait-free-error``): the walker's gait stays held where it walks as told, and its
recovery is the critic's to teach.
"""

from __future__ import annotations

import gymnasium as gym
import torch

from ..robot.command_terms import CommandLayout
from .relabel import command_layout
from .replay import Batch


class AnchorFree:
    """The anchor's share of each sampled row: 1 where it holds, 0 where the robot was thrown."""

    def __init__(self, layout: CommandLayout, free_error: float,
                 device: torch.device | str = 'cpu') -> None:
        """Keep where the command and the velocity sit in the critic's view.

        :param free_error: m/s of planar velocity error past which the anchor lets go.
        """
        self.command = layout.command[0]
        self.lin_vel = layout.lin_vel
        self.free_error = float(free_error)
        self._scale = torch.tensor(layout.command_scale[:2], dtype=torch.float32,
                                   device=device)

    def __call__(self, batch: Batch) -> Batch:
        """Return ``batch`` with its ``anchor_mask``, of the next state each row reached.

        :raises ValueError: a batch without the critic's view (it holds the velocity).
        """
        view = batch.next_critic_obs
        if view is None:
            raise ValueError('--anchor-free-error needs the critic\'s view of each transition '
                             '(a privileged critic): the velocity each step reached')
        a, v = self.command, self.lin_vel
        error = (view[:, a:a + 2] / self._scale - view[:, v:v + 2]).square().sum(
            dim=-1, keepdim=True)
        return batch._replace(anchor_mask=(error <= self.free_error ** 2).float())


def anchor_free(env: gym.Env, free_error: float, device: torch.device | str) -> AnchorFree:
    """Return the anchor's mask for ``env``'s transitions (``--anchor-free-error``).

    :raises ValueError: an env without velocity commands.
    """
    return AnchorFree(command_layout(env, '--anchor-free-error', 'miss'), free_error, device)


__all__ = ['AnchorFree', 'anchor_free']

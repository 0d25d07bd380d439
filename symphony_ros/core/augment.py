"""Symmetry augmentation: half of every minibatch learned as its left-right mirror image.

For a robot and task that are left-right symmetric (`symphony_ros.robot.mirror`), the mirror
image of a transition (observations, action and critic observations mirrored; reward and
termination unchanged) is a transition the robot could have made. Mirroring the second half
of each sampled batch (rows are drawn independently, so which half does not matter) gives
the learner both sides of every experience at no cost in environment steps, and pulls the
policy toward a symmetric gait, without changing the batch size or the replay.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch

from .replay import Batch

Map = Tuple[np.ndarray, np.ndarray]
"""(index, sign): the mirror of x is x[..., index] * sign."""


class BatchMirror:
    """Mirror the second half of a `Batch` with fixed index/sign maps."""

    def __init__(self, obs: Map, action: Map, critic: Optional[Map] = None,
                 device: torch.device | str = 'cpu') -> None:
        """Keep the maps as tensors on ``device``; ``critic`` for a privileged critic's view."""
        def tensors(m: Map) -> Tuple[torch.Tensor, torch.Tensor]:
            return (torch.as_tensor(np.asarray(m[0]), dtype=torch.long, device=device),
                    torch.as_tensor(np.asarray(m[1]), dtype=torch.float32, device=device))
        self.obs, self.action = tensors(obs), tensors(action)
        self.critic = tensors(critic) if critic is not None else None

    @staticmethod
    def _half(x: torch.Tensor, m: Tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        h = x.shape[0] // 2
        return torch.cat([x[:h], torch.index_select(x[h:], 1, m[0]) * m[1]])

    def __call__(self, batch: Batch) -> Batch:
        """Return ``batch`` with rows n//2.. replaced by their mirror images."""
        out = batch._replace(obs=self._half(batch.obs, self.obs),
                             next_obs=self._half(batch.next_obs, self.obs),
                             action=self._half(batch.action, self.action))
        if batch.next_clean_obs is not None:
            out = out._replace(next_clean_obs=self._half(batch.next_clean_obs, self.obs))
        if batch.critic_obs is not None and self.critic is not None:
            out = out._replace(critic_obs=self._half(batch.critic_obs, self.critic),
                               next_critic_obs=self._half(batch.next_critic_obs, self.critic))
        return out

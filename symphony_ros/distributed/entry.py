"""The one place that picks the trainer of a run: single process, or learner plus collectors."""

from __future__ import annotations

from typing import Any

from ..core.config import TrainConfig
from ..core.envs import randomization
from ..core.trainer import Trainer
from .config import DistributedConfig


def make_trainer(cfg: TrainConfig, dist: DistributedConfig, **kwargs: Any) -> Trainer:
    """Return a :class:`Trainer`, or a DistributedTrainer when ``dist.collectors`` > 0.

    Ray is imported on the distributed path only: a single-process run never loads it.
    :param kwargs: passed on (resume, progress, tensorboard; log for a distributed run).
    :raises ValueError: bad settings, or ``--collectors`` without Ray installed.
    """
    dist.check()
    if not dist.enabled:
        kwargs.pop('log', None)
        return Trainer(cfg, **kwargs)
    if cfg.privileged_critic:
        # Chunks carry the actor's observations only.
        raise ValueError('--privileged-critic runs in a single process only: collectors do '
                         'not send the critic\'s observations (drop --collectors or it)')
    if cfg.randomize_ramp:
        # Collectors reset their own envs; widening them needs the step count sent along.
        raise ValueError('--randomize-ramp runs in a single process only: collectors draw '
                         'their episodes at full width (drop --collectors or the ramp)')
    spec = randomization(cfg.env, cfg.randomize, cfg.randomize_scale)
    if spec is not None and spec.hard_auto:
        # Each collector's env would move its own depth, and no checkpoint would keep them.
        raise ValueError('hard_depth: auto runs in a single process only: collectors would '
                         'each move their own corner (drop --collectors or give a fixed '
                         'hard_depth)')
    if cfg.anchor_weight:
        # The learner's update loop does not fade the anchor's weight.
        raise ValueError('--anchor-weight runs in a single process only (drop --collectors '
                         'or the anchor)')
    if cfg.noise_smoothing:
        # Chunks carry the noisy observations only.
        raise ValueError('--noise-smoothing runs in a single process only: collectors do not '
                         'send the observations without their noise (drop --collectors or it)')
    if cfg.refill_steps:
        # The learner counts every transition its collectors send as a step.
        raise ValueError('--refill-steps runs in a single process only: a distributed resume '
                         'without its replay refills by a warm-up (drop --collectors or it)')
    try:
        from .learner import DistributedTrainer
    except ImportError as exc:
        raise ValueError(f'--collectors needs Ray ({exc}): pip install -e \'.[distributed]\''
                         ) from None
    return DistributedTrainer(cfg, dist, **kwargs)

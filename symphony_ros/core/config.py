"""Symphony hyper-parameters: one typed dataclass and the paper's named configurations.

The named configurations follow arXiv 2512.10477 and its reference implementation:
``s3`` (default), ``se``, ``s2`` and ``ed``. CLI flags and ROS parameters are derived
from these dataclasses, so a default lives here and nowhere else.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


@dataclass(frozen=True)
class SymphonyConfig:
    """Algorithm hyper-parameters (network sizes, optimizer, buffer, update schedule)."""

    name: str = 's3'
    """Name of the configuration this was derived from."""
    hidden_dim: int = 512
    """Width h of every FeedForward block."""
    critic_heads: int = 128
    """Outputs of each of the three critic FeedForwards (h/4); 3x this many heads in total."""
    batch_size: int = 384
    """Transitions per update (the reference ties it to the number of critic heads)."""
    updates_per_step: int = 3
    """G: gradient updates per environment step."""
    lr: float = 1e-4
    """Learning rate of the single AdamW optimizer."""
    betas: tuple = (GOLDEN, 0.995)
    """AdamW betas (no bias correction)."""
    weight_decay: float = 0.01
    """Decoupled weight decay, multiplied by lr."""
    gamma: float = 0.99
    """Discount factor."""
    tau: float = 0.005
    """Polyak factor of the target critics."""
    advantage_alpha: float = GOLDEN
    """alpha of the temporal advantage baseline Q_T = alpha*m + (1-alpha)*Q'."""
    noise_clip: float = math.e
    """Limited parametric noise N = clamp(eps, -c, c) / c, eps ~ N(0, 1)."""
    gradient_dropout: float = 0.0
    """Probability of dropping an output's gradient (S2 only; 0 disables)."""
    capacity: int = 512_000
    """Fading Replay Buffer capacity."""
    explore_steps: int = 10_240
    """N_exp: warm-up steps with the untrained actor plus noise before updates start."""
    fall_steps: int = 50
    """From step (limit - fall_steps) of a training episode only noise acts (deliberate fall)."""
    q_floor: float = 1.0
    """Floor on |Q_T| in the normalised advantage (see losses.normalised_advantage)."""

    def to_dict(self) -> Dict[str, Any]:
        """Return a JSON-friendly dict of every field."""
        d = dataclasses.asdict(self)
        d['betas'] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> 'SymphonyConfig':
        """Build a config from :meth:`to_dict` output, rejecting unknown keys."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f'unknown SymphonyConfig fields: {", ".join(unknown)}')
        d = dict(d)
        if 'betas' in d:
            d['betas'] = tuple(d['betas'])
        return cls(**d)


OVERRIDABLE = ('hidden_dim', 'critic_heads', 'batch_size', 'updates_per_step', 'lr',
               'capacity', 'explore_steps')
"""Symphony fields a user may override (CLI flags, node parameters, launch arguments); the
rest define the method."""

CONFIGS: Dict[str, SymphonyConfig] = {
    's3': SymphonyConfig(),
    'se': SymphonyConfig(name='se', noise_clip=math.pi),
    's2': SymphonyConfig(name='s2', gradient_dropout=0.5, lr=5e-5, explore_steps=20_480,
                         capacity=20_480 * 25),
    'ed': SymphonyConfig(name='ed', hidden_dim=384, critic_heads=96, batch_size=288,
                         updates_per_step=2, explore_steps=7_680, capacity=384_000),
}


def get_config(name: str, **overrides: Any) -> SymphonyConfig:
    """Return the named configuration with ``overrides`` applied.

    :param name: one of :data:`CONFIGS`.
    :raises ValueError: for an unknown name or field.
    """
    if name not in CONFIGS:
        raise ValueError(f'unknown config {name!r}; expected one of {", ".join(CONFIGS)}')
    try:
        return dataclasses.replace(CONFIGS[name], **overrides)
    except TypeError as exc:
        raise ValueError(f'bad override for config {name!r}: {exc}') from None


@dataclass(frozen=True)
class TrainConfig:
    """What to train on and for how long; the run-level settings of ``symphony train``."""

    config: str = 's3'
    """Named Symphony configuration (s3, se, s2, ed)."""
    env: str = 'symphony/Humanoid-v4'
    """Environment id: a project env (symphony/Humanoid-v4, velocity:<robot>) or a Gymnasium id."""
    steps: int = 300_000
    """Environment steps to train for (warm-up included)."""
    seed: int = 0
    """Seed of every random number generator."""
    run_dir: str = 'runs/humanoid'
    """Folder for metrics, TensorBoard logs, plots and checkpoints."""
    device: str = 'auto'
    """auto, cpu or cuda."""
    eval_every: int = 2_500
    """Evaluate the deterministic actor every this many env steps (after warm-up)."""
    eval_episodes: int = 10
    """Test episodes per evaluation."""
    checkpoint_every: int = 2_500
    """Write a checkpoint every this many env steps."""
    episode_limit: Optional[int] = None
    """Episode step limit; None takes the environment's own time limit."""
    obs_spec: Optional[str] = None
    """Observation spec for robot envs; None takes the env's default."""
    randomize: str = 'none'
    """Training randomisation: none, default (robot file's ranges) or a YAML file of ranges."""
    randomize_scale: float = 1.0
    """Factor on every randomisation range's width (0: none)."""
    overrides: Dict[str, Any] = field(default_factory=dict)
    """Field overrides applied to the named Symphony configuration."""

    def symphony(self) -> SymphonyConfig:
        """Resolve the algorithm configuration."""
        return get_config(self.config, **self.overrides)

    def to_dict(self) -> Dict[str, Any]:
        """Return a JSON-friendly dict of every field."""
        return dataclasses.asdict(self)

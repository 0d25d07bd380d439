"""Settings of a distributed run (``symphony train --collectors N``, trainer_node parameters).

Kept apart from TrainConfig: they say where and how fast a run is computed, not what is
learned, so a run may be resumed with another collector count or cluster address.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DistributedConfig:
    """How a run is spread over Ray actors; ``collectors`` 0 keeps the single-process trainer."""

    collectors: int = 0
    """Ray collector actors (1 CPU each) stepping their own env; 0: single process, no Ray."""
    ray_address: str = ''
    """'' starts a local Ray instance on this machine's cores; 'auto' (or host:port) joins a
    cluster started with `ray start`."""
    chunk_steps: int = 64
    """Transitions a collector sends per chunk."""
    weights_every: int = 100
    """Updates between two actor-weight broadcasts through the object store (K)."""
    update_ratio: float = 0.0
    """Updates per env step the learner enforces (0: the config's updates_per_step G)."""
    max_failures: int = 3
    """Consecutive failures of every collector at once that stop the run."""

    @property
    def enabled(self) -> bool:
        """True when the run goes through Ray."""
        return self.collectors > 0

    def check(self) -> None:
        """Raise ValueError naming the first setting out of range."""
        for name in ('collectors', 'update_ratio'):
            if getattr(self, name) < 0:
                raise ValueError(f'{name} must be >= 0, got {getattr(self, name)}')
        for name in ('chunk_steps', 'weights_every', 'max_failures'):
            if getattr(self, name) <= 0:
                raise ValueError(f'{name} must be positive, got {getattr(self, name)}')


class CollectorsFailed(RuntimeError):
    """Every collector failed ``max_failures`` times in a row; the message holds the cause.

    Defined here, without Ray, so the CLI and trainer_node can name it.
    """

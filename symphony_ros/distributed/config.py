"""Settings of a distributed run (``symphony train --collectors N``, trainer_node parameters).

Kept apart from TrainConfig: they say where and how fast a run is computed, not what is
learned, so a run may be resumed with another collector count or cluster address.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..util.fields import check_ranges, ranged


@dataclass(frozen=True)
class DistributedConfig:
    """How a run is spread over Ray actors; ``collectors`` 0 keeps the single-process trainer."""

    collectors: int = ranged(0, 0)
    """Ray collector actors (1 CPU each) stepping their own env; 0: single process, no Ray."""
    ray_address: str = ''
    """'' starts a local Ray instance on this machine's cores; 'auto' (or host:port) joins a
    cluster started with `ray start`."""
    chunk_steps: int = ranged(64, 1)
    """Transitions a collector sends per chunk."""
    weights_every: int = ranged(100, 1)
    """Updates between two actor-weight broadcasts through the object store (K)."""
    update_ratio: float = ranged(0.0, 0)
    """Updates per env step the learner enforces (0: the config's updates_per_step G)."""
    max_failures: int = ranged(3, 1)
    """Consecutive failures of every collector at once that stop the run."""

    @property
    def enabled(self) -> bool:
        """True when the run goes through Ray."""
        return self.collectors > 0

    def __post_init__(self) -> None:
        check_ranges(self)

    def check(self) -> None:
        """Raise ValueError naming the first setting out of range."""
        check_ranges(self)


class CollectorsFailed(RuntimeError):
    """Every collector failed ``max_failures`` times in a row; the message holds the cause.

    Defined here, without Ray, so the CLI and trainer_node can name it.
    """

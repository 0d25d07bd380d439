"""Rolling latency statistics for control loops (p50/p99 over a fixed window)."""

from __future__ import annotations

from typing import Dict

import numpy as np


class Percentiles:
    """Keeps the last ``window`` samples in a ring; quantiles on demand."""

    def __init__(self, window: int = 2000) -> None:
        self._buf = np.zeros(window)
        self._n = 0

    def add(self, value: float) -> None:
        """Record one sample."""
        self._buf[self._n % len(self._buf)] = value
        self._n += 1

    @property
    def count(self) -> int:
        """Samples recorded since creation."""
        return self._n

    def summary(self, scale: float = 1e6) -> Dict[str, float]:
        """p50, p99 and max of the window, multiplied by ``scale`` (default: s -> us)."""
        if self._n == 0:
            return {'p50': float('nan'), 'p99': float('nan'), 'max': float('nan')}
        x = self._buf[:min(self._n, len(self._buf))] * scale
        return {'p50': float(np.percentile(x, 50)), 'p99': float(np.percentile(x, 99)),
                'max': float(x.max())}


class SteadyPercentiles(Percentiles):
    """Percentiles of a running loop: the first ``warmup`` samples are left out.

    A loop's first ticks carry its start (the first inferences, DDS discovery, the robot
    arming), so a p99 over a window that holds them judges the start, not the loop; ``ready``
    once ``min_samples`` samples after the warm-up are in, so a p99 is not one sample's max.
    """

    def __init__(self, warmup: int, min_samples: int, window: int = 2000) -> None:
        super().__init__(window)
        self.warmup, self.min_samples = int(warmup), int(min_samples)
        self._seen = 0

    def add(self, value: float) -> None:
        """Record one sample (dropped while the warm-up lasts)."""
        self._seen += 1
        if self._seen > self.warmup:
            super().add(value)

    @property
    def ready(self) -> bool:
        """Whether enough samples after the warm-up are in to judge the loop."""
        return self.count >= self.min_samples

"""Fixed-period loops on the steady clock, and their period statistics.

The statistics are kept cheaply at 500 Hz for the whole run (a fixed histogram).
"""

from __future__ import annotations

import threading
import time
from typing import Dict, Iterator, Optional

import numpy as np

BIN_S = 10e-6
"""Histogram resolution: 10 us."""
BINS = 5000
"""Deviations up to 50 ms are binned; larger ones land in the last bin (max is exact)."""


class PeriodStats:
    """Jitter |actual period - nominal| of a periodic callback: p50, p99, max."""

    def __init__(self, period: float):
        self.period = period
        self.count = 0
        self.max = 0.0
        self._hist = np.zeros(BINS, dtype=np.int64)
        self._last: Optional[float] = None

    def record(self, t: float) -> None:
        """Record a callback that ran at steady time ``t`` (seconds)."""
        if self._last is not None:
            dev = abs(t - self._last - self.period)
            self._hist[min(int(dev / BIN_S), BINS - 1)] += 1
            self.count += 1
            if dev > self.max:
                self.max = dev
        self._last = t

    def percentile(self, p: float) -> float:
        """Upper edge (s) of the bin holding the p-th percentile; 0.0 before any sample."""
        if not self.count:
            return 0.0
        idx = int(np.searchsorted(np.cumsum(self._hist), p / 100.0 * self.count))
        return min((idx + 1) * BIN_S, self.max)

    def summary(self) -> Dict[str, float]:
        """Jitter figures in microseconds."""
        return {'jitter_p50_us': self.percentile(50) * 1e6,
                'jitter_p99_us': self.percentile(99) * 1e6,
                'jitter_max_us': self.max * 1e6, 'periods': float(self.count)}


def paced(period: float, stop: threading.Event) -> Iterator[float]:
    """Yield once per ``period`` (s) on the monotonic clock until ``stop`` is set.

    Each value is the deadline just reached. The loop sleeps to each deadline; after an
    overrun of more than a period it starts afresh instead of bursting to catch up. A
    thread running this stays on time where an rclpy executor timer, which shares its
    thread with every callback, falls behind under load.
    """
    deadline = time.monotonic()
    while not stop.is_set():
        deadline += period
        delay = deadline - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -period:  # overran by more than a period: skip, do not burst
            deadline = time.monotonic()
        yield deadline

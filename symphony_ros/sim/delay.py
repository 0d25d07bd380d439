"""Command latency for the sim: a command received at t reaches the motors at t + delay.

mujoco_sim_node's ``command_delay`` puts the DDS and driver latency of a real robot into the
realtime loop (``symphony stress --ros``). The line holds every command until it is due,
then it replaces the one applied, as a later arrival would; the freshness of the command
applied is counted from when it became due, so a delay never reads as a dropped link. The
clock is injected: the node passes its steady clock, the tests a fake one.
"""

from __future__ import annotations

import collections
import math
import re
from typing import Any, Callable, Deque, Dict, Optional, Tuple

from ..deploy.stats import Percentiles

APPLIED_LINE = re.compile(r'commands applied (\d+\.\d) ms after arrival \(median, (\d+) '
                          r'steps; command_delay ([\d.]+) s\)')
"""How the sim's closing log line reports :meth:`DelayLine.summary` (``symphony stress
--ros`` reads it back)."""


class DelayLine:
    """Commands in arrival order, each released ``delay`` seconds after it arrived."""

    def __init__(self, delay: float, clock: Callable[[], float]) -> None:
        if not (math.isfinite(delay) and delay >= 0):
            raise ValueError(f'command_delay: expected a number >= 0, got {delay!r}')
        self.delay = delay
        self._clock = clock
        self._queue: Deque[Tuple[float, float, Any]] = collections.deque()
        """(due, arrived, command) of the commands not yet applied."""
        self._current: Tuple[float, float, Any] = (-math.inf, -math.inf, None)
        self.ages = Percentiles()
        """s from arrival to application, one sample per command applied at a step."""

    def push(self, command: Any) -> None:
        """Take a command that just arrived (None: a malformed one, applied as none)."""
        now = self._clock()
        self._queue.append((now + self.delay, now, command))

    def current(self) -> Tuple[Optional[Any], float]:
        """Return the command applied now and the time it became due (-inf: none yet)."""
        now = self._clock()
        while self._queue and self._queue[0][0] <= now:
            self._current = self._queue.popleft()
        due, _, command = self._current
        return command, due

    def applied(self) -> None:
        """Record that the current command was applied at a step (for :meth:`summary`)."""
        _, arrived, command = self._current
        if command is not None:
            self.ages.add(self._clock() - arrived)

    def summary(self) -> Dict[str, float]:
        """Return the median arrival-to-application time in ms and how many steps it covers."""
        return {'median_ms': self.ages.summary(1e3)['p50'], 'steps': self.ages.count,
                'command_delay_s': self.delay}

    def describe(self) -> str:
        """Say :meth:`summary` in the words :data:`APPLIED_LINE` reads."""
        s = self.summary()
        if not s['steps']:
            return f'no command applied (command_delay {s["command_delay_s"]:.4f} s)'
        return (f'commands applied {s["median_ms"]:.1f} ms after arrival (median, '
                f'{s["steps"]} steps; command_delay {s["command_delay_s"]:.4f} s)')

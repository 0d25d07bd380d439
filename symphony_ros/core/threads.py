"""How many CPU threads torch's learner update uses: measured, not assumed.

All of a machine's cores are fastest only while nothing else runs. Beside one busy process
on two cores, an update with two threads was 2.3x slower than with one (each thread waits
at every kernel's barrier for the one that was preempted). A trainer always has company
(a sim, a recorder, a person's other work), and the company changes during a run, so the
count is chosen from update times measured now: every candidate is timed for a few
updates, the fastest is kept, and the choice is measured again after a while or as soon
as updates slow down. A fixed count disables all of this: ``--threads``, else an
``OMP_NUM_THREADS`` set in the environment (a person's explicit choice, e.g. on a machine
shared by several people).
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Callable, Dict, List, Optional

import torch


def usable_cpus() -> int:
    """Return how many CPUs this process may run on (affinity mask, else the machine count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                       # not on Linux
        return os.cpu_count() or 1


def candidates(cpus: int) -> List[int]:
    """Thread counts worth timing: 1, powers of two below ``cpus``, and ``cpus``."""
    counts, n = {cpus}, 1
    while n < cpus:
        counts.add(n)
        n *= 2
    return sorted(counts)


class ThreadPolicy:
    """Sets ``torch.set_num_threads`` from the update times it is told about.

    A probe times the candidates in interleaved rounds (``settle`` untimed then ``probe``
    timed updates each per round), so a change of load during the probe touches them all
    alike, and compares mean times, since under contention the slow tail is what costs.
    The fewest threads within ``margin`` of the fastest win: more threads gain little when
    they gain less than that, and lose the most when a neighbour arrives. A candidate whose
    first round is ``drop`` times slower than another's is not timed again in that probe
    (under contention a collapsed count costs seconds per update). A slowdown triggers a
    new probe only while more than the fewest threads are in use: fewer threads are the
    only remedy for contention; the periodic probe finds when more pay again.

    :param fixed: a thread count to use always (no measuring).
    :param cpus: CPUs to choose among (default: :func:`usable_cpus`).
    :param every_s: seconds after which the choice is measured again.
    :param slower: measure again when the median of the last ``settle + probe`` updates
        exceeds the chosen count's probed mean by this factor.
    :param note: called with one line each time the choice is made.
    """

    def __init__(self, fixed: Optional[int] = None, cpus: Optional[int] = None,
                 probe: int = 3, settle: int = 1, rounds: int = 3, margin: float = 0.1,
                 drop: float = 2.0, every_s: float = 300.0, slower: float = 1.5,
                 note: Optional[Callable[[str], None]] = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if fixed is not None and fixed < 1:
            raise ValueError(f'threads must be at least 1, got {fixed}')
        source = '--threads'
        if fixed is None and os.environ.get('OMP_NUM_THREADS', '').isdigit():
            fixed, source = max(1, int(os.environ['OMP_NUM_THREADS'])), 'OMP_NUM_THREADS'
        self.fixed, self.probe, self.settle, self.rounds = fixed, probe, settle, rounds
        self.margin, self.every_s, self.slower, self.clock = margin, every_s, slower, clock
        self.drop = drop
        self.notes: List[Callable[[str], None]] = [note] if note else []
        self.counts = [fixed] if fixed is not None else candidates(cpus or usable_cpus())
        self._found = torch.get_num_threads()
        self.threads = self.counts[0]
        self.chosen_s: Optional[float] = None
        self.last: Dict[int, float] = {}
        self._queue: List[int] = []
        self._samples: Dict[int, List[float]] = {}
        self._times: List[float] = []
        self._since = 0.0
        self.choices = 0
        if fixed is not None or len(self.counts) == 1:
            self._set(self.counts[0])
            self._say(f'threads: {self.threads} '
                      f'({source if fixed is not None else "one usable CPU"})')
        else:
            self._start_probe()

    def _say(self, line: str) -> None:
        for note in self.notes:
            note(line)

    def _set(self, n: int) -> None:
        self.threads = n
        if torch.get_num_threads() != n:
            torch.set_num_threads(n)

    def _start_probe(self) -> None:
        self._queue = list(self.counts) * self.rounds
        self._samples = {n: [] for n in self.counts}
        self._times = []
        self._set(self._queue[0])

    def apply(self) -> None:
        """Set torch to this policy's current count (after something else changed it)."""
        torch.set_num_threads(self.threads)

    def restore(self) -> None:
        """Give torch back the thread count it had before this policy."""
        torch.set_num_threads(self._found)

    @property
    def probing(self) -> bool:
        """True while candidates are being timed."""
        return bool(self._queue)

    def record(self, seconds: float) -> None:
        """Take the duration of one update made with :attr:`threads` threads."""
        if self.fixed is not None or len(self.counts) == 1:
            return
        self._times.append(seconds)
        if self._queue:
            if len(self._times) < self.settle + self.probe:
                return
            done = self._queue.pop(0)
            self._samples[done] += self._times[self.settle:]
            self._times = []
            means = [statistics.fmean(t) for t in self._samples.values() if t]
            if statistics.fmean(self._samples[done]) > self.drop * min(means):
                self._queue = [n for n in self._queue if n != done]
            if self._queue:
                self._set(self._queue[0])
            else:
                self._choose()
            return
        window = self._times = self._times[-(self.settle + self.probe):]
        slowed = (self.threads > self.counts[0] and len(window) == self.settle + self.probe
                  and statistics.median(window) > self.slower * self.chosen_s)
        if slowed or self.clock() - self._since > self.every_s:
            self._start_probe()

    def _choose(self) -> None:
        self.last = {n: statistics.fmean(t) for n, t in self._samples.items() if t}
        fastest = min(self.last.values())
        best = min(n for n, t in self.last.items() if t <= (1.0 + self.margin) * fastest)
        self._set(best)
        self.chosen_s, self._since = self.last[best], self.clock()
        self.choices += 1
        timed = ', '.join(f'{n}: {t * 1e3:.1f} ms' for n, t in sorted(self.last.items()))
        self._say(f'threads: {best} (mean update time by thread count: {timed})')

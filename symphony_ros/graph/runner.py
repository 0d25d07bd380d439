"""Run planned processes like ``ros2 launch``: prefixed output, signal forwarding, clean stop.

Each child gets its own session (so its own process group): a terminal's Ctrl-C reaches
only the runner, which then stops the children in order, SIGINT, then SIGTERM, then
SIGKILL, each after a timeout, and only ever signals groups of children it started and
has not yet reaped. A second Ctrl-C skips to the next step.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from typing import IO, Callable, List, Optional, Tuple

from ..util.stop_flag import StopFlag
from .processes import Planned

PREFIX = '[launch]'
REPEAT_AFTER = 0.3
"""s after the first signal from which another one escalates the stop (a second Ctrl-C)."""
_PR_SET_PDEATHSIG = 1


def _parent_death_signal() -> Optional[Callable[[], None]]:
    # Linux only: a child gets SIGTERM if the runner dies without stopping it (kill -9).
    # Called between fork and exec, so it must not take Python-level locks; children are
    # started before any reader thread exists for the same reason.
    if not sys.platform.startswith('linux'):
        return None
    try:
        prctl = ctypes.CDLL('libc.so.6', use_errno=True).prctl
    except OSError:
        return None
    return lambda: prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


class Child:
    """A started process and what became of it."""

    def __init__(self, planned: Planned, popen: subprocess.Popen) -> None:
        self.planned = planned
        self.popen = popen
        self.reported = False
        self.reader: Optional[threading.Thread] = None

    @property
    def name(self) -> str:
        """The node or process name."""
        return self.planned.name

    def alive(self) -> bool:
        """Tell whether the process still runs (False once it has exited and been reaped)."""
        return self.popen.poll() is None

    def signal(self, sig: int) -> None:
        """Signal the child's process group, if the child has not been reaped yet."""
        # Not reaped means its PID, hence its group id, cannot have been reused.
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                pass


class Runner:
    """Start planned processes, forward output, stop them all when one required one ends."""

    def __init__(self, planned: List[Planned], sigint_timeout: float = 5.0,
                 sigterm_timeout: float = 5.0, out: IO[str] = sys.stdout) -> None:
        self.planned = [p for p in planned if p.missing is None]
        self.timeouts = [(signal.SIGINT, sigint_timeout), (signal.SIGTERM, sigterm_timeout),
                         (signal.SIGKILL, 5.0)]
        self.out = out
        self.children: List[Child] = []
        self._lock = threading.Lock()
        self._signals: List[Tuple[int, float]] = []
        """(signal number, monotonic time) of each stop request."""
        self._wake = StopFlag()
        """Set by the signal handler: a threading.Event could deadlock there."""

    def say(self, line: str) -> None:
        """Print one line, whole, between the children's lines."""
        with self._lock:
            try:
                self.out.write(line + '\n')
                self.out.flush()
            except (BrokenPipeError, ValueError):  # output closed (| head): keep running
                pass

    def _on_signal(self, signum: int, frame: object) -> None:
        # Only record: printing here could deadlock on the output lock.
        self._signals.append((signum, time.monotonic()))
        self._wake.set()

    def request_stop(self) -> None:
        """Stop the graph as one Ctrl-C would; safe from another thread (a time limit)."""
        self._on_signal(signal.SIGINT, None)

    def _forward(self, child: Child) -> None:
        stream = child.popen.stdout
        assert stream is not None
        for raw in iter(stream.readline, b''):
            self.say(f'[{child.name}] {raw.decode(errors="replace").rstrip()}')
        stream.close()

    def _start(self) -> bool:
        preexec = _parent_death_signal()
        for p in self.planned:
            env = dict(os.environ, PYTHONUNBUFFERED='1', **p.env)
            try:
                popen = subprocess.Popen(p.argv, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         env=env, start_new_session=True, preexec_fn=preexec)
            except OSError as exc:
                self.say(f'{PREFIX} {p.name} failed to start: {exc}')
                if p.required:
                    return False
                continue
            self.children.append(Child(p, popen))
            self.say(f'{PREFIX} started {p.name} (pid {popen.pid})')
        for child in self.children:
            child.reader = threading.Thread(target=self._forward, args=(child,), daemon=True)
            child.reader.start()
        return True

    def _report(self, child: Child, during_stop: bool) -> None:
        if child.reported or child.alive():
            return
        child.reported = True
        code = child.popen.returncode
        what = f'signal {_signal_name(-code)}' if code < 0 else f'code {code}'
        note = '' if child.planned.required or during_stop else ' (optional: graph goes on)'
        self.say(f'{PREFIX} {child.name} exited with {what}{note}')

    def _watch(self) -> int:
        """Wait for a signal or a required child's exit; return the exit status to give."""
        while True:
            if self._signals:
                self.say(f'{PREFIX} {_signal_name(self._signals[0][0])}: stopping')
                return 0
            for child in self.children:
                if child.alive() or child.reported:
                    continue
                self._report(child, during_stop=False)
                if child.planned.required:
                    code = child.popen.returncode
                    self.say(f'{PREFIX} required {child.name} ended: stopping the graph')
                    return 0 if code == 0 else 1
            if not any(c.alive() for c in self.children):
                return 0
            self._wake.wait(0.05)

    def _repeated(self, seen: int, began: float) -> bool:
        """Whether a signal after the first ``seen`` is a deliberate repeat.

        ``timeout`` and some process managers signal the process and then its group, so
        one request can arrive twice within microseconds; only a later one is a second
        Ctrl-C.
        """
        return len(self._signals) > seen and self._signals[-1][1] - began >= REPEAT_AFTER

    def _stop(self) -> None:
        seen = len(self._signals)
        began = self._signals[0][1] if self._signals else time.monotonic()
        for sig, timeout in self.timeouts:
            live = [c for c in self.children if c.alive()]
            if not live:
                break
            if sig != signal.SIGINT:
                self.say(f'{PREFIX} still running: {", ".join(c.name for c in live)}; '
                         f'sending {sig.name}')
            for child in live:
                child.signal(sig)
            if sig == signal.SIGINT:
                timeout = max([timeout] + [c.planned.stop_timeout for c in live])
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and any(c.alive() for c in live):
                if self._repeated(seen, began):  # another Ctrl-C: escalate now
                    seen = len(self._signals)
                    break
                time.sleep(0.02)
            for child in live:
                self._report(child, during_stop=True)

    def run(self) -> int:
        """Run to the end; 0 after a clean stop or success, 1 if a required child failed."""
        handlers = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                handlers[sig] = signal.signal(sig, self._on_signal)
        try:
            status = self._watch() if self._start() else 1
        finally:
            self._stop()
            for sig, old in handlers.items():
                signal.signal(sig, old)
        for child in self.children:
            try:
                child.popen.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                self.say(f'{PREFIX} {child.name} (pid {child.popen.pid}) did not die')
            if child.reader is not None:
                child.reader.join(timeout=2.0)
        return status

"""A stop request that signal handlers may set.

``threading.Event.set()`` takes the lock that ``Event.wait()`` and ``Event.clear()`` hold
for a moment; Python runs a signal handler in the main thread between two bytecodes, so a
handler that sets an Event the main thread is waiting on can block on a lock its own
thread holds, forever (a Ctrl-C that hangs ``symphony launch``). Setting this flag is one
attribute write; waiting on it polls.
"""

from __future__ import annotations

import time

POLL_S = 0.01
"""Longest a waiter sleeps between two looks at the flag."""


class StopFlag:
    """Set once from anywhere (a signal handler included); seen by polling."""

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        """Request the stop; takes no lock."""
        self._set = True

    def is_set(self) -> bool:
        """Tell whether the stop was requested."""
        return self._set

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` s, less once the flag is set; return whether it is."""
        end = time.monotonic() + timeout
        while not self._set:
            left = end - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(left, POLL_S))
        return True

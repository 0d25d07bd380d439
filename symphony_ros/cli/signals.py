"""Signal handlers installed for the length of a command, and restored after it."""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Any, Callable, Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
"""What stops a command: Ctrl-C, and what a supervisor or ``kill`` sends."""


@contextmanager
def handling(handler: Callable[[int, Any], None]) -> Iterator[None]:
    """Run the block with ``handler`` on each of STOP_SIGNALS; restore the previous ones.

    Installed also over an inherited SIG_IGN (a script's background job ignores SIGINT), so
    that ``kill -INT PID`` stops a command as Ctrl-C does. Main thread only, as Python's
    signal handlers are.
    """
    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)

"""Single key presses from a terminal, or characters from a pipe, without blocking.

A terminal gives a line at a time unless it is put in cbreak mode; a teleop needs each key
as it is pressed, and must restore the terminal however it ends (a person's shell is left
unusable otherwise). A pipe (a script, a test) is read as it is.
"""

from __future__ import annotations

import os
import select
import termios
import tty
from typing import IO, Any, List, Optional


class KeyReader:
    """Read what ``stream`` has, key by key; a context manager that restores its terminal."""

    def __init__(self, stream: IO[Any]) -> None:
        """Read from ``stream`` (a terminal is put in cbreak mode on entering)."""
        self.fd = stream.fileno()
        self.tty = os.isatty(self.fd)
        self._saved: Optional[list] = None
        self.ended = False
        """True once the stream ended (Ctrl-D in a pipe's writer, the pipe closed)."""

    def __enter__(self) -> 'KeyReader':
        """Enter cbreak mode on a terminal: keys arrive as pressed, Ctrl-C as a character."""
        if self.tty:
            self._saved = termios.tcgetattr(self.fd)
            tty.setcbreak(self.fd)
            mode = termios.tcgetattr(self.fd)
            mode[3] &= ~termios.ISIG       # Ctrl-C is a key here: the teleop stops the robot
            termios.tcsetattr(self.fd, termios.TCSANOW, mode)
        return self

    def __exit__(self, *exc: Any) -> None:
        """Restore the terminal as it was."""
        if self._saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            self._saved = None

    def keys(self, timeout: float = 0.0) -> List[str]:
        """Return the keys waiting (waiting up to ``timeout`` s for the first); [] if none."""
        if self.ended:
            return []
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return []
        data = os.read(self.fd, 64)
        if not data:
            self.ended = True
            return []
        return list(data.decode('utf-8', errors='replace'))


__all__ = ['KeyReader']

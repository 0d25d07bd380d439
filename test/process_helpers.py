"""A child process for the tests: output collected line by line, ended only by its PID."""

import os
import re
import signal
import subprocess
import threading
import time
from typing import Callable, List, Sequence, Tuple


def _stat_fields(pid: int) -> List[str]:
    """The fields of /proc/PID/stat after the parenthesised name (state first); [] if gone."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return []


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie counts as gone)."""
    fields = _stat_fields(pid)
    return bool(fields) and fields[0] != 'Z'


def child_pids(pid: int) -> List[int]:
    """PIDs whose parent is ``pid``."""
    return [int(e) for e in os.listdir('/proc')
            if e.isdigit() and _stat_fields(int(e))[1:2] == [str(pid)]]


class ChildProcess:
    """A process started by a test; its merged stdout/stderr is collected by line."""

    def __init__(self, argv: Sequence[str], env: dict) -> None:
        self.proc = subprocess.Popen(list(argv), env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines: List[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip('\n'))

    @property
    def text(self) -> str:
        """Everything printed so far."""
        return '\n'.join(self.lines)

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 90.0) -> List[str]:
        """Wait until ``count`` lines match the regex ``pattern``; return them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in list(self.lines) if re.search(pattern, line)]
            if len(found) >= count:
                return found
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f'{count} x {pattern!r} not seen; output:\n{self.text}')

    def finish(self, timeout: float = 60.0) -> int:
        """Wait for the exit (killing a hung process); return the exit code."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f'process did not exit; output:\n{self.text}')
        self._reader.join(timeout=5)
        return code

    def stop(self, timeout: float = 15.0) -> None:
        """Ctrl-C, as a user would; kill if that does not end it within ``timeout``.

        Returns once the output is read to its end (or 5 s more).
        """
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._reader.join(timeout=5)    # its last lines, still in the pipe at the exit

    def kill(self) -> None:
        """SIGKILL if still running, and reap."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class Started:
    """Processes a test started: every one still running at teardown is killed."""

    def __init__(self) -> None:
        self.procs: List[ChildProcess] = []

    def add(self, proc: ChildProcess) -> ChildProcess:
        """Keep ``proc`` for teardown and return it."""
        self.procs.append(proc)
        return proc

    def kill_all(self) -> None:
        """Kill what is left (by PID: only processes the test started)."""
        for p in self.procs:
            p.kill()


RUN_DIR_HOLDER = ('import sys\n'
                  'from symphony_ros.core.run_lock import lock_run_dir\n'
                  'lock_run_dir(sys.argv[1])\n'
                  'print("held", flush=True)\n'
                  'sys.stdin.read()\n')
"""Child script: hold run folder argv[1]'s trainer lock, print 'held', let go at stdin's end."""


def signal_when(proc: subprocess.Popen, ready: Callable[[], bool], signum: int,
                ready_s: float = 120.0, exit_s: float = 120.0) -> Tuple[str, str]:
    """Send ``signum`` to ``proc`` once ``ready()``; return its (stdout, stderr) at exit.

    Fails if it is not ready within ``ready_s`` or does not exit within ``exit_s`` after
    the signal; the process is killed either way rather than left running.
    """
    try:
        deadline = time.monotonic() + ready_s
        while time.monotonic() < deadline and not ready():
            time.sleep(0.05)
        assert ready(), f'not ready within {ready_s:g} s'
        proc.send_signal(signum)
        return proc.communicate(timeout=exit_s)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

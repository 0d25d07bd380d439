"""Helpers for launch tests: run ``symphony launch`` as a real process and watch its output."""

import os
import re
import subprocess
import threading
import time
from typing import List

HERE = os.path.dirname(os.path.abspath(__file__))


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie counts as gone)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except (FileNotFoundError, ProcessLookupError):
        return False


class Launcher:
    """A ``symphony launch`` process whose output is collected line by line."""

    def __init__(self, argv: List[str], env: dict) -> None:
        env = dict(env, PYTHONPATH=os.pathsep.join([HERE, env.get('PYTHONPATH', '')]))
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
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
        """Wait until ``count`` lines match ``pattern``; return them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in list(self.lines) if re.search(pattern, line)]
            if len(found) >= count:
                return found
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f'{count} x {pattern!r} not seen; output:\n{self.text}')

    def child_pids(self) -> List[int]:
        """PIDs the launcher reported starting."""
        return [int(m) for m in re.findall(r'\[launch\] started \S+ \(pid (\d+)\)', self.text)]

    def finish(self, timeout: float = 60.0) -> int:
        """Wait for the launcher to exit (killing it if it hangs); return its exit code."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f'launcher did not exit; output:\n{self.text}')
        self._reader.join(timeout=5)
        return code

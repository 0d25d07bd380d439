"""Helpers for launch tests: run ``symphony launch`` as a real process and watch its output."""

import os
import re
from typing import List

from process_helpers import ChildProcess

HERE = os.path.dirname(os.path.abspath(__file__))


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie counts as gone)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except (FileNotFoundError, ProcessLookupError):
        return False


class Launcher(ChildProcess):
    """A ``symphony launch`` process (test graphs' helper nodes importable)."""

    def __init__(self, argv: List[str], env: dict) -> None:
        super().__init__(argv, dict(env, PYTHONPATH=os.pathsep.join(
            [HERE, env.get('PYTHONPATH', '')])))

    def child_pids(self) -> List[int]:
        """PIDs the launcher reported starting."""
        return [int(m) for m in re.findall(r'\[launch\] started \S+ \(pid (\d+)\)', self.text)]

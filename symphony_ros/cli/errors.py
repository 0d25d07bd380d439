"""The one exception type the CLI turns into a one-line error and exit code 2.

Also the runner of a sub-command as its own program.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, List, Optional


class CliError(Exception):
    """Bad user input: a message naming the flag, file or field and what was expected."""


def check_policy_path(path: str, flag: str = '') -> None:
    """Refuse a policy path that is no file, naming it (and ``flag``, when one was given).

    :raises CliError: a missing path, or a folder (a run folder: how to export one).
    """
    from ..paths import policy_path_problem
    problem = policy_path_problem(path)
    if problem:
        raise CliError(f'{flag} {path}: {problem}' if flag else f'{path}: {problem}')


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block), exit code 2.

    Flag errors then read like every other input error of the tool: the flag and what was
    expected, on one line a script or a person can take in.
    """

    def error(self, message: str) -> None:  # type: ignore[override]
        """Print ``PROG: error: MESSAGE`` and exit 2."""
        self.exit(2, f'{self.prog}: error: {message} (see {self.prog} --help)\n')


def standalone(name: str, doc: str, add_arguments: Callable[[argparse.ArgumentParser], None],
               run: Callable[[argparse.Namespace], Optional[int]],
               argv: Optional[List[str]] = None) -> int:
    """Run one sub-command as its own program (``python -m symphony_ros.cli.NAME_cmd``).

    The same flags and errors as ``symphony NAME``, without importing the other
    sub-commands (train's torch takes seconds), so a recorder or a graph starts at once.
    """
    p = Parser(prog=f'symphony {name}', description=doc.splitlines()[0])
    add_arguments(p)
    args = p.parse_args(argv)
    try:
        return int(run(args) or 0)
    except CliError as exc:
        print(f'symphony {name}: error: {exc}', file=sys.stderr)
        return 2

"""The one exception type the CLI turns into a one-line error and exit code 2.

Also the runner of a sub-command as its own program.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, List, Optional


class CliError(Exception):
    """Bad user input: a message naming the flag, file or field and what was expected."""


def standalone(name: str, doc: str, add_arguments: Callable[[argparse.ArgumentParser], None],
               run: Callable[[argparse.Namespace], Optional[int]],
               argv: Optional[List[str]] = None) -> int:
    """Run one sub-command as its own program (``python -m symphony_ros.cli.NAME_cmd``).

    The same flags and errors as ``symphony NAME``, without importing the other
    sub-commands (train's torch takes seconds), so a recorder or a graph starts at once.
    """
    p = argparse.ArgumentParser(prog=f'symphony {name}', description=doc.splitlines()[0])
    add_arguments(p)
    args = p.parse_args(argv)
    try:
        return int(run(args) or 0)
    except CliError as exc:
        print(f'symphony {name}: error: {exc}', file=sys.stderr)
        return 2

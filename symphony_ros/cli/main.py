"""The ``symphony`` command: one entry point, one module per sub-command.

Each sub-command module in ``symphony_ros.cli`` defines ``add_arguments(parser)`` and
``run(args) -> int``. Bad input raises :class:`CliError`, printed as one line, exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
import threading
from contextlib import contextmanager
from typing import Any, Iterator, List, Optional

from .. import __version__
from .errors import CliError, Parser
from .signals import handling

COMMANDS = {
    'train': 'train a Symphony policy in MuJoCo',
    'export': 'export a trained actor to ONNX with its contract',
    'inspect': 'print the contract of an exported ONNX policy, or where a training run stands '
               '(--falls: which randomisation draws fell its training episodes)',
    'launch': 'run a node graph (train or deploy) as processes, like ros2 launch',
    'record': 'record deploy topics to a rosbag2 (MCAP) bag',
    'evaluate': 'evaluate a recorded bag offline, optionally against a candidate policy',
    'replay': 'republish the sensor topics of a bag with their original timing',
    'demo': 'the first-run demo: deploy in sim, record, evaluate',
    'stress': 'run a policy under perturbations (delay, masses, pushes, ...) and give a verdict',
    'screen': 'stress each kept actor of a training run, as it trains, and rank them by falls',
    'branch': 'a new training run that resumes from a step of another (to try a change there)',
    'distill': 'teach a student of a policy to ride out action delay and sensor noise (DAgger)',
    'teleop': 'drive a velocity policy from the keyboard (cmd_vel within its trained ranges)',
    'doctor': 'check this machine (DDS, policy, rendering, SCHED_FIFO) and say what to fix',
}


DESCRIPTION = ('symphony_ros: train a humanoid controller with Symphony in MuJoCo, export it\n'
               'to ONNX with its contract, deploy it through ROS 2 behind a safety watchdog,\n'
               'record and evaluate rosbag2 bags.')
EPILOG = ('first run: `symphony doctor`, then `symphony demo`.\n'
          'help on one command: `symphony COMMAND --help`.')


def _available() -> List[str]:
    # Commands are listed up front and land module by module.
    return [n for n in COMMANDS if importlib.util.find_spec(f'symphony_ros.cli.{n}_cmd')]


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with one sub-parser per available command."""
    parser = Parser(
        prog='symphony', description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--version', action='version', version=f'symphony_ros {__version__}')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND', required=True)
    for name in _available():
        module = importlib.import_module(f'symphony_ros.cli.{name}_cmd')
        p = sub.add_parser(name, help=COMMANDS[name], description=COMMANDS[name])
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


@contextmanager
def _stop_signals_interrupt() -> Iterator[None]:
    """SIGINT and SIGTERM raise KeyboardInterrupt while a command runs (exit 130, cleaned up).

    Also where SIGINT came ignored (``symphony screen --follow &`` in a script), as
    ``symphony train`` handles both itself. SIGTERM's default would end the process without
    its ``finally`` blocks, leaving a stress matrix's workers running.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt
    with handling(interrupt):
        yield


def main(argv: Optional[List[str]] = None) -> int:
    """Run the CLI; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        with _stop_signals_interrupt():
            return int(args._module.run(args) or 0)
    except CliError as exc:
        print(f'symphony {args.command}: error: {exc}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f'symphony {args.command}: interrupted', file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `symphony inspect x.onnx | head`: the reader left; no traceback, and no second
        # error when Python flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == '__main__':
    sys.exit(main())

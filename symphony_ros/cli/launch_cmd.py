"""``symphony launch``: run a node graph as processes, the same graph ``ros2 launch`` runs.

``symphony launch deploy robot:=sim record:=true`` evaluates the deploy graph on its
arguments and starts each node with ``--ros-args`` (our nodes as ``python -m``), prefixes
their output with the node name, and stops them all on Ctrl-C or when a required node ends.
Nodes of packages that are not installed (robot_state_publisher with pip-only rclpy) are
skipped if the graph marks them optional. Spawns processes only; never imports rclpy.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
from typing import List, Optional

from ..core.fields import number
from ..graph import GRAPHS, Graph, GraphArgError, get_graph, parse_assignments
from ..graph.processes import Planned, plan
from ..graph.runner import PREFIX, Runner
from .errors import CliError


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Graph name, ``name:=value`` arguments, dry run and stop timeouts."""
    p.add_argument('graph', metavar='GRAPH',
                   help=f'{" or ".join(GRAPHS)}, or package.module:GRAPH for a GraphDef of '
                   'your own')
    p.add_argument('assignments', nargs='*', metavar='name:=value',
                   help='launch arguments, as for ros2 launch (see --show-args)')
    p.add_argument('--show-args', action='store_true',
                   help="list the graph's arguments with defaults and exit")
    p.add_argument('--dry-run', action='store_true',
                   help='print the command line and parameters of every process and exit')
    p.add_argument('--sigint-timeout', type=number(float, 0), default=5.0, metavar='S',
                   help='seconds between SIGINT and SIGTERM when stopping (default: 5; a '
                   'node that declares a longer one keeps it: trainer_node 120)')
    p.add_argument('--sigterm-timeout', type=number(float, 0), default=5.0, metavar='S',
                   help='seconds between SIGTERM and SIGKILL when stopping (default: 5)')


def _show_args(graph_name: str) -> None:
    gdef = get_graph(graph_name)
    print(f'{gdef.name}: {gdef.description}')
    for a in gdef.args():
        choices = f' [{"|".join(a.choices)}]' if a.choices else ''
        print(f"  {a.name}:={a.default!r}{choices}\n      {a.description}")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 100 else f'<{len(str(value))} characters>'


def _print_plan(planned: List[Planned]) -> None:
    for p in planned:
        kind = 'required' if p.required else 'optional'
        state = f': SKIPPED, {p.missing}' if p.missing else ''
        print(f'# {p.name} ({kind}){state}')
        env = ' '.join(f'{k}={shlex.quote(v)}' for k, v in p.env.items())
        print((env + ' ' if env else '') + shlex.join(p.argv))
        for name, value in p.parameters.items():
            print(f'#   {name}: {_short(value)}')


def _check_files(graph: Graph) -> None:
    for a in graph.args:
        value = graph.values[a.name]
        if not (a.existing_file and value):
            continue
        if os.path.isdir(value):
            raise CliError(f'{a.name}:={value}: is a folder, expected a file')
        if not os.path.isfile(value):
            raise CliError(f'{a.name}:={value}: file not found')


def run(args: argparse.Namespace) -> int:
    """Evaluate the graph and run it (or print it); bad arguments raise CliError."""
    try:
        if args.show_args:
            _show_args(args.graph)
            return 0
        graph = get_graph(args.graph)(parse_assignments(args.assignments))
    except GraphArgError as exc:
        raise CliError(str(exc)) from None
    with tempfile.TemporaryDirectory(prefix='symphony_launch_') as tmp:
        planned = plan(graph, tmp, write=not args.dry_run)
        if args.dry_run:
            _print_plan(planned)
            return 0
        _check_files(graph)
        for p in planned:
            if p.missing and p.required:
                raise CliError(f'{p.name}: {p.missing}')
            if p.missing:
                print(f'{PREFIX} skipping optional {p.name}: {p.missing}', flush=True)
        return Runner(planned, args.sigint_timeout, args.sigterm_timeout, sys.stdout).run()


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``symphony launch`` alone: ``python -m symphony_ros.cli.launch_cmd deploy ...``."""
    from .errors import standalone
    return standalone('launch', __doc__, add_arguments, run, argv)


if __name__ == '__main__':
    sys.exit(main())

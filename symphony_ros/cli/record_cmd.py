"""``symphony record``: deploy topics to a rosbag2 bag (MCAP), like ``ros2 bag record``.

The deploy graph runs it for ``record:=true``. rclpy is imported only when it runs, so the
rest of the CLI (``symphony evaluate``) stays free of ROS.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import List, Optional

from ..util.fields import number


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Topics, output folder, storage, what the recording is, flush period."""
    from ..bag.topics import DEFAULT_RECORDED
    p.add_argument('topics', nargs='*', metavar='TOPIC',
                   help='topics to record (default: ' + ' '.join(DEFAULT_RECORDED) + ')')
    p.add_argument('-o', '--output', metavar='DIR', default=None,
                   help='new bag folder (default: bags/record_<date>_<time>)')
    p.add_argument('--storage', choices=('mcap', 'sqlite3'), default='mcap',
                   help='rosbag2 storage (default: mcap)')
    p.add_argument('--policy', metavar='FILE.onnx', default=None,
                   help='the policy being deployed: its path and sha256 go into the bag, so '
                   '`symphony evaluate` can replay it')
    p.add_argument('--robot', default='humanoid', help='robot description (default: humanoid)')
    p.add_argument('--flush-period', type=number(float, 0, above=True), default=0.5, metavar='S',
                   help='seconds between flushes to disk; a killed recorder loses at most '
                   'this much (default: 0.5)')
    p.add_argument('--duration', type=number(float, 0), default=0.0, metavar='S',
                   help='stop after this many seconds (default: 0, until Ctrl-C)')


def run(args: argparse.Namespace) -> int:
    """Record until Ctrl-C, SIGTERM or ``--duration``."""
    from ..bag.topics import DEFAULT_RECORDED
    from ..bag.writer import BagWriteError
    from ..util.files import sha256_file
    from .errors import CliError, check_policy_path
    output = args.output or time.strftime('bags/record_%Y%m%d_%H%M%S')
    info = {'robot': args.robot}
    if args.policy:
        check_policy_path(args.policy, '--policy')
        info.update(policy=os.path.abspath(args.policy),
                    policy_sha256=sha256_file(args.policy))
    try:
        from ..nodes.bag_recorder import record
    except ImportError as exc:
        raise CliError(f'recording needs rclpy (a sourced ROS 2 distribution or the pip-ros '
                       f'extra): {exc}') from None
    try:
        record(output, args.topics or list(DEFAULT_RECORDED), args.storage, info,
               args.flush_period, args.duration, log=lambda s: print(s, flush=True))
    except BagWriteError as exc:
        raise CliError(str(exc)) from None
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``symphony record`` alone: ``python -m symphony_ros.cli.record_cmd -o DIR ...``."""
    from .errors import standalone
    return standalone('record', __doc__, add_arguments, run, argv)


if __name__ == '__main__':
    sys.exit(main())

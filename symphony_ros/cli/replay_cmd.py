"""``symphony replay``: republish a bag's sensor topics with their original timing.

A policy node and the watchdog can then run on recorded data without a robot. rclpy is
imported only when it runs.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from ..util.fields import number


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Bag, rate, topics, stamps."""
    p.add_argument('bag', metavar='BAG', help='bag folder (or one .mcap / .db3 file)')
    p.add_argument('--rate', type=number(float, 0, above=True), default=1.0, metavar='X',
                   help='playback speed factor (default: 1.0, as recorded)')
    p.add_argument('--topics', nargs='+', metavar='TOPIC', default=None,
                   help='topics to republish (default: the recorded joint states, IMU and '
                   'odometry)')
    p.add_argument('--topic', action='append', default=[], metavar='ROLE=TOPIC',
                   help='where the default sensor topics were recorded, if remapped')
    p.add_argument('--keep-stamps', action='store_true',
                   help='publish the recorded header stamps (default: restamp to now, so '
                   'stamp checks see fresh data)')
    p.add_argument('--delay', type=number(float, 0), default=1.0, metavar='S',
                   help='wait up to this long for a subscriber on every topic before the '
                   'first message (default: 1.0)')


def run(args: argparse.Namespace) -> int:
    """Replay once, to the end of the bag or Ctrl-C."""
    from ..bag.reader import BagError, open_bag
    from ..bag.topics import absolute, parse_overrides, resolve
    from .errors import CliError
    try:
        bag = open_bag(args.bag)
        names = resolve(parse_overrides(args.topic))
    except (BagError, ValueError) as exc:
        raise CliError(str(exc)) from None
    for w in bag.warnings:
        print(f'symphony replay: {w}', file=sys.stderr)
    try:
        from ..nodes.bag_player import play, sensor_topics
    except ImportError as exc:
        raise CliError(f'replay needs rclpy (a sourced ROS 2 distribution or the pip-ros '
                       f'extra): {exc}') from None
    topics = [absolute(t) for t in args.topics] if args.topics else sensor_topics(bag, names)
    missing = [t for t in topics if t not in bag.topics]
    if missing or not topics:
        raise CliError(f'{args.bag}: no {", ".join(missing) or "sensor topics"} in the bag; '
                       f'it has {", ".join(sorted(bag.topics)) or "no topics"}')
    play(bag, topics, args.rate, not args.keep_stamps, args.delay,
         log=lambda s: print(s, flush=True))
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``symphony replay`` alone, without loading the other sub-commands."""
    from .errors import standalone
    return standalone('replay', __doc__, add_arguments, run, argv)


if __name__ == '__main__':
    sys.exit(main())

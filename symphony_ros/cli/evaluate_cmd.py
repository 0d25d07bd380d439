"""``symphony evaluate``: a recorded bag, scored offline, optionally against a candidate policy.

No ROS needed. Writes report.md, report.json and PNG plots (default: ``<bag>_eval/``).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from ..util.fields import number


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Bag, candidate policy, output folder, and how to read the recording."""
    p.add_argument('bag', metavar='BAG', help='bag folder (or one .mcap / .db3 file)')
    p.add_argument('--policy', metavar='FILE.onnx', default=None,
                   help='candidate policy to run open-loop on the recorded states')
    p.add_argument('--recorded-policy', metavar='FILE.onnx', default=None,
                   help='the policy that drove the recording (default: the one the bag names)')
    p.add_argument('-o', '--out', metavar='DIR', default=None,
                   help='report folder (default: <bag>_eval next to the bag)')
    p.add_argument('--robot', default=None,
                   help='robot description (default: the one the bag names, else humanoid)')
    p.add_argument('--episode-steps', type=number(int, 0), default=1000, metavar='N',
                   help='time limit of an episode in steps, as the sim\'s episode_steps '
                   '(default: 1000, Humanoid-v4; 0: none, e.g. for a real robot)')
    p.add_argument('--topic', action='append', default=[], metavar='ROLE=TOPIC',
                   help='topic of a role when the deploy was remapped, e.g. '
                   'joint_states=/robot/joint_states (roles: joint_states, imu, odom, '
                   'hardware, command, watchdog, diagnostics, reward, episode_return)')


def default_out(bag: str) -> str:
    """``<bag>_eval`` beside the bag (a bag folder may be read-only, or a ros2 bag's)."""
    path = os.path.abspath(bag).rstrip(os.sep)
    if os.path.isfile(path):
        path = os.path.splitext(path)[0]
    return path + '_eval'


def run(args: argparse.Namespace) -> int:
    """Evaluate, write the report, print its headline."""
    from ..bag.evaluate import EvaluationError, evaluate_bag
    from ..bag.reader import BagError
    from ..bag.report import write_report
    from ..bag.topics import parse_overrides
    from .errors import CliError, check_policy_path
    for flag, path in (('--policy', args.policy), ('--recorded-policy', args.recorded_policy)):
        if path:
            check_policy_path(path, flag)
    try:
        ev = evaluate_bag(args.bag, candidate=args.policy,
                          recorded_policy=args.recorded_policy, robot_name=args.robot,
                          episode_steps=args.episode_steps,
                          topics=parse_overrides(args.topic))
    except (BagError, EvaluationError, ValueError) as exc:
        raise CliError(str(exc)) from None
    out = args.out or default_out(args.bag)
    paths = write_report(ev, out)
    r = ev.report
    o = r['overall']
    for m in r['missing']:
        print(f'symphony evaluate: missing topic {m["topic"]} ({m["type"]}): no {m["lost"]}',
              file=sys.stderr)
    ret = o['return']['mean']
    print(f'{o["episodes"]} episodes ({o["complete_episodes"]} complete), return '
          + ('-' if ret is None else f'{ret:.1f}') + f', {o["falls"]} falls, '
          f'{o["faults"]} watchdog faults')
    cand = r['policy'].get('candidate')
    if cand and cand['vs_recorded_actions']:
        print(f'candidate {cand["path"]}: RMS action difference '
              f'{cand["vs_recorded_actions"]["rms"]:.4g}')
    print(f'report: {paths["md"]} (and report.json, {len(r["plots"])} plots)')
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``symphony evaluate`` alone, without loading the other sub-commands (torch)."""
    from .errors import standalone
    return standalone('evaluate', __doc__, add_arguments, run, argv)


if __name__ == '__main__':
    sys.exit(main())

"""``symphony teleop``: drive a velocity-tracking policy from the keyboard (cmd_vel).

The keys step the command within the ranges the policy was trained on: its contract's
(``--policy``), else its robot's velocity task's (``--robot``). Beside a running deploy graph
(``symphony launch deploy robot:=sim robot_model:=g1``, or ``robot:=real``) in another
terminal, as ``teleop_twist_keyboard`` would be with a ROS 2 distribution.
"""

from __future__ import annotations

import argparse
import sys
from typing import Dict, List, Optional, Tuple

from ..util.fields import number


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Where the ranges come from, the rate, the steps and the namespace."""
    p.add_argument('--policy', metavar='FILE.onnx', default=None,
                   help='the policy being driven: the keys stay within its trained command '
                   'ranges (default: those of --robot\'s velocity task)')
    p.add_argument('--robot', default='g1',
                   help='robot whose velocity task gives the ranges without --policy '
                   '(default: g1)')
    p.add_argument('--rate', type=number(float, 0, above=True), default=20.0, metavar='HZ',
                   help='commands per second, sent whether or not a key was pressed: '
                   'policy_node takes a command older than cmd_vel_timeout as zero '
                   '(default: 20)')
    p.add_argument('--step', type=number(float, 0, above=True), default=0.1, metavar='M/S',
                   help='change of vx or vy per key press (default: 0.1)')
    p.add_argument('--yaw-step', type=number(float, 0, above=True), default=0.2,
                   metavar='RAD/S', help='change of the yaw rate per key press (default: 0.2)')
    p.add_argument('--namespace', default='',
                   help='the deploy graph\'s namespace (namespace:= of symphony launch)')


def command_ranges(args: argparse.Namespace) -> Tuple[Dict[str, Tuple[float, float]], str]:
    """Return the ranges the keys move within, and where they come from.

    :raises CliError: a policy file that cannot be read or takes no velocity command, an
        unknown robot, or one without a velocity task.
    """
    from .errors import CliError, check_policy_path
    if args.policy:
        from ..policy.errors import PolicyError
        from ..policy.onnx_file import load_contract
        check_policy_path(args.policy, '--policy')
        try:
            ranges = (load_contract(args.policy).task or {}).get('command_ranges')
        except PolicyError as exc:
            raise CliError(str(exc)) from None
        if not ranges:
            raise CliError(f'--policy {args.policy}: takes no velocity command (its contract '
                           'has no task.command_ranges); teleop drives velocity policies')
        return {k: tuple(v) for k, v in ranges.items()}, f'the contract of {args.policy}'
    from ..robot import get_robot
    from ..robot.velocity_env import VelocityTask
    try:
        robot = get_robot(args.robot)
    except ValueError as exc:
        raise CliError(f'--robot {args.robot}: {exc}') from None
    if robot.action_kind != 'pd_position':
        raise CliError(f'--robot {args.robot}: has no velocity task (a pd_position robot has, '
                       'e.g. g1); give --policy for a policy\'s own ranges')
    return VelocityTask.for_robot(robot).command_ranges(), f'robot {args.robot}'


def run(args: argparse.Namespace) -> int:
    """Publish cmd_vel from key presses until x, Ctrl-C or the input's end."""
    from ..deploy.teleop import KeyTeleop
    from ..util.keys import KeyReader
    from .errors import CliError
    ranges, source = command_ranges(args)
    teleop = KeyTeleop(ranges, (args.step, args.step, args.yaw_step))
    try:
        from ..nodes.teleop_node import run_teleop
    except ImportError as exc:
        raise CliError(f'teleop needs rclpy (a sourced ROS 2 distribution or the pip-ros '
                       f'extra): {exc}') from None
    print(f'symphony teleop: command ranges from {source}', flush=True)
    with KeyReader(sys.stdin) as reader:
        run_teleop(teleop, reader, args.rate, args.namespace,
                   say=lambda s: print(s, flush=True))
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``symphony teleop`` alone: ``python -m symphony_ros.cli.teleop_cmd``."""
    from .errors import standalone
    return standalone('teleop', __doc__, add_arguments, run, argv)


if __name__ == '__main__':
    sys.exit(main())

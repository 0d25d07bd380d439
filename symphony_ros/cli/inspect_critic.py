"""``symphony inspect RUN_DIR --critic``: how a run's critic values its actor."""

from __future__ import annotations

import argparse
import dataclasses
import json

DEFAULT_EPISODES = 3
"""Test episodes ``--critic`` compares values with returns in, unless ``--episodes``."""


def check_critic_args(args: argparse.Namespace) -> None:
    """Refuse --at and --episodes without --critic, and --critic beside --falls.

    :raises CliError: naming the flag.
    """
    from .errors import CliError
    for flag in ('at', 'episodes'):
        if getattr(args, flag) is not None and not args.critic:
            raise CliError(f'--{flag}: picks what --critic checks; it goes with --critic')
    if args.critic and args.falls:
        raise CliError('--critic and --falls: one at a time')


def run_critic(args: argparse.Namespace) -> int:
    """Print (or give as JSON) the figures of run ``args.file``'s critic."""
    import torch
    from ..core.checkpoint import CheckpointError
    from ..core.critic_check import check_critic, lines
    from ..core.run_dir import RunDirError
    from .errors import CliError
    torch.set_num_threads(1)    # a check beside a training run takes one core, not both
    episodes = DEFAULT_EPISODES if args.episodes is None else args.episodes
    try:
        figures = check_critic(args.file, args.at, episodes=episodes)
    except (CheckpointError, RunDirError, ValueError) as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps(dataclasses.asdict(figures), indent=2))
    else:
        print('\n'.join(lines(args.file, figures)))
    return 0

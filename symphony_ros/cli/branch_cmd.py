"""``symphony branch RUN_DIR NEW_DIR [--at STEP]``: a new run that resumes from a past step.

The run itself is left as it is (it may still be training); the branch is resumed with
``symphony train --run-dir NEW_DIR --resume`` and whatever it is to try (a reward, ranges,
commands), recorded in its curriculum as any resume's change.
"""

from __future__ import annotations

import argparse

from ..core.config import ODOMETRY_SOURCES
from ..util.fields import number

REFILL = 100_000
"""The refill a branch without its replay is told to use: 20 warm-ups of the G1 recipe."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Source run, the new folder, and the step."""
    p.add_argument('run_dir', metavar='RUN_DIR', help='training run folder to branch from')
    p.add_argument('new_dir', metavar='NEW_DIR', help='the branch: a run folder not yet made')
    p.add_argument('--at', type=number(int, 0), default=None, metavar='STEP',
                   help='the checkpoint nearest this step (default: the newest, with its '
                   'replay); every step needs the run trained with --keep-checkpoints true')
    p.add_argument('--seed', type=number(int, 0, 2**32 - 1), default=None,
                   help="the branch's seed (default: the run's, so the same change from the "
                   'same step trains alike); another draws minibatches, noise and episodes '
                   'anew, to tell a change from the run\'s own swings')
    p.add_argument('--obs-spec', default=None, metavar='SPEC',
                   help="an observation spec with the run's terms scaled otherwise (e.g. "
                   'velocity_gait_turn from velocity_gait_scaled), or with terms its '
                   'privileged critic saw appended (velocity_gait_odom from '
                   'velocity_gait_turn): networks, optimizer moments and replay are moved '
                   'onto it computing what they computed (new inputs at weight 0), and learn '
                   'from there')
    p.add_argument('--history', type=number(int, 2), default=None, metavar='N',
                   help="the actor reads the last N observations, newest first, as `symphony "
                   "train --history N` gives them: the older frames' inputs at weight 0 (it "
                   'acts as it did), the replay\'s observations stacked from the steps before '
                   'them; for a run of one frame')
    p.add_argument('--critic-dynamics', action='store_true',
                   help="the privileged critic also sees each episode's randomised dynamics "
                   '(as `symphony train --critic-dynamics true`), at weight 0; no replay comes '
                   '(no stored step holds them): the resume refills the buffer')
    p.add_argument('--odometry', choices=ODOMETRY_SOURCES, default=None,
                   help="where the branch's observation takes its odometry from (as `symphony "
                   "train --odometry`; default: the run's): legs, the leg odometry a robot "
                   'runs, for a spec that reads odom (e.g. with --obs-spec velocity_gait_odom)')
    p.add_argument('--slim', action='store_true',
                   help='the checkpoint, config and metrics alone (a few MB): no replay '
                   'buffer, kept actors or randomisation log; to carry a run to another '
                   'machine, where a resume refills its buffer')


def run(args: argparse.Namespace) -> int:
    """Make the branch and say how to resume it; exit 0."""
    from ..core.run_branch import branch_run
    from ..core.run_dir import RunDirError
    from .errors import CliError
    try:
        made = branch_run(args.run_dir, args.new_dir, args.at, args.seed, args.obs_spec,
                          args.history, args.slim, args.critic_dynamics, args.odometry)
    except RunDirError as exc:
        raise CliError(str(exc)) from None
    carried = [f'{made.actors} kept actor{"s" if made.actors != 1 else ""}'] if made.actors \
        else []
    carried += ['best_actor.pt'] if made.best else []
    carried += [f'{made.draws:,} episodes of randomization.jsonl'] if made.draws else []
    print(f'symphony branch: {made.target} resumes {made.source} at step {made.step:,}'
          + (f' (with {", ".join(carried)})' if carried else '')
          + (f', moved onto observation {made.obs_spec}' if made.obs_spec else '')
          + (f', its actor reading the last {made.history} observations' if made.history
             else '')
          + (', its critic given the dynamics each episode draws (at weight 0)'
             if made.critic_dynamics else '')
          + (f', its odometry from {args.odometry}' if args.odometry else '')
          + (f', its critic given {", ".join(made.critic_grown)} (the env\'s view grew since; '
             'at weight 0, the replay\'s steps computed)' if made.critic_grown else ''))
    if made.replay:
        print(f'its replay buffer: {made.replay}; resume it, with what is to change:\n'
              f'  symphony train --run-dir {made.target} --resume [--reward-weights ... '
              '| --randomize-scale ... | ...]')
    else:
        print(f'no replay buffer came with it ({made.why_not}): resume it with the buffer '
              'refilled by the trained actor (learning on the actor\'s own steps alone can '
              f'undo it):\n  symphony train --run-dir {made.target} --resume --refill-steps '
              f'{REFILL} [changes]')
    return 0

"""``symphony stress``: run a policy in process under single perturbations and give a verdict.

The conditions (`symphony_ros.stress.conditions.CONDITIONS`) run in parallel processes; each
writes its episodes' figures, and report.md, report.json and plots go to ``--out``.
Deterministic for a seed: the same seed gives the same report whatever ``--workers``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from typing import List, Optional

from ..util.fields import number


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Policy, robot, matrix size, output, seed, workers and thresholds."""
    p.add_argument('policy', metavar='POLICY.onnx', help='exported policy (symphony export)')
    p.add_argument('--robot', default=None,
                   help='robot to check the policy against (default: the one it was trained on)')
    p.add_argument('--episodes', type=number(int, 1), default=10, metavar='N',
                   help='episodes per condition (default: 10)')
    p.add_argument('--conditions', nargs='+', default=[], metavar='NAME',
                   help='conditions to run (default: all that apply to the robot)')
    p.add_argument('-o', '--out', metavar='DIR', default=None,
                   help='report folder (default: <policy>_stress beside the policy)')
    p.add_argument('--seed', type=number(int, 0), default=0,
                   help='seed of the episodes (default: 0)')
    p.add_argument('--workers', type=number(int, 0), default=0, metavar='W',
                   help='processes (default 0: all cores)')
    p.add_argument('--max-steps', type=number(int, 0), default=0, metavar='N',
                   help='cap on episode length in control steps (default 0: the env limit)')
    p.add_argument('--max-fall-rate', type=number(float, 0, 1), default=0.1,
                   metavar='R',
                   help='verdict: largest fall rate allowed per condition (default: 0.1)')
    p.add_argument('--verdict-scope', choices=('training', 'all'), default='training',
                   help='conditions the verdict judges: those within the training ranges '
                   '(default) or all')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')


def _check_args(args: argparse.Namespace) -> None:
    from .errors import CliError
    if not os.path.isfile(args.policy):
        raise CliError(f'{args.policy}: no such file')


def run(args: argparse.Namespace) -> int:
    """Run the matrix, write the report, print the verdict (exit 0 pass, 1 fail)."""
    from ..core.envs import canonical_env_id, lookup
    from ..policy.errors import PolicyError
    from ..policy.runtime import OnnxPolicy
    from ..robot import get_robot
    from ..stress import conditions as table
    from ..stress.report import verdict, write_report
    from ..stress.run import Job, clock, default_workers, run_matrix, summarise
    from .errors import CliError
    _check_args(args)
    try:
        policy = OnnxPolicy(args.policy)
        c = policy.contract
        env_id = canonical_env_id(c.env)
        entry = lookup(env_id)
        if entry is None:
            raise CliError(f'{args.policy}: trained on {c.env!r}, a Gymnasium env; stress needs '
                           'a project robot env (symphony/Humanoid-v4 or <task>:<robot>)')
        robot = get_robot(args.robot or entry.robot)
        policy.check_description(robot)
        names = table.select(args.conditions, robot)
    except (PolicyError, ValueError) as exc:
        raise CliError(str(exc).splitlines()[0]) from None
    workers = args.workers or default_workers()
    workers = min(workers, len(names) * args.episodes)
    job = Job(os.path.abspath(args.policy), env_id, c.observation.name, args.robot or entry.robot,
              args.seed, args.max_steps or None)
    bar = None
    if not args.no_progress:
        from tqdm import tqdm
        bar = tqdm(total=len(names) * args.episodes, unit='episode', file=sys.stderr,
                   desc='stress')
    t0 = clock()
    try:
        rows = run_matrix(job, names, args.episodes, workers,
                          progress=(lambda done, total: bar.update(1)) if bar else None)
    finally:
        if bar:
            bar.close()
    wall = clock() - t0
    conds = {}
    for n in names:
        conds[n] = {'description': table.CONDITIONS[n][1], 'knobs': table.CONDITIONS[n][0],
                    'within_training': table.within_training(n, robot),
                    **summarise(n, rows[n]), 'per_episode': rows[n]}
    with open(args.policy, 'rb') as fh:
        sha = hashlib.sha256(fh.read()).hexdigest()
    from ..core.evaluation import EVAL_SEED_OFFSET
    report = {'policy': {'path': args.policy, 'sha256': sha,
                         'weights_sha256': c.weights_sha256},
              'env': env_id, 'robot': robot.name, 'seed': args.seed,
              'seed_offset': EVAL_SEED_OFFSET, 'episodes': args.episodes,
              'max_steps': args.max_steps or None, 'workers': workers, 'wall_s': wall,
              'conditions': conds,
              'verdict': verdict(conds, args.max_fall_rate, args.verdict_scope)}
    out = args.out or os.path.splitext(os.path.abspath(args.policy))[0] + '_stress'
    paths = write_report(report, out)
    for n, s in conds.items():
        print(f'{n:14s} falls {s["falls"]:3d}/{s["episodes"]:<3d} return '
              f'{s["return_mean"]:9.1f}' + ('' if s['within_training'] else '  (beyond training)'))
    v = report['verdict']
    print(f'verdict: {"PASS" if v["passed"] else "FAIL"}'
          + (f' (failed: {", ".join(v["failed"])})' if v['failed'] else '')
          + f'; {wall:.0f} s on {workers} workers; report: {paths["md"]}')
    return 0 if v['passed'] else 1


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``symphony stress`` alone."""
    from .errors import standalone
    return standalone('stress', __doc__, add_arguments, run, argv)


if __name__ == '__main__':
    sys.exit(main())

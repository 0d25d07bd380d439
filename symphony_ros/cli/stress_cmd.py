"""``symphony stress``: run a policy in process under single perturbations and give a verdict.

The conditions (`symphony_ros.stress.conditions.CONDITIONS`) run in parallel processes; each
writes its episodes' figures, and report.md, report.json and plots go to ``--out``.
Deterministic for a seed: the same seed gives the same report whatever ``--workers``.
``--ros`` runs the delay, push and held-command conditions through the deploy graph instead
(:mod:`symphony_ros.stress.ros`), one after another in realtime timing.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Dict, List, Optional, Tuple

from ..core.config import odometry_of
from ..util.fields import number
from ..util.files import sha256_file


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Policy, robot, matrix size, output, seed, workers and thresholds."""
    p.add_argument('policy', nargs='+', metavar='POLICY.onnx',
                   help='exported policy (symphony export), or a run folder or checkpoint '
                   '(.pt), exported first into its report folder; several: each gets its '
                   'report, all under the same seeds, and a table compares them')
    p.add_argument('--robot', default=None,
                   help='robot to check the policy against (default: the one it was trained on)')
    p.add_argument('--episodes', type=number(int, 1), default=10, metavar='N',
                   help='episodes per condition (default: 10)')
    p.add_argument('--conditions', nargs='+', default=[], metavar='NAME',
                   help='conditions to run, space- or comma-separated (default: all that '
                   'apply to the robot); A+B applies A and B together, e.g. '
                   'command_turn_0.5+obs_noise_1 or delay_1+push_1.0')
    p.add_argument('-o', '--out', metavar='DIR', default=None,
                   help='report folder (default: <policy>_stress beside the policy); with '
                   'several policies, the folder of their reports (one per file name) and '
                   'of compare.md')
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
    p.add_argument('--max-tracking-error', type=number(float, 0), default=0.0, metavar='M',
                   help='verdict, command policies: largest velocity-tracking error per '
                   'stride (m/s) in each judged condition (default 0: not judged; a policy '
                   'that stands whatever it is told stays up easily)')
    p.add_argument('--max-yaw-error', type=number(float, 0), default=0.0, metavar='R',
                   help='verdict, command policies: largest yaw-rate error per stride '
                   '(rad/s) in each judged condition (default 0: not judged; with '
                   'command_turn_0.5 and command_turn_-0.5, whether it turns when told, '
                   'either way)')
    from ..stress.confidence import BOUNDS
    p.add_argument('--verdict-bound', choices=BOUNDS, default='observed',
                   help='what the verdict holds to --max-fall-rate: the fall rate seen '
                   '(default), or the upper end of its 95 %% interval (upper95), so that a '
                   'PASS shows the rate within the threshold: at the default 0.1, 35 '
                   'episodes without a fall')
    p.add_argument('--ros', action='store_true',
                   help='run through the deploy graph (sim, policy and watchdog nodes) in '
                   'realtime timing, the delay and kicks injected by mujoco_sim_node\'s '
                   'command_delay and push_velocity; conditions: nominal, the delay and the '
                   'push ones, the latency and held-command ones when named (a held command '
                   'is the sim\'s cmd_vel) (default: <policy>_stress_ros)')
    p.add_argument('--latency', action='store_true',
                   help='also run the latency conditions (and nominal and delay_1 when left '
                   'out) and give the policy\'s latency budget: the longest action delay it '
                   'takes within --max-fall-rate')
    p.add_argument('--worst-parts', action='store_true',
                   help='also run worst without each of its parts in turn (worst_without_delay, '
                   '..._push) and say which part, left out, saves the most episodes: what to '
                   'train against when worst fails and no single condition does')
    p.add_argument('--worst-depth', action='store_true',
                   help='also run the way from nominal to worst (worst_at_0.2 ... 0.8, and '
                   'nominal and worst when left out) and say how far toward worst the policy '
                   'stands within --max-fall-rate: a figure that moves as training does '
                   'while worst fells every episode')
    p.add_argument('--kick-sides', action='store_true',
                   help='also run one 1 m/s kick from each side (kick_forward ... kick_right), '
                   'told to stand and to walk forward at 0.5 m/s for a velocity policy, and '
                   'say which side the robot cannot take')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')


def _check_args(args: argparse.Namespace) -> None:
    from .errors import CliError, check_policy_path
    for path in args.policy:
        if not _is_run_source(path):
            check_policy_path(path)
        elif not os.path.exists(path):
            raise CliError(f'{path}: no such run folder or checkpoint file')
    # `--conditions a,b` as `--conditions a b`: distill's --knobs takes commas.
    args.conditions = [n for arg in args.conditions for n in arg.split(',') if n]


def run(args: argparse.Namespace) -> int:
    """Run the matrix for each policy: its report and verdict; for several, a comparison.

    Exit 0 when every policy passed, else 1.
    """
    from ..stress.compare import compare_text
    from ..util.atomic import atomic_write
    _check_args(args)
    runs = [(label, _for_policy(args, path, out)) for label, path, out in _policy_files(args)]
    prepared = [_prepare(one) for _, one in runs]      # every file checked before any runs
    if len(runs) == 1:
        return _run_one(runs[0][1], prepared[0])[0]
    results, codes = [], []
    for (label, one), ready in zip(runs, prepared):
        print(f'== {label}', flush=True)
        code, report = _run_one(one, ready)
        results.append((label, report))
        codes.append(code)
    text = compare_text(results)
    print('\n' + text, end='')
    if args.out:
        path = os.path.join(args.out, 'compare.md')
        atomic_write(path, lambda f: f.write(_compare_md(args, text).encode()))
        print(f'comparison: {path}')
    return max(codes)


def _policy_files(args: argparse.Namespace) -> List[Tuple[str, str, Optional[str]]]:
    """Return (label, policy file, report folder or None for the default) per source.

    A run folder or a checkpoint (.pt) is exported first, into its report folder as
    ``policy.onnx``, so checkpoints can be weighed against each other before one is shipped.

    :raises CliError: a source that cannot be exported (the export's reason).
    """
    from ..stress.compare import labels
    from ..stress.gate import default_report_dir
    out = []
    several = len(args.policy) > 1
    for source, label in zip(args.policy, labels([s.rstrip(os.sep) for s in args.policy])):
        folder = os.path.splitext(label)[0].replace(os.sep, '_') + '_stress'
        report = (os.path.join(args.out, folder) if several else args.out) if args.out else None
        if _is_run_source(source):
            report = report or default_report_dir(os.path.abspath(source.rstrip(os.sep)),
                                                  args.ros)
            source = _export_for_stress(source, os.path.join(report, 'policy.onnx'))
        out.append((label, source, report))
    return out


def _is_run_source(path: str) -> bool:
    return os.path.isdir(path) or path.endswith('.pt')


def _export_for_stress(source: str, path: str) -> str:
    """Export ``source`` (a run folder or checkpoint) to ``path``; return ``path``."""
    from ..policy.errors import PolicyError
    from ..policy.export import export_policy
    from .errors import CliError
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        export_policy(source, path, overwrite=True)
    except PolicyError as exc:
        raise CliError(f'{source}: cannot export it to stress it: '
                       f'{str(exc).splitlines()[0]}') from None
    print(f'symphony stress: {source} exported to {path}', flush=True)
    return path


def stress_checkpoint(args: argparse.Namespace, source: str, out: str) -> Dict[str, Any]:
    """Export checkpoint ``source`` into report folder ``out``, run ``args``' matrix on it.

    Return its report (report.json's content); ``symphony screen`` screens a run's actors so.

    :raises CliError: a checkpoint that cannot be exported or stressed.
    """
    policy = _export_for_stress(source, os.path.join(out, 'policy.onnx'))
    one = _for_policy(args, policy, out)
    return _run_one(one, _prepare(one))[1]


def _for_policy(args: argparse.Namespace, policy: str, out: Optional[str]
                ) -> argparse.Namespace:
    return argparse.Namespace(**{**vars(args), 'policy': policy, 'out': out})


def _compare_md(args: argparse.Namespace, table: str) -> str:
    how = 'through the realtime deploy graph' if args.ros else 'in process'
    return (f'# Stress comparison\n\n{len(args.policy)} policies {how}, {args.episodes} '
            f'episodes per condition, seed {args.seed} (the same initial states and '
            f'perturbations for each); falls of the episodes, and kicks survived:\n\n'
            + table)


def _prepare(args: argparse.Namespace) -> Tuple[Any, Any, str, str, List[str]]:
    """Read ``args.policy`` and choose its conditions, before any matrix runs.

    Return (contract, robot, env id, robot name, condition names).

    :raises CliError: a policy that cannot be read, of a Gymnasium env, for another robot,
        or conditions that do not apply.
    """
    from ..core.envs import canonical_env_id, lookup
    from ..policy.errors import PolicyError
    from ..policy.runtime import OnnxPolicy
    from ..robot import get_robot
    from ..stress import conditions as table
    from ..stress import ros
    from .errors import CliError
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
        follows = bool((c.task or {}).get('command_ranges'))
        names = (ros.select(args.conditions, robot, follows) if args.ros
                 else table.select(args.conditions, robot,
                                   [t for t, _ in c.observation.terms], follows))
        if args.latency:
            names += [n for n in table.latency_conditions() if n not in names]
        if args.worst_parts:
            if args.ros:
                raise ValueError('--worst-parts: in process only (--ros injects the delay '
                                 'and kicks alone)')
            names += [n for n in table.worst_parts()
                      if n in table.applicable(robot) and n not in names]
        if args.worst_depth:
            if args.ros:
                raise ValueError('--worst-depth: in process only (--ros injects the delay '
                                 'and kicks alone)')
            names += [n for n in table.worst_depth_conditions() if n not in names]
        if args.kick_sides:
            if args.ros:
                raise ValueError('--kick-sides: in process only (the sim\'s kicks through '
                                 '--ros come from any side)')
            names += [n for n in table.kick_side_conditions(follows) if n not in names]
        names = _fit_pushes(args, names, robot.control_dt)
    except (PolicyError, ValueError) as exc:
        raise CliError(str(exc).splitlines()[0]) from None
    return c, robot, env_id, args.robot or entry.robot, names


def _run_one(args: argparse.Namespace, prepared: Tuple[Any, Any, str, str, List[str]]
             ) -> Tuple[int, Dict[str, Any]]:
    """Run the matrix of ``args.policy`` (:func:`_prepare`'s), write its report and verdict."""
    from ..core.evaluation import EVAL_SEED_OFFSET
    from ..robot.velocity_commands import format_commands
    from ..stress import conditions as table
    from ..stress.confidence import wilson
    from ..stress.gate import default_report_dir
    from ..stress.report import verdict, write_report
    from ..stress.run import clock, default_workers
    c, robot, env_id, robot_name, names = prepared
    workers = 1 if args.ros else min(args.workers or default_workers(),
                                     len(names) * args.episodes)
    out = args.out or default_report_dir(os.path.abspath(args.policy), args.ros)
    ranges = (c.task or {}).get('command_ranges')
    commands = format_commands(ranges) if ranges else ''
    trained = _trained_ranges(c)
    t0 = clock()
    figures = _run_conditions(args, prepared, workers, out, ranges, commands)
    wall = clock() - t0
    conds = {n: {'description': table.describe(n), 'knobs': table.knobs(n),
                 'within_training': table.within_training(n, robot),
                 'within_policy_training': table.within_policy_ranges(n, robot, trained),
                 **f, 'fall_rate_ci95': list(wilson(f['falls'], f['episodes']))}
             for n, f in figures.items()}
    report = {'policy': {'path': args.policy, 'sha256': sha256_file(args.policy),
                         'weights_sha256': c.weights_sha256},
              'env': env_id, 'robot': robot.name, 'seed': args.seed,
              'through': 'ros' if args.ros else 'process',
              'timing': 'realtime' if args.ros else 'in process',
              'seed_offset': EVAL_SEED_OFFSET, 'episodes': args.episodes,
              'max_steps': args.max_steps or None, 'workers': workers, 'wall_s': wall,
              'trained_under': _trained_text(c, trained),
              'ros_commands': commands if args.ros else None,
              'conditions': conds,
              'verdict': verdict(conds, args.max_fall_rate, args.verdict_scope,
                                 args.verdict_bound, args.max_tracking_error or None,
                                 args.max_yaw_error or None),
              'latency': table.latency_budget({n: s['fall_rate'] for n, s in conds.items()},
                                              robot, args.max_fall_rate),
              'worst_depth': table.worst_depth_budget(
                  {n: s['fall_rate'] for n, s in conds.items()}, args.max_fall_rate)}
    paths = write_report(report, out)
    _print_summary(report, paths['md'])
    return (0 if report['verdict']['passed'] else 1), report


def _run_conditions(args: argparse.Namespace, prepared: Tuple[Any, Any, str, str, List[str]],
                    workers: int, out: str, ranges: Optional[Dict[str, Any]], commands: str
                    ) -> Dict[str, Dict[str, Any]]:
    """Run every condition's episodes (in process or through ROS); return their figures.

    :param ranges: a velocity policy's command ranges (the episodes draw from them), or None.
    :param commands: the same as the sim node's parameter text.
    """
    from ..stress import ros
    from ..stress.run import Job, run_matrix, summarise
    c, robot, env_id, robot_name, names = prepared
    bar = None
    if not args.no_progress:
        from tqdm import tqdm
        bar = tqdm(total=len(names) * args.episodes, unit='episode', file=sys.stderr,
                   desc='stress --ros' if args.ros else 'stress')
    try:
        if args.ros:
            runs = _through_ros(args, robot, names, out, bar, commands,
                                odometry_of(c.train_config))
            rows = {n: runs[n]['rows'] for n in names}
        else:
            job = Job(os.path.abspath(args.policy), env_id, c.observation.name,
                      robot_name, args.seed, args.max_steps or None,
                      {k: tuple(v) for k, v in ranges.items()} if ranges else None,
                      odometry_of(c.train_config))
            rows = run_matrix(job, names, args.episodes, workers,
                              progress=(lambda done, total: bar.update(1)) if bar else None)
    finally:
        if bar:
            bar.close()
    return {n: {**(ros.summarise(runs[n]) if args.ros else summarise(n, rows[n])),
                'per_episode': rows[n]}
            for n in names}


def _print_summary(report: Dict[str, Any], md_path: str) -> None:
    """Print one line a condition, the latency budget and the verdict."""
    from ..stress.report import (depth_text, faults_text, kick_sides_text, latency_text,
                                 rate_interval, worst_parts_text)
    for n, s in report['conditions'].items():
        k = s.get('kicks')
        kicks = f'  kicks survived {k["survived"]}/{k["survived"] + k["fell"]}' if k else ''
        if s.get('reached'):    # held to one command: what it did when told
            kicks += '  reached {:.2f} m/s, {:.2f} m/s, {:.2f} rad/s'.format(*s['reached'])
        faults = (s.get('ros') or {}).get('fault_reasons')
        if faults:   # a fall after a stale input is the loop's (report.md says so)
            kicks += f'  watchdog FAULTs: {faults_text(faults)}'
        print(f'{n:14s} falls {s["falls"]:3d}/{s["episodes"]:<3d} ({rate_interval(s):>8s}) '
              f'return {s["return_mean"]:9.1f}' + kicks
              + ('' if s['within_training'] else '  (beyond training)'))
    if report['latency']:
        print(latency_text(report['latency']))
    if report.get('worst_depth'):
        print(depth_text(report['worst_depth']))
    for text in filter(None, (worst_parts_text(report['conditions']),
                              kick_sides_text(report['conditions']))):
        print(text)
    v, workers = report['verdict'], report['workers']
    print(f'verdict: {"PASS" if v["passed"] else "FAIL"}'
          + (f' (failed: {", ".join(v["failed"])})' if v['failed'] else '')
          + f'; {report["wall_s"]:.0f} s on {workers} worker{"s" if workers != 1 else ""}; '
          f'report: {md_path}')


def _trained_ranges(contract) -> Optional[Dict[str, Any]]:
    """Return the ranges the policy trained under: the contract's, {} for none, None: unknown.

    On a ramp, as wide as the ramp had reached at the actor's step (``width``): an actor taken
    soon after a new ranges file restarted the ramp met a near-nominal robot, whatever the
    ranges at full width say.
    """
    if contract.randomization is None:
        return {} if contract.train_config.get('randomize', 'none') == 'none' else None
    width = _ramp_width(contract)
    if width >= 1.0:
        return contract.randomization
    from ..robot.ranges import RandomizationSpec
    stored = {k: tuple(v) for k, v in (contract.randomization.get('ranges') or {}).items()}
    narrowed = RandomizationSpec(stored, scale=width).to_dict()['ranges']
    return {**contract.randomization, 'ranges': narrowed, 'width': width}


def _ramp_width(contract) -> float:
    """Return the fraction of its ranges' scale the policy's ramp had reached (1: whole).

    A student's training config is its teacher's, its steps its own: 1, as nothing is known.
    """
    from ..core.run_dir import stored_width
    tc = contract.train_config
    return 1.0 if tc.get('distill') else stored_width(tc, int(contract.training_steps))


def _trained_text(contract, trained: Optional[Dict[str, Any]]) -> str:
    """Say in one line what the policy trained under, for report.md."""
    if trained is None:
        return (f'randomisation {contract.train_config.get("randomize")!r}, its ranges not '
                'recorded (a file exported before contracts carried them)')
    if not trained:
        return 'no randomisation (the nominal robot)'
    text = f'randomisation {trained.get("name")!r} x{trained.get("scale", 1.0):g}'
    if 'width' in trained:
        text += (f', of which its ramp had reached {trained["width"]:.0%} at this actor\'s '
                 f'step ({int(contract.training_steps):,})')
    return text


def _fit_pushes(args: argparse.Namespace, names: List[str], dt: float) -> List[str]:
    """Leave out the default set's push conditions that ``--max-steps`` ends before a kick.

    :raises ValueError: such a condition named in ``--conditions``.
    """
    from ..stress.conditions import first_kick_s, too_short_for_pushes
    episode_s = args.max_steps * dt if args.max_steps else None
    short = too_short_for_pushes(names, episode_s)
    if short and args.conditions:
        first = min(map(first_kick_s, short))
        raise ValueError(f'--max-steps {args.max_steps}: episodes of {episode_s:g} s end '
                         f'before the first kick of {", ".join(short)} (after '
                         f'{first:g} s or more); '
                         'give longer episodes or leave those conditions out')
    if short:
        print(f'symphony stress: --max-steps {args.max_steps}: episodes of {episode_s:g} s '
              f'end before any kick, so {", ".join(short)} are left out', file=sys.stderr)
    return [n for n in names if n not in short]


def _through_ros(args: argparse.Namespace, robot, names: List[str], out: str,
                 bar, commands: str, odometry: str = 'sim') -> Dict[str, Dict]:
    """Run each condition's deploy graph in turn; its log goes to ``out/ros/<name>.log``.

    Every graph is checked with the nodes' own parameter rules before the first starts.
    ``commands``: a velocity policy's ranges, which the sim draws its commands from.
    ``odometry``: the policy's training source; one trained on leg odometry reads it through
    the graph too, as on a robot.
    """
    from ..core.evaluation import EVAL_SEED_OFFSET
    from ..stress import ros
    from .launch_cmd import check_node_parameters
    policy = os.path.abspath(args.policy)
    seed = args.seed + EVAL_SEED_OFFSET     # the in-process matrix's initial states
    estimator = 'legs' if odometry == 'legs' else 'none'
    for n in names:
        check_node_parameters(ros.graph(policy, robot, n, args.episodes, seed,
                                        args.max_steps or None, 'check', commands, estimator))
    logs = os.path.join(out, 'ros')
    os.makedirs(logs, exist_ok=True)
    runs = {}
    for n in names:
        runs[n] = ros.run_condition(policy, robot, n, args.episodes, seed,
                                    args.max_steps or None, os.path.join(logs, f'{n}.log'),
                                    progress=bar.update if bar else None,
                                    commands=commands, estimator=estimator)
        if not runs[n]['complete']:
            print(f'{n}: {len(runs[n]["rows"])} of {args.episodes} episodes finished (graph '
                  f'status {runs[n]["graph_status"]}, {runs[n]["wall_s"]:.0f} s); see '
                  f'{os.path.join(logs, n + ".log")}', file=sys.stderr)
    return runs


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``symphony stress`` alone."""
    from .errors import standalone
    return standalone('stress', __doc__, add_arguments, run, argv)


if __name__ == '__main__':
    sys.exit(main())

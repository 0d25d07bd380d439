"""``symphony screen RUN_DIR``: stress each kept actor of a training run and rank them.

Each actor of ``RUN_DIR/actors`` (``--keep-actors``) gets its stress report under the same
conditions and seeds (:mod:`symphony_ros.stress.screen`), and ``screen.md`` ranks them by
falls. A report already made with the same settings is read, not run again, so the same
command picks up where it stopped; ``--follow`` keeps screening the actors a running
training run keeps. One worker by default: a screen runs beside the training it screens.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Dict, List, Optional

from ..util.fields import number


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Run folder, the stress settings, which actors, and following a run as it trains."""
    from ..stress.screen import DEFAULT_CONDITIONS, SCREEN_DIR
    p.add_argument('run_dirs', nargs='+', metavar='RUN_DIR',
                   help='training run folder whose actors/ to screen (train with '
                   '--keep-actors true); several (branches of one run, say: symphony branch) '
                   'are screened alike and compared step by step in -o DIR/compare.md')
    p.add_argument('--conditions', nargs='+', default=list(DEFAULT_CONDITIONS),
                   metavar='NAME', help='stress conditions, space- or comma-separated, '
                   'A+B for two at once as in symphony stress '
                   f'(default: {" ".join(DEFAULT_CONDITIONS)})')
    p.add_argument('--kick-sides', action='store_true',
                   help='also screen one 1 m/s kick from each side, as symphony stress '
                   '--kick-sides does (told to stand and to walk forward at 0.5 m/s when the '
                   'runs follow velocity commands)')
    p.add_argument('--episodes', type=number(int, 1), default=30, metavar='N',
                   help='episodes per condition (default: 30)')
    p.add_argument('--seed', type=number(int, 0), default=0,
                   help='seed of the episodes, the same for every actor (default: 0)')
    p.add_argument('--max-steps', type=number(int, 0), default=0, metavar='N',
                   help='cap on episode length in control steps (default 0: the env limit)')
    p.add_argument('--workers', type=number(int, 0), default=1, metavar='W',
                   help='processes (default 1: the core the training leaves; 0: all cores)')
    p.add_argument('--max-tracking-error', type=number(float, 0), default=0.0, metavar='M',
                   help='command policies: rank only actors within M m/s per stride of '
                   'their commands, and judge it in each verdict (default 0: not judged)')
    p.add_argument('--every', type=number(int, 0), default=0, metavar='STEPS',
                   help='screen one actor per STEPS training steps (default 0: each one)')
    p.add_argument('--since', type=number(int, 0), default=None, metavar='STEP',
                   help='screen the actors from this training step on (default: all; a '
                   'branch\'s from the actor it started from, since those before are its '
                   'source\'s, screened in the source\'s folder)')
    p.add_argument('-o', '--out', metavar='DIR', default=None,
                   help=f'folder of the reports and screen.md (default: RUN_DIR/{SCREEN_DIR}); '
                   'with several runs, of compare.md (each run\'s reports stay in its own '
                   f'RUN_DIR/{SCREEN_DIR})')
    p.add_argument('--follow', action='store_true',
                   help='keep screening the actors the run keeps (waiting for a run folder '
                   'not yet made) until Ctrl-C (or --until)')
    p.add_argument('--until', type=number(int, 0), default=0, metavar='STEP',
                   help='with --follow: stop once an actor at or past this step is screened '
                   '(of every run, with several)')
    p.add_argument('--poll', type=number(float, 0.1), default=30.0, metavar='S',
                   help='with --follow: seconds between looks for new actors (default: 30)')


def run(args: argparse.Namespace) -> int:
    """Screen the runs' actors (and, following, their new ones); exit 0, 130 on Ctrl-C."""
    from ..stress.conditions import joined_error
    from ..stress.screen import SCREEN_DIR, Settings
    from .errors import CliError
    missing = [r for r in args.run_dirs if not os.path.isdir(r)]
    if missing and not args.follow:       # following, a run just started may not have it yet
        raise CliError(f'{missing[0]}: no such run folder')
    if args.until and not args.follow:
        raise CliError('--until goes with --follow')
    several = len(args.run_dirs) > 1
    if several and not args.out:
        raise CliError(f'{len(args.run_dirs)} runs: give -o DIR for their compare.md (each '
                       f'run\'s own reports go in RUN_DIR/{SCREEN_DIR})')
    args.conditions = [n for arg in args.conditions for n in arg.split(',') if n]
    wrong = [e for e in map(joined_error, args.conditions) if e]
    if wrong:
        raise CliError(f'--conditions: {wrong[0]}')
    if args.kick_sides:
        args.conditions += _kick_sides(args.run_dirs)
    settings = Settings(tuple(dict.fromkeys(args.conditions)), args.episodes, args.seed,
                        args.max_steps or None)
    runs = {r: {} for r in args.run_dirs}   # each run's rows by step
    waiting = set()
    while True:
        for run_dir, rows in runs.items():
            one = argparse.Namespace(**dict(vars(args), run_dir=run_dir))
            out = os.path.join(run_dir, SCREEN_DIR) if several or not args.out else args.out
            if _screen_new(one, settings, out, rows):
                _write(one, settings, out, rows)
                if several:
                    _write_compare(args.out, settings, runs)
            elif not rows and run_dir not in waiting:
                waiting.add(run_dir)
                print(f'symphony screen: no actor kept in {run_dir} yet; looking every '
                      f'{args.poll:g} s', flush=True)
        newest = min((max(rows) if rows else -1) for rows in runs.values())
        if not args.follow or (args.until and newest >= args.until):
            break
        time.sleep(args.poll)
    return 0


def _kick_sides(run_dirs: List[str]) -> List[str]:
    """Return the one-kick conditions of ``--kick-sides`` for these runs' env.

    Which set depends on whether the policy follows velocity commands, read from each run's
    config.json or, where a run keeps actors alone, its first kept actor.

    :raises CliError: a run with neither yet, or runs of envs that differ in it.
    """
    from ..core.envs import lookup
    from ..stress.conditions import kick_side_conditions
    from .errors import CliError
    follows = set()
    for run_dir in run_dirs:
        env = _run_env(run_dir)
        if env is None:
            raise CliError(f'--kick-sides: {run_dir} holds no run config or kept actor yet, '
                           'so whether it follows commands is unknown; name the kick_<side> '
                           'conditions in --conditions instead')
        entry = lookup(env)
        follows.add(bool(entry is not None and (entry.task or {}).get('command_ranges')))
    if len(follows) > 1:
        raise CliError('--kick-sides: some runs follow velocity commands and some do not; '
                       'screen them apart')
    return kick_side_conditions(follows.pop())


def _run_env(run_dir: str) -> Optional[str]:
    """Return the env a run trains on, from config.json or its first kept actor (or None)."""
    from ..core.run_dir import RunDirError, read_run_config
    from ..core.snapshot import kept_actors, load_actor
    try:
        return str(read_run_config(run_dir)['train_config'].get('env'))
    except RunDirError:
        kept = kept_actors(run_dir) if os.path.isdir(run_dir) else []
        return load_actor(kept[0][1]).env if kept else None


def _screen_new(args: argparse.Namespace, settings, out: str,
                rows: Dict[int, Dict[str, Any]]) -> List[int]:
    """Add a row for each picked actor not in ``rows``; return the steps added."""
    from ..core.snapshot import kept_actors
    from ..stress.screen import branch_start, keeps_actors, pick, report_dir, row
    from .errors import CliError
    kept = kept_actors(args.run_dir)
    # Following a run that keeps its actors (or is not yet made), the first may not be
    # written yet.
    waits = args.follow and (keeps_actors(args.run_dir) or not os.path.isdir(args.run_dir))
    if not kept and not waits:
        raise CliError(f'{os.path.join(args.run_dir, "actors")}: no kept actors '
                       '(actor_<step>.pt); train with --keep-actors true (a resume may turn '
                       'it on)')
    since = args.since if args.since is not None else branch_start(args.run_dir, kept)
    actors = pick(kept, args.every, since)
    new = [(step, path) for step, path in actors if step not in rows]
    reports = {step: _kept_report(report_dir(out, step), settings) for step, _ in new}
    if any(r is None for r in reports.values()):
        told = sum(r is not None for r in reports.values())
        todo = sum(r is None for r in reports.values())
        hint = ('; --every STEPS or --since STEP screens fewer' if todo > 20 and not
                (args.every or since) else '')
        print(f'symphony screen: {todo} actor{"s" if todo != 1 else ""} to stress'
              + (f', {told} read from earlier reports' if told else '') + hint, flush=True)
    for step, path in new:
        report = reports[step]
        if report is None:
            print(f'== {os.path.basename(path)}', flush=True)
            report = _stress(args, path, report_dir(out, step))
        rows[step] = row(step, _test_return(path), report)
    return [step for step, _ in new]


def _kept_report(folder: str, settings) -> Optional[Dict[str, Any]]:
    """Return the report in ``folder`` when it was made with ``settings`` (None otherwise)."""
    try:
        with open(os.path.join(folder, 'report.json')) as fh:
            report = json.load(fh)
    except (OSError, ValueError):
        return None
    return report if settings.matches(report) else None


def _stress(args: argparse.Namespace, path: str, folder: str) -> Dict[str, Any]:
    """Run the stress matrix on the actor at ``path``, its report into ``folder``."""
    from . import stress_cmd
    # symphony stress's own defaults, but for what a screen sets.
    parser = argparse.ArgumentParser()
    stress_cmd.add_arguments(parser)
    stress = parser.parse_args([path])
    vars(stress).update(episodes=args.episodes, conditions=list(args.conditions), out=folder,
                        seed=args.seed, workers=args.workers, max_steps=args.max_steps,
                        max_tracking_error=args.max_tracking_error, no_progress=True)
    return stress_cmd.stress_checkpoint(stress, path, folder)


def _test_return(path: str) -> Optional[float]:
    from ..core.snapshot import load_actor
    return load_actor(path).test_return


def _write(args: argparse.Namespace, settings, out: str, rows: Dict[int, Dict[str, Any]]
           ) -> None:
    """Print the table and write it to ``out/screen.md``.

    The file holds every report in ``out`` made with the same settings, this invocation's
    and earlier ones': a screen of fewer actors (``--since``, ``--every``) rewrites it
    without losing the rows it had.
    """
    from ..core.run_summary import METRICS_FILE, read_metrics
    from ..stress.screen import corner_cells, table
    from ..util.atomic import atomic_write
    every = {**_earlier_rows(args.run_dir, out, settings, rows), **rows}
    corner = corner_cells(read_metrics(os.path.join(args.run_dir, METRICS_FILE))[0])
    every = {s: dict(r, corner=corner.get(s)) for s, r in every.items()}
    text = table([every[s] for s in sorted(every)], settings.conditions,
                 args.max_tracking_error)
    head = (f'# Screen of {os.path.abspath(args.run_dir)}\n\n{settings.episodes} episodes '
            f'per condition, seed {settings.seed}, the same for every actor; falls of the '
            'episodes, and kicks survived:\n\n')
    path = os.path.join(out, 'screen.md')
    atomic_write(path, lambda f: f.write((head + text).encode()))
    print('\n' + text + f'screen: {path}', flush=True)


def _earlier_rows(run_dir: str, out: str, settings, rows: Dict[int, Dict[str, Any]]
                  ) -> Dict[int, Dict[str, Any]]:
    """Return the rows of the reports in ``out`` with ``settings`` for steps not in ``rows``."""
    from ..core.snapshot import kept_actors
    from ..stress.screen import report_steps, row
    actors = dict(kept_actors(run_dir))
    earlier = {}
    for step, folder in report_steps(out).items():
        report = None if step in rows else _kept_report(folder, settings)
        if report is not None:
            test_return = _test_return(actors[step]) if step in actors else None
            earlier[step] = row(step, test_return, report)
    return earlier


def _write_compare(out: str, settings, runs: Dict[str, Dict[int, Dict[str, Any]]]) -> None:
    """Write ``out/compare.md``: the runs side by side, one row a step."""
    from ..stress.screen import compare_table
    from ..util.atomic import atomic_write
    names = [os.path.abspath(r) for r in runs]
    head = (f'# Screen of {len(runs)} runs\n\n' + ''.join(f'- {n}\n' for n in names)
            + f'\n{settings.episodes} episodes per condition, seed {settings.seed}, the same '
            'for every actor; falls of the episodes in each condition:\n\n')
    text = compare_table(runs, settings.conditions)
    path = os.path.join(out, 'compare.md')
    atomic_write(path, lambda f: f.write((head + text).encode()))
    print(f'compare: {path}', flush=True)


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``symphony screen`` alone."""
    from .errors import standalone
    return standalone('screen', __doc__, add_arguments, run, argv)


if __name__ == '__main__':
    sys.exit(main())

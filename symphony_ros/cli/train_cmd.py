"""``symphony train``: flags are the fields of TrainConfig and SymphonyConfig."""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List

from ..core.checkpoint import CheckpointError
from ..core.config import CONFIGS, OVERRIDABLE, SymphonyConfig, TrainConfig
from ..core.fields import field_docs, scalar_fields
from .errors import CliError


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add one flag per TrainConfig field plus algorithm overrides."""
    docs = field_docs(TrainConfig)
    for name, typ, default in scalar_fields(TrainConfig):
        flag = '--' + name.replace('_', '-')
        kw = {'choices': sorted(CONFIGS)} if name == 'config' else {}
        if name == 'device':
            kw = {'choices': ['auto', 'cpu', 'cuda']}
        p.add_argument(flag, type=typ, default=None, help=f'{docs.get(name, "")} '
                       f'(default: {default})', **kw)
    sdocs = field_docs(SymphonyConfig)
    group = p.add_argument_group('algorithm overrides (default: the named config)')
    types = {n: t for n, t, _ in scalar_fields(SymphonyConfig)}
    for name in OVERRIDABLE:
        group.add_argument('--' + name.replace('_', '-'), type=types[name], default=None,
                           help=sdocs.get(name, ''))
    p.add_argument('--resume', action='store_true',
                   help='continue the run in --run-dir from its last checkpoint')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Build a TrainConfig: explicit flags over dataclass defaults."""
    values = {n: getattr(args, n) for n, _, _ in scalar_fields(TrainConfig)
              if getattr(args, n, None) is not None}
    overrides = {n: getattr(args, n) for n in OVERRIDABLE if getattr(args, n) is not None}
    return TrainConfig(**values, overrides=overrides)


def _say(line: str) -> None:
    # tqdm.write keeps a running progress bar intact; stdout is left to the JSON summary.
    from tqdm import tqdm
    tqdm.write(line, file=sys.stderr)


def _clock(seconds: float) -> str:
    minutes, s = divmod(int(seconds), 60)
    return f'{minutes // 60}:{minutes % 60:02d}:{s:02d}'


def evaluation_line(row: Dict[str, float]) -> str:
    """One line per evaluation, for logs of runs without a progress bar."""
    best = '  new best' if row.get('new_best') else ''
    return (f'step {int(row["step"]):,}  test return {row["test_return_mean"]:.1f} '
            f'\u00b1 {row["test_return_std"]:.1f}{best}  episodes {int(row["episodes"]):,} '
            f'(falls {int(row["falls"]):,})  {row["steps_per_s"]:.1f} steps/s  '
            f'wall {_clock(row["wall_s"])}')


@contextmanager
def _stop_on_first_signal(trainer: Any, caught: List[int]) -> Iterator[None]:
    """First SIGINT/SIGTERM: finish the step and checkpoint. Second: abort at once."""
    def handler(signum: int, frame: Any) -> None:
        if caught:
            raise KeyboardInterrupt
        caught.append(signum)
        trainer.request_stop()
        # os.write, not print: the interrupted main thread may be inside a write to
        # stderr (the progress bar), and a buffered stream refuses a reentrant call.
        os.write(sys.stderr.fileno(), (
            f'\nsymphony train: {signal.Signals(signum).name}: writing a checkpoint at the '
            'step reached (again to abort; the last checkpoint stays intact)\n').encode())
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def run(args: argparse.Namespace) -> int:
    """Train; every input problem becomes a CliError (exit 2).

    :returns: 0 when the steps are done, 128 + signal after a stop request (checkpointed).
    """
    from ..core.trainer import Trainer
    cfg = config_from_args(args)
    try:
        trainer = Trainer(cfg, resume=args.resume, progress=not args.no_progress)
    except (ValueError, CheckpointError) as exc:
        raise CliError(str(exc)) from None
    if args.resume:
        best = trainer.best_return
        _say(f'symphony train: resumed {cfg.run_dir} at step {trainer.step_count:,} (best test '
             f'return so far {best:.1f})' if math.isfinite(best) else
             f'symphony train: resumed {cfg.run_dir} at step {trainer.step_count:,}')
    trainer.on_evaluation.append(lambda row: _say(evaluation_line(row)))
    trainer.on_note.append(lambda line: _say(f'symphony train: {line}'))
    caught: List[int] = []
    try:
        with _stop_on_first_signal(trainer, caught):
            summary = trainer.run()
    finally:
        trainer.close()
    print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v)
                      for k, v in summary.items()}))
    if caught:
        _say(f'symphony train: stopped at step {trainer.step_count:,}, checkpoint written in '
             f'{cfg.run_dir}; continue with the same command plus --resume')
        return 128 + caught[0]
    return 0

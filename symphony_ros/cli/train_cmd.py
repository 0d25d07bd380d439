"""``symphony train``: flags are the fields of TrainConfig and SymphonyConfig."""

from __future__ import annotations

import argparse
import json

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


def run(args: argparse.Namespace) -> int:
    """Train; every input problem becomes a CliError (exit 2)."""
    from ..core.trainer import Trainer
    cfg = config_from_args(args)
    try:
        trainer = Trainer(cfg, resume=args.resume, progress=not args.no_progress)
    except (ValueError, CheckpointError) as exc:
        raise CliError(str(exc)) from None
    try:
        summary = trainer.run()
    finally:
        trainer.close()
    print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v)
                      for k, v in summary.items()}))
    return 0

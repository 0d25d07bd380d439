"""``symphony distill``: a student of an exported policy that rides out delay and sensor noise.

Flags are the fields of `DistillConfig`. The student starts as the teacher's actor and
learns by DAgger (:mod:`symphony_ros.distill.dagger`); the result is an exported policy with
the teacher's contract plus the distillation's ranges and provenance, ready for
``symphony stress``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Optional

from ..distill.config import DistillConfig
from ..util.fields import scalar_fields


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Teacher, output, run folder, and one flag per DistillConfig field."""
    from .train_cmd import add_field_flag
    p.add_argument('teacher', metavar='TEACHER.onnx', help='exported policy (symphony export)')
    p.add_argument('-o', '--output', metavar='STUDENT.onnx', required=True,
                   help='where the student goes (its contract names the teacher)')
    p.add_argument('--force', action='store_true', help='replace an existing output file')
    p.add_argument('--run-dir', metavar='DIR', default=None,
                   help='folder for rounds.jsonl and each round\'s student '
                   '(students/round_NN.onnx), to stress any of them')
    for name, typ, default in scalar_fields(DistillConfig):
        add_field_flag(p, DistillConfig, name, typ, default)


def _config(args: argparse.Namespace) -> DistillConfig:
    """Build the config from the flags given; add_field_flag checked each against its range."""
    return DistillConfig(**{n: getattr(args, n) for n, _, _ in scalar_fields(DistillConfig)
                            if getattr(args, n) is not None})


def _check_paths(args: argparse.Namespace) -> None:
    from .errors import CliError, check_policy_path
    check_policy_path(args.teacher)
    if os.path.isdir(args.output):
        raise CliError(f'{args.output}: is a folder; expected a .onnx file path')
    if os.path.exists(args.output) and not args.force:
        raise CliError(f'{args.output}: exists; pass --force to replace it')
    if args.run_dir and os.path.isfile(args.run_dir):
        raise CliError(f'--run-dir {args.run_dir}: is a file; expected a folder')


def _round_writer(run_dir: Optional[str], distiller):
    """Return the per-round callback: print the round; keep its log line and student."""
    from ..policy.export import export_policy
    from ..util.atomic import atomic_write

    def on_round(figures) -> None:
        print(f'symphony distill: {figures.line()}', file=sys.stderr, flush=True)
        if not run_dir:
            return
        export_policy(distiller.student_source(), os.path.join(
            run_dir, 'students', f'round_{figures.round:02d}.onnx'), overwrite=True,
            observations=distiller.parity_observations())
        rows = [json.dumps(vars(f)) + '\n' for f in distiller.history]
        atomic_write(os.path.join(run_dir, 'rounds.jsonl'),
                     lambda fh: fh.write(''.join(rows).encode()))
    return on_round


def run(args: argparse.Namespace) -> int:
    """Distil, export the student, print where it went and what to run next."""
    import torch

    from ..distill.dagger import Distiller
    from ..policy.errors import PolicyError
    from ..policy.export import export_policy
    from .errors import CliError
    _check_paths(args)
    cfg = _config(args)
    torch.set_num_threads(cfg.threads)
    try:
        distiller = Distiller(cfg, args.teacher)
    except (PolicyError, ValueError) as exc:
        raise CliError(str(exc).splitlines()[0]) from None
    if args.run_dir:
        os.makedirs(os.path.join(args.run_dir, 'students'), exist_ok=True)
    env = distiller.env
    teacher_spec = distiller.teacher.contract.observation.name
    seen = teacher_spec if env.obs_spec == teacher_spec else (
        f'{teacher_spec}; the student {env.obs_spec}')
    print(f'symphony distill: {args.teacher} ({env.robot.name}, observation {seen}) under '
          f'{env.spec.name}: {cfg.rounds} rounds of {cfg.steps_per_round:,} steps',
          file=sys.stderr)
    distiller.run(_round_writer(args.run_dir, distiller))
    result = export_policy(distiller.student_source(), args.output, overwrite=True,
                           observations=distiller.parity_observations())
    print(f'wrote {result.path} (weights sha256 {result.contract.weights_sha256[:16]}...); '
          f'next: symphony stress {result.path}')
    return 0

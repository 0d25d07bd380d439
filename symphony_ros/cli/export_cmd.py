"""``symphony export``: a run's deterministic actor to ONNX, with its contract and parity check."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Dict, Optional

from ..util.fields import number


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the source, output and parity flags."""
    p.add_argument('source', metavar='RUN_DIR_OR_CHECKPOINT',
                   help='run folder (best_actor.pt, else latest checkpoint) or a .pt file; '
                   'or an exported .onnx with --stress (only its contract\'s stress entry '
                   'is rewritten)')
    p.add_argument('-o', '--output', metavar='FILE.onnx', default=None,
                   help='output file (default: models/<run name>.onnx)')
    p.add_argument('--force', action='store_true', help='replace an existing output file')
    p.add_argument('--samples', type=number(int, 1), default=1000,
                   help='observations in the torch/onnxruntime parity check (default: 1000)')
    p.add_argument('--tolerance', type=number(float, 0, above=True), default=1e-5,
                   help='largest allowed |torch - onnxruntime| (default: 1e-5)')
    p.add_argument('--stress', metavar='REPORT', default=None,
                   help='a symphony stress report (report.json or its folder) of these weights: '
                   'its verdict and fall rates go into the contract')
    p.add_argument('--opset', type=number(int, 17), default=17,
                   help='ONNX opset, from 17 to the newest this torch exports (default: 17)')


def default_output(source: str) -> str:
    """``models/<run name>.onnx``, the run name being the run folder's name."""
    path = os.path.abspath(source)
    if os.path.isfile(path):
        path = os.path.dirname(path)
        if os.path.basename(path) == 'checkpoints':
            path = os.path.dirname(path)
    return os.path.join('models', (os.path.basename(path) or 'policy') + '.onnx')


def _check_output(args: argparse.Namespace, out: str) -> None:
    """Refuse an output that exists (without --force) or lies in a folder that does not.

    The default folder (models/) is created; one named with -o must exist, so a typo in
    the path is not silently turned into a new folder.
    """
    from .errors import CliError
    if os.path.isdir(out):
        raise CliError(f'--output {out}: is a folder, expected a .onnx file name')
    if os.path.exists(out) and not args.force:
        raise CliError(f'{out}: exists; pass --force to replace it')
    folder = os.path.dirname(os.path.abspath(out))
    if args.output and not os.path.isdir(folder):
        raise CliError(f'--output {out}: folder {os.path.dirname(out) or "."} does not exist '
                       '(create it first)')


def _newest_opset() -> int:
    """Return the newest opset torch's TorchScript ONNX exporter (the one used) writes."""
    try:
        from torch.onnx import _constants
        return int(_constants.ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET)
    except (ImportError, AttributeError):
        return 20


def _stress_summary(args: argparse.Namespace) -> Optional[Dict[str, Any]]:
    """Read --stress's report summary (None without --stress); a bad report is a CliError."""
    if not args.stress:
        return None
    from ..stress.report import contract_summary
    from .errors import CliError
    try:
        return contract_summary(args.stress)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _stamp(args: argparse.Namespace) -> int:
    """Put --stress's summary into an exported policy's contract, and change nothing else."""
    from ..policy.errors import PolicyError
    from ..policy.export import stamp_stress
    from .errors import CliError
    if not args.stress:
        raise CliError(f'{args.source}: an exported policy can only be given --stress REPORT '
                       '(to carry its stress report); export a run folder or .pt file to '
                       'make a new policy')
    out = args.output or args.source
    _check_output(args, out)
    stress = _stress_summary(args)
    try:
        c = stamp_stress(args.source, out, stress)
    except PolicyError as exc:
        raise CliError(str(exc)) from None
    print(f'wrote {out}: the contract of {args.source} with stress verdict '
          f'{c.stress["verdict"]} '
          f'(weights sha256 {c.weights_sha256[:16]}..., graph unchanged)')
    return 0


def run(args: argparse.Namespace) -> int:
    """Export; bad input is a CliError (exit 2), a failed parity check exits 1."""
    from ..policy.errors import ExportError, ParityError, PolicyError
    from .errors import CliError
    if args.source.endswith('.onnx') and os.path.isfile(args.source):
        return _stamp(args)
    out = args.output or default_output(args.source)
    if not out.endswith('.onnx'):
        raise CliError(f'--output {out}: expected a file name ending in .onnx')
    if not os.path.exists(args.source):
        raise CliError(f'{args.source}: no such run folder or checkpoint file')
    _check_output(args, out)
    newest = _newest_opset()
    if args.opset > newest:
        import torch
        raise CliError(f'--opset {args.opset}: expected 17 to {newest} (the opsets torch '
                       f'{torch.__version__} exports)')
    from ..policy.export import export_policy
    stress = _stress_summary(args)
    try:
        result = export_policy(args.source, out, overwrite=args.force, samples=args.samples,
                               tol=args.tolerance, opset=args.opset, stress=stress)
    except ParityError as exc:
        print(f'symphony export: error: {exc}', file=sys.stderr)
        return 1
    except (ExportError, PolicyError) as exc:
        raise CliError(str(exc)) from None
    c = result.contract
    robot = f'robot {c.robot.name} ({len(c.robot.joint_names)} joints)' if c.robot else 'no robot'
    dt = f'dt {c.control_dt:g} s' if c.control_dt is not None else 'dt unknown'
    print(f'wrote {result.path}: obs {c.obs_dim} ({c.observation.name}), act {c.act_dim}, '
          f'{robot}, {dt}, step {c.training_steps}')
    print(f'parity: max |torch - onnxruntime| = {result.max_abs_error:.2e} on '
          f'{result.parity_samples} observations ({result.parity_source}); '
          f'{result.graph_variant} graph')
    return 0

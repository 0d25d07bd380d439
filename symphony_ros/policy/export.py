"""Export a run's deterministic actor a = tanh(S*A) to ONNX, with its contract and a parity check.

The graph has one input ``obs`` [batch, obs_dim] float32 (dynamic batch) and one output
``action`` [batch, act_dim]. The actor has no separate observation normaliser (its LayerNorm
does that job inside the graph), so the graph is the whole policy. Before the file is written,
onnxruntime must reproduce torch on 1,000 observations to within 1e-5; the file is then
written atomically (temp file, fsync, os.replace), so a reader never sees half a model.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import os
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np
import onnx
import torch
from torch import nn

from ..util.atomic import atomic_write
from ..core.checkpoint import CheckpointError, checkpoint_step, list_checkpoints, replay_path
from ..core.replay import observation_rows
from ..core.snapshot import ActorSource, load_actor
from .contract import INPUT_NAME, METADATA_KEY, OUTPUT_NAME, PolicyContract, read_contract
from .errors import ExportError, ParityError
from .graph import DEFAULT_OPSET, onnx_graph, variants_for
from .targets import resolve_target

PARITY_SAMPLES = 1000
PARITY_TOLERANCE = 1e-5


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_policy` wrote and how well onnxruntime matched torch."""

    path: str
    contract: PolicyContract
    max_abs_error: float
    parity_samples: int
    parity_source: str
    """Where the parity observations came from (replay file, or 'sampled')."""
    graph_variant: str
    """'folded' or 'direct' (see :mod:`symphony_ros.policy.graph`)."""


def weights_sha256(module: nn.Module) -> str:
    """sha256 of the state_dict: per key in sorted order, name, dtype, shape and native bytes."""
    h = hashlib.sha256()
    state = module.state_dict()
    for key in sorted(state):
        t = state[key].detach().cpu().contiguous()
        h.update(f'{key}\0{t.dtype}\0{tuple(t.shape)}\0'.encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _replay_obs(source_path: str, obs_dim: int) -> Tuple[Optional[torch.Tensor], str]:
    """Observations of the replay buffer saved next to ``source_path``, if any."""
    run_dir = os.path.dirname(os.path.abspath(source_path))
    if os.path.basename(run_dir) == 'checkpoints':
        run_dir = os.path.dirname(run_dir)
    step = checkpoint_step(source_path)
    steps = [step] if step is not None else [checkpoint_step(p) for p in
                                             reversed(list_checkpoints(run_dir))]
    for path in (replay_path(run_dir, s) for s in steps):
        if not os.path.isfile(path):
            continue
        try:
            # mmap: a full Humanoid buffer is ~1.5 GB; only the sampled rows are read.
            state = torch.load(path, map_location='cpu', weights_only=True, mmap=True)
            obs = observation_rows(state)
        except Exception as exc:  # noqa: BLE001 - a bad replay only costs real observations
            return None, f'sampled (replay {path} unreadable: {str(exc)[:80]})'
        if obs.ndim != 2 or obs.shape[1] != obs_dim or obs.shape[0] == 0:
            return None, f'sampled (replay {path} has no usable observations)'
        return obs, path
    return None, 'sampled'


def parity_observations(source_path: str, obs_dim: int, n: int = PARITY_SAMPLES,
                        seed: int = 0) -> Tuple[np.ndarray, str]:
    """Return ``n`` float32 observations: replay rows first, topped up with random ones.

    Random rows are N(0, 1) scaled per row by a log-uniform factor in [0.1, 10], so small and
    large inputs are both exercised.
    """
    rng = np.random.default_rng(seed)
    replay, where = _replay_obs(source_path, obs_dim)
    rows = []
    if replay is not None:
        take = rng.choice(replay.shape[0], size=min(n, replay.shape[0]), replace=False)
        rows.append(replay[torch.from_numpy(np.sort(take))].float().numpy())
    missing = n - sum(len(r) for r in rows)
    if missing > 0:
        scale = 10.0 ** rng.uniform(-1.0, 1.0, size=(missing, 1))
        rows.append(rng.standard_normal((missing, obs_dim)) * scale)
        if replay is not None:
            where += f' + {missing} sampled'
    return np.concatenate(rows).astype(np.float32), where


def check_parity(actor: nn.Module, model_bytes: bytes, obs: np.ndarray,
                 tol: float = PARITY_TOLERANCE, path: Optional[str] = None) -> float:
    """Max |torch - onnxruntime| over ``obs`` (batched and one by one); raise above ``tol``.

    :raises ParityError: naming the error, the tolerance and the worst observation.
    """
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(model_bytes, opts, providers=['CPUExecutionProvider'])
    with torch.no_grad():
        ref = actor.deterministic(torch.from_numpy(obs)).numpy()
    got = sess.run([OUTPUT_NAME], {INPUT_NAME: obs})[0]
    if got.shape != ref.shape:
        raise ParityError(path, 'action', f'onnxruntime returned shape {got.shape}, torch '
                          f'{ref.shape}')
    err = np.abs(got.astype(np.float64) - ref)
    # Deployment feeds one observation at a time: check that path too, on a few rows.
    for i in range(min(16, len(obs))):
        one = sess.run([OUTPUT_NAME], {INPUT_NAME: obs[i:i + 1]})[0]
        err[i] = np.maximum(err[i], np.abs(one[0].astype(np.float64) - ref[i]))
    worst = float(np.nan_to_num(err, nan=np.inf).max())
    if not worst < tol:
        row = int(np.unravel_index(np.nan_to_num(err, nan=np.inf).argmax(), err.shape)[0])
        raise ParityError(path, 'parity', f'onnxruntime differs from torch by {worst:.3g} '
                          f'(tolerance {tol:g}) at observation {row} of {len(obs)}; the file '
                          'was not written')
    return worst


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` so that readers see the old file or the new one, never half."""
    atomic_write(path, lambda f: f.write(data))


def _check_scales(src: ActorSource, spec: Optional[Dict[str, Any]]) -> None:
    """Refuse an actor trained on other observation factors than its spec has now.

    The contract takes the spec's factors of today; the deploy side would scale the inputs
    by those, not by the ones the actor learned on.
    """
    if src.obs_scales is None or not spec:
        return
    from ..robot.obs_specs import scale_mismatch
    why = scale_mismatch(src.obs_scales, spec.get('scales', {}), str(src.obs_spec))
    if why:
        raise ExportError(src.path, 'obs_scales', f'{why}: export the actor with the code it '
                          'was trained with')


def build_contract(src: ActorSource, opset: int) -> PolicyContract:
    """Build the contract of an :class:`~symphony_ros.core.snapshot.ActorSource`."""
    from .. import __version__
    actor = src.actor
    target = resolve_target(src.env, src.obs_spec, int(actor.obs_dim), int(actor.act_dim),
                            src.path, src.history)
    _check_scales(src, target.observation.spec)
    test_return = src.test_return
    if test_return is not None:
        test_return = float(test_return)
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return PolicyContract(
        env=src.env or '', obs_dim=int(actor.obs_dim), act_dim=int(actor.act_dim),
        observation=target.observation, robot=target.robot, control_dt=target.control_dt,
        algorithm='symphony', algorithm_config=src.symphony_config.to_dict(),
        train_config=dict(src.train_config), training_steps=int(src.step),
        test_return=test_return if test_return is None or np.isfinite(test_return) else None,
        weights_sha256=weights_sha256(actor), project_version=__version__, opset=opset,
        exported_at=now.isoformat(), task=_run_task(target.task, src),
        randomization=src.randomization).validate(src.path)


def _run_task(task: Optional[Dict[str, Any]], src: ActorSource) -> Optional[Dict[str, Any]]:
    """Return the env's task facts with the command ranges the run trained on (--commands).

    The deploy side clips cmd_vel to these ranges, so they must be what the policy learned.
    """
    commands = (src.train_config or {}).get('commands')
    if not task or not commands:
        return task
    from ..robot.velocity_commands import COMMAND_RANGES, parse_commands
    given = parse_commands(commands)
    ranges = dict(task.get('command_ranges') or {})
    ranges.update({k: tuple(v) for k, v in given.items() if k in COMMAND_RANGES})
    return {**task, 'command_ranges': ranges}


def _checked_stress(contract: PolicyContract, stress: Dict[str, Any], where: str
                    ) -> PolicyContract:
    """Return ``contract`` carrying ``stress``, refusing a report of other weights."""
    if stress.get('weights_sha256') != contract.weights_sha256:
        raise ExportError(where, '--stress', 'the report is of other weights (sha256 '
                          f'{str(stress.get("weights_sha256"))[:16]}..., this actor '
                          f'{contract.weights_sha256[:16]}...)')
    return dataclasses.replace(contract, stress=dict(stress))


def stamp_stress(policy_path: str, out_path: str, stress: Dict[str, Any]) -> PolicyContract:
    """Write ``policy_path`` with ``stress`` in its contract to ``out_path``; graph untouched.

    An exported policy whose run folder is gone can still carry its stress report: only
    the contract's ``stress`` entry changes, so the weights (and their sha256) stay
    bit for bit. The report must be of these weights.

    :raises PolicyError: an unreadable policy, or a report of other weights.
    """
    from .onnx_file import load_model
    model = load_model(policy_path)
    contract = read_contract({p.key: p.value for p in model.metadata_props}, policy_path)
    contract = _checked_stress(contract, stress, policy_path)
    for entry in model.metadata_props:
        if entry.key == METADATA_KEY:
            entry.value = contract.to_json()
    atomic_write_bytes(out_path, model.SerializeToString())
    return contract


def export_policy(source: Union[str, ActorSource], out_path: str, *, overwrite: bool = False,
                  samples: int = PARITY_SAMPLES, tol: float = PARITY_TOLERANCE,
                  opset: int = DEFAULT_OPSET, seed: int = 0,
                  stress: Optional[Dict[str, Any]] = None,
                  observations: Optional[np.ndarray] = None) -> ExportResult:
    """Export the actor of ``source`` (run folder, .pt file, or ActorSource) to ``out_path``.

    :param overwrite: replace an existing file (atomically); otherwise refuse.
    :param stress: a stress report's summary (`symphony_ros.stress.report.contract_summary`)
        for the contract; its weights must be these (an earlier export of the same actor).
    :param observations: the parity check's observations, ones the actor met (a source
        without a replay buffer has them elsewhere); None: the run's replay, else sampled.
    :raises ExportError: unreadable source, unknown spec/robot, dims disagreeing, or an
        existing ``out_path`` without ``overwrite``.
    :raises ParityError: onnxruntime and torch disagree by ``tol`` or more (nothing written).
    """
    if os.path.isdir(out_path):
        raise ExportError(out_path, None, 'is a folder; expected a .onnx file path')
    if os.path.exists(out_path) and not overwrite:
        raise ExportError(out_path, None, 'exists; pass overwrite=True (symphony export '
                          '--force) to replace it')
    if isinstance(source, ActorSource):
        src = source
    else:
        try:
            src = load_actor(str(source))
        except (CheckpointError, ValueError, OSError) as exc:
            raise ExportError(None, None, str(exc)) from None
    actor = src.actor.to('cpu').float().eval()
    bad = [n for n, v in actor.state_dict().items() if not bool(torch.isfinite(v).all())]
    if bad:
        raise ExportError(src.path, None, f'the actor weights hold NaN or Inf '
                          f'({", ".join(bad[:3])}): the training run went numerically wrong '
                          'before this was saved; export an earlier checkpoint')
    opset = int(opset)
    contract = build_contract(src, opset)
    if stress is not None:
        contract = _checked_stress(contract, stress, src.path)
    if observations is not None:
        obs, where = np.asarray(observations, dtype=np.float32), 'given observations'
    else:
        obs, where = parity_observations(src.path, contract.obs_dim, samples, seed)
    variants = variants_for(actor)
    for variant in variants:
        model = onnx_graph(actor, opset, variant)
        entry = model.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, contract.to_json()
        try:
            onnx.checker.check_model(model, full_check=True)
        except Exception as exc:  # noqa: BLE001 - onnx raises several types
            raise ExportError(src.path, 'graph', f'onnx checker rejected the export: '
                              f'{exc}') from None
        data = model.SerializeToString()
        try:
            err = check_parity(actor, data, obs, tol, src.path)
            break
        except ParityError:
            if variant == variants[-1]:
                raise
    atomic_write_bytes(out_path, data)
    return ExportResult(out_path, contract, err, len(obs), where, variant)


__all__ = ['DEFAULT_OPSET', 'ExportResult', 'PARITY_SAMPLES', 'PARITY_TOLERANCE',
           'atomic_write_bytes', 'build_contract', 'check_parity', 'export_policy',
           'parity_observations', 'stamp_stress', 'weights_sha256']

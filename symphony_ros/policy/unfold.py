"""An exported policy's actor back as a torch ``Actor``: the inverse of the export's graph.

``--init-from POLICY.onnx`` trains on from a shipped file whose checkpoint is gone. The
``direct`` graph holds the actor's state_dict under ``actor.``; the ``folded`` one lost two
things that never reach the action: ReSine's sigma (divided into the Linears around it) and
the rows of B, the swaddling exponent. Sigma is restored as sigmoid(0) = 0.5 with both
Linears rescaled to match, and the B rows keep a fresh actor's initialisation: training
learns both on. The rebuilt actor must reproduce the file's actions (onnxruntime) within the
export's parity tolerance before it is returned, so a graph this code misreads is refused.
"""

from __future__ import annotations

import hashlib
from typing import Dict

import numpy as np
import onnx
from onnx import numpy_helper
import torch

from ..core.config import SymphonyConfig
from ..core.networks import MIRROR_BUFFERS, Actor
from ..core.snapshot import ActorSource
from .contract import read_contract
from .errors import PolicyFileError
from .onnx_file import parse_model, read_policy_bytes
from .runtime import OnnxPolicy

PARITY_TOLERANCE = 1e-4
"""Largest |action difference| accepted between the rebuilt actor and the file.

Ten times the export's own check: a file is read on machines other than the one that wrote
it, whose torch and onnxruntime kernels round differently (by about 1e-5 on this actor's
outputs), while a graph misread (a wrong sigma, a transposed or missing layer) moves the
actions by 1e-2 or more.
"""
PARITY_SAMPLES = 256
FOLDED_SIGMA = 0.5
"""sigmoid(0): the ReSine scale the unfolded actor starts from (s = 0)."""
FOLDED_NAMES = frozenset(f'{layer}.{kind}' for layer in ('l0', 'norm', 'l2', 'head')
                         for kind in ('weight', 'bias'))


def _direct(weights: Dict[str, np.ndarray]) -> Dict[str, torch.Tensor]:
    return {k[len('actor.'):]: torch.from_numpy(v.copy()) for k, v in weights.items()
            if k.startswith('actor.')}


def _unfolded(weights: Dict[str, np.ndarray], fresh: Actor) -> Dict[str, torch.Tensor]:
    """State dict of an actor acting as the folded graph ``weights`` (see the module doc)."""
    w = {k: torch.from_numpy(v.copy()) for k, v in weights.items()}
    k, sigma = 2 * fresh.act_dim, FOLDED_SIGMA
    state = {name: t.clone() for name, t in fresh.state_dict().items()}
    state.update({'net.0.weight': w['l0.weight'], 'net.0.bias': w['l0.bias'],
                  'net.1.weight': w['norm.weight'], 'net.1.bias': w['norm.bias'],
                  'net.2.weight': w['l2.weight'] * sigma, 'net.2.bias': w['l2.bias'] * sigma,
                  'net.3.s': torch.zeros_like(state['net.3.s'])})
    state['net.4.weight'][:k] = w['head.weight'] * (2.0 / sigma)
    state['net.4.bias'][:k] = w['head.bias'] * 2.0
    state.update({n: w[n] for n in MIRROR_BUFFERS if n in w})   # a symmetric actor's maps
    return state


def _check_parity(actor: Actor, path: str, model: onnx.ModelProto) -> None:
    """Refuse an actor that does not act as the file does on random observations."""
    policy = OnnxPolicy(path, model=model)
    rng = np.random.default_rng(0)
    obs = rng.standard_normal((PARITY_SAMPLES, actor.obs_dim)).astype(np.float32)
    with torch.no_grad():
        mine = actor.deterministic(torch.from_numpy(obs)).numpy()
    err = float(np.abs(mine - policy.act_batch(obs)).max())
    if not err <= PARITY_TOLERANCE:
        raise PolicyFileError(path, 'graph', f'the actor rebuilt from its weights differs '
                              f'from the file by {err:.2e} (tolerance {PARITY_TOLERANCE:g}): '
                              'not a graph `symphony export` wrote')


def actor_from_policy(path: str) -> ActorSource:
    """Rebuild the Symphony actor of exported policy ``path``, with its contract's provenance.

    :raises PolicyFileError: unreadable file, weights of neither graph variant, or an actor
        that does not reproduce the file's actions.
    :raises ContractError: missing or malformed contract.
    """
    data = read_policy_bytes(path)
    model = parse_model(data, path)
    contract = read_contract({p.key: p.value for p in model.metadata_props}, path)
    weights = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    cfg = SymphonyConfig.from_dict(contract.algorithm_config)
    actor = Actor(contract.obs_dim, contract.act_dim, cfg.hidden_dim, cfg.noise_clip)
    if any(k.startswith('actor.') for k in weights):
        state = _direct(weights)
    elif FOLDED_NAMES <= set(weights):
        state = _unfolded(weights, actor)
    else:
        raise PolicyFileError(path, 'graph', f'weights {sorted(weights)[:6]} are neither a '
                              'direct nor a folded Symphony actor graph')
    try:
        actor.load_state_dict(state)
    except RuntimeError as exc:
        raise PolicyFileError(path, 'graph', f'weights do not fit a hidden_dim '
                              f'{cfg.hidden_dim} actor ({str(exc).splitlines()[0][:160]})'
                              ) from None
    actor.eval()
    _check_parity(actor, path, model)
    return ActorSource(actor, path, cfg, dict(contract.train_config), contract.training_steps,
                       contract.test_return, contract.env,
                       contract.train_config.get('obs_spec') or contract.observation.name,
                       hashlib.sha256(data).hexdigest(),
                       history=contract.observation.history)


__all__ = ['actor_from_policy']

"""The exported computation: the actor's deterministic action as an ONNX graph.

Two equivalent forms of a = tanh(|S| * A):

* ``folded`` (tried first, for the Symphony actor layout): the B rows of the last layer never
  reach the action and are dropped; ReSine's 1/sigma is folded into the Linear before it and
  sigma into the Linear after it, since y = sigma*sin(u)*sigmoid(1.5*sin(u)) with
  u = x/sigma. Five fewer graph nodes; each fold is a rescaling of weights, so results move
  by float32 rounding only.
* ``direct``: ``actor.deterministic`` traced as is.

Export keeps whichever passes the torch/onnxruntime parity check, folded first.
"""

from __future__ import annotations

import io
import warnings
from typing import Tuple

import onnx
import torch
from torch import nn

from ..core.networks import MIRROR_BUFFERS, FeedForward
from .contract import INPUT_NAME, METADATA_KEY, OUTPUT_NAME
from .errors import ExportError

DEFAULT_OPSET = 17
VARIANTS = ('folded', 'direct')


class _Direct(nn.Module):
    """``actor.deterministic`` as is."""

    def __init__(self, actor: nn.Module) -> None:
        super().__init__()
        self.actor = actor

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.actor.deterministic(obs)


class _Folded(nn.Module):
    """Same function, sigma folded into the neighbouring Linears, the B rows dropped."""

    def __init__(self, actor: nn.Module) -> None:
        super().__init__()
        net, k = actor.net, 2 * actor.act_dim
        self.act_dim = actor.act_dim
        self.l0, self.norm = net.linear_in, net.norm
        hidden, out = net.linear_hidden, net.linear_out
        sigma = torch.sigmoid(net.resine.s.detach())
        self.l2 = nn.Linear(hidden.in_features, hidden.out_features)
        self.head = nn.Linear(out.in_features, k)
        with torch.no_grad():
            self.l2.weight.copy_(hidden.weight / sigma[:, None])
            self.l2.bias.copy_(hidden.bias / sigma)
            # The /2 of ASB = tanh(out/2) is exact to fold: halving is exact in binary floats.
            self.head.weight.copy_(out.weight[:k] * sigma[None, :] / 2.0)
            self.head.bias.copy_(out.bias[:k] / 2.0)
        self.symmetric = bool(getattr(actor, 'symmetric', False))
        if self.symmetric:
            for name in MIRROR_BUFFERS:
                self.register_buffer(name, getattr(actor, name).detach().clone())

    @staticmethod
    def fits(actor: nn.Module) -> bool:
        """Whether ``actor.net`` is the Symphony FeedForward with 3 x act_dim outputs."""
        net = getattr(actor, 'net', None)
        return (isinstance(net, FeedForward)
                and net.linear_out.out_features == 3 * actor.act_dim)

    def _heads(self, obs: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        s = torch.sin(self.l2(self.norm(self.l0(obs))))
        y = s * torch.sigmoid(1.5 * s)
        a, strength = torch.tanh(self.head(y)).split(self.act_dim, dim=1)
        return a, strength.abs()

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        a, strength = self._heads(obs)
        if self.symmetric:   # Actor.asb's mean with the mirrored answer, B rows dropped
            ma, ms = self._heads(obs[:, self.mirror_obs_index] * self.mirror_obs_sign)
            index = self.mirror_act_index
            a = 0.5 * (a + ma[:, index] * self.mirror_act_sign)
            strength = 0.5 * (strength + ms[:, index])
        return torch.tanh(strength * a)


def variants_for(actor: nn.Module) -> tuple:
    """Graph variants to try for ``actor``, preferred first."""
    return VARIANTS if _Folded.fits(actor) else ('direct',)


def onnx_graph(actor: nn.Module, opset: int = DEFAULT_OPSET, variant: str = 'direct'
               ) -> onnx.ModelProto:
    """Trace the deterministic action of ``actor`` into an ONNX model with a dynamic batch.

    :raises ExportError: opset below 17, or a variant that does not fit the actor.
    """
    if opset < 17:
        raise ExportError(None, 'opset', f'expected >= 17 (LayerNormalization), got {opset}')
    if variant not in variants_for(actor):
        raise ExportError(None, 'variant', f'{variant!r} does not fit this actor; expected one '
                          f'of {variants_for(actor)}')
    obs_dim, act_dim = int(actor.obs_dim), int(actor.act_dim)
    module = _Folded(actor) if variant == 'folded' else _Direct(actor)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter warns that torch.export is the new default; the new one
        # needs onnxscript, which this project does not depend on.
        warnings.simplefilter('ignore')
        try:
            torch.onnx.export(module.eval(), (torch.zeros(1, obs_dim),), buf,
                              input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                              dynamic_axes={INPUT_NAME: {0: 'batch'}, OUTPUT_NAME: {0: 'batch'}},
                              opset_version=opset, do_constant_folding=True, dynamo=False)
        except Exception as exc:  # noqa: BLE001 - the exporter raises many types
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ExportError(None, 'graph', f'torch.onnx.export failed at opset {opset}: '
                              f'{msg[:300]}') from None
    model = onnx.load_model_from_string(buf.getvalue())
    # The tracer leaves the action width symbolic; state it so the graph carries both dims.
    model.graph.output[0].type.tensor_type.shape.dim[1].dim_value = act_dim
    model.producer_name = 'symphony_ros'
    model.doc_string = (f'Symphony deterministic actor a = tanh(|S|*A) ({variant} graph); '
                        f'contract in metadata {METADATA_KEY}')
    return model


__all__ = ['DEFAULT_OPSET', 'VARIANTS', 'onnx_graph', 'variants_for']

"""AdamW without bias correction, as Symphony uses it."""

from __future__ import annotations

from typing import Dict, Iterable, List, Optional

import torch


def fused_available(params: List[torch.Tensor]) -> bool:
    """Whether torch's fused AdamW kernel takes these tensors (torch >= 2.4, CPU or CUDA).

    Otherwise the same formula runs as foreach kernels.
    """
    if not hasattr(torch, '_fused_adamw_') or not params:
        return False
    if torch.torch_version.TorchVersion(torch.__version__) < (2, 4):
        return False
    devices = {p.device.type for p in params}
    dtypes = {p.dtype for p in params}
    return (len(devices) == 1 and devices <= {'cpu', 'cuda'}
            and len(dtypes) == 1 and dtypes <= {torch.float32, torch.float64})


class SymphonyAdamW:
    """m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2; p -= lr*(m/(sqrt(v)+eps) + wd*p).

    No bias correction: the first updates are deliberately small (a built-in warm-up).
    Works on lists of tensors with torch's foreach kernels.
    """

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float, betas=(0.618, 0.995),
                 weight_decay: float = 0.01, eps: float = 1e-8) -> None:
        self.params: List[torch.nn.Parameter] = [p for p in params if p.requires_grad]
        self.lr, self.wd, self.eps = lr, weight_decay, eps
        self.beta1, self.beta2 = betas
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self._steps: Optional[List[torch.Tensor]] = None
        if fused_available(self.params):
            self._steps = [torch.tensor(float(2 ** 30), device=p.device) for p in self.params]

    def zero_grad(self) -> None:
        """Drop the gradients."""
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """Apply one update from the current gradients (missing ones count as zero)."""
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]
        if self._steps is not None:
            # torch's fused AdamW kernel: one pass over each tensor instead of seven.
            # Its bias corrections 1 - beta^t are exactly 1 at t = 2^30 (beta^t underflows
            # to 0, and t + 1 rounds back to 2^30 in float32), so this is the formula above.
            torch._fused_adamw_(self.params, grads, self.m, self.v, [], self._steps,
                                lr=self.lr, beta1=self.beta1, beta2=self.beta2,
                                weight_decay=self.wd, eps=self.eps, amsgrad=False,
                                maximize=False)
            return
        torch._foreach_mul_(self.m, self.beta1)
        torch._foreach_add_(self.m, grads, alpha=1.0 - self.beta1)
        torch._foreach_mul_(self.v, self.beta2)
        torch._foreach_addcmul_(self.v, grads, grads, value=1.0 - self.beta2)
        denom = torch._foreach_sqrt(self.v)
        torch._foreach_add_(denom, self.eps)
        # Decoupled decay uses the pre-update parameters, as in the formula.
        torch._foreach_mul_(self.params, 1.0 - self.lr * self.wd)
        torch._foreach_addcdiv_(self.params, self.m, denom, value=-self.lr)

    def state_dict(self) -> Dict[str, object]:
        """Return the moments and hyper-parameters."""
        return {'m': [t.clone() for t in self.m], 'v': [t.clone() for t in self.v],
                'lr': self.lr, 'wd': self.wd, 'eps': self.eps,
                'betas': [self.beta1, self.beta2]}

    def load_state_dict(self, state: Dict[str, object]) -> None:
        """Restore moments saved by :meth:`state_dict`; shapes must match."""
        for name in ('m', 'v'):
            saved = state[name]
            if len(saved) != len(self.params):
                raise ValueError(f'optimizer state {name!r} has {len(saved)} tensors, '
                                 f'expected {len(self.params)}')
            for dst, src in zip(getattr(self, name), saved):
                if dst.shape != src.shape:
                    raise ValueError(f'optimizer state {name!r} shape {tuple(src.shape)} '
                                     f'!= parameter shape {tuple(dst.shape)}')
                dst.copy_(src)

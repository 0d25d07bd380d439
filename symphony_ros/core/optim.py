"""AdamW without bias correction, as Symphony uses it."""

from __future__ import annotations

from typing import Dict, Iterable, List

import torch


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

    def zero_grad(self) -> None:
        """Drop the gradients."""
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """Apply one update from the current gradients (missing ones count as zero)."""
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]
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

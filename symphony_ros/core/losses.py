"""Symphony's loss terms, one function per equation of the paper (arXiv 2512.10477)."""

from __future__ import annotations

import torch

SWADDLE_EPS = 1e-3
"""S and B are clamped to [eps, 1 - eps] inside the swaddling term only (Omega diverges at 1)."""


def rehse(e: torch.Tensor) -> torch.Tensor:
    """Rectified Huber symmetric error: mean(e * tanh(e / 2))."""
    return (e * torch.tanh(e / 2.0)).mean()


def rehae(e: torch.Tensor) -> torch.Tensor:
    """Rectified Huber asymmetric error: mean(|e| * tanh(e / 2))."""
    return (e.abs() * torch.tanh(e / 2.0)).mean()


def omega(x: torch.Tensor) -> torch.Tensor:
    """Omega(x) = ln((1 + x) / (1 - x)), the barrier that keeps x inside (-1, 1)."""
    return torch.log((1.0 + x) / (1.0 - x))


def swaddling(s: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Swaddling regulariser of action strength S with exponent B.

    Omega(S^(1/B.detach())) + B*S*ln(S) + Omega(B^2), averaged over batch and action dims.
    For small B the first term vanishes and B*S*ln(S) is minimal at S = 1/e.
    """
    s = s.clamp(SWADDLE_EPS, 1.0 - SWADDLE_EPS)
    b = b.clamp(SWADDLE_EPS, 1.0 - SWADDLE_EPS)
    return (omega(s ** (1.0 / b.detach())) + b * s * torch.log(s) + omega(b * b)).mean()


def advantage_baseline(m: torch.Tensor, q_next: torch.Tensor, alpha: float) -> torch.Tensor:
    """Temporal advantage baseline Q_T = alpha*m + (1-alpha)*Q'* (per sample)."""
    return alpha * m + (1.0 - alpha) * q_next


def normalised_advantage(q_next: torch.Tensor, q_t: torch.Tensor, floor: float) -> torch.Tensor:
    """(Q' - Q_T) / |Q_T|, with |Q_T| floored.

    The paper divides by |Q_T| unguarded. At the first update m = 0, so Q_T = (1-alpha) Q'
    and the ratio is exactly +-alpha/(1-alpha) = +-1.618; what explodes is its gradient
    with respect to Q', 1/|Q_T|, because Q' is near zero then. Later the ratio itself
    explodes for samples whose Q_T is near zero. Either would poison Adam's second moments
    for thousands of updates. Rewards are scaled to mean |r| = 1, so a floor of 1.0 (one
    typical reward) leaves every value past the first updates untouched while bounding the
    gradient by 1 per unit of advantage.
    """
    return (q_next - q_t) / q_t.abs().clamp_min(floor)

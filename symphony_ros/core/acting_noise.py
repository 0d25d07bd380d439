"""Coloured acting noise: the limited noise's marginal, correlated across an episode's steps.

White noise, drawn afresh every control step, is what the paper acts with. Behind a PD
robot's joints it is low-passed before it moves a limb, so it shakes the robot in place and
seldom tries a step. Noise with a 1/f^beta power spectrum (pink at beta 1, red at 2) keeps
the same per-step distribution and wanders for many steps in one direction, which explores
whole movements (Eberhard et al., "Pink Noise Is All You Need", ICLR 2023: off-policy
continuous control explored better with it than with white or Ornstein-Uhlenbeck noise).
The loss's next-action noise stays white: it smooths the critic's target, it does not explore.
"""

from __future__ import annotations

import math
from typing import Optional

import torch


def coloured_gaussian(beta: float, steps: int, dims: int) -> torch.Tensor:
    """Return [steps, dims] Gaussian noise of power spectrum 1/f^beta, unit variance per step.

    Spectral synthesis: complex Gaussian amplitudes scaled by f^(-beta/2) (the lowest
    frequency, 1/steps, also stands for f = 0), inverse FFT, divided by the exact standard
    deviation the scaling gives each step. beta 0 is white noise.
    """
    if steps < 2 or dims < 1:
        raise ValueError(f'coloured noise needs at least 2 steps and 1 dimension, '
                         f'got {steps} x {dims}')
    f = torch.fft.rfftfreq(steps, dtype=torch.float64)
    f[0] = f[1]
    scale = f.pow(-beta / 2.0)
    bins = f.numel()
    re = torch.randn(dims, bins, dtype=torch.float64)
    im = torch.randn(dims, bins, dtype=torch.float64)
    im[:, 0] = 0.0                      # the mean is real
    real_bins = [0]
    if steps % 2 == 0:
        im[:, -1] = 0.0                 # so is the Nyquist bin of an even length
        real_bins.append(bins - 1)
    x = torch.fft.irfft(torch.complex(re, im) * scale, n=steps)
    # Each complex bin adds 4 s^2 to a step's variance (itself and its conjugate, two
    # Gaussian parts), each real bin s^2; irfft divides by steps.
    power = 4.0 * scale.square().sum() - 3.0 * scale[real_bins].square().sum()
    return (x / (math.sqrt(float(power)) / steps)).T.to(torch.float32).contiguous()


class EpisodeNoise:
    """An episode's acting noise, drawn whole at its start: :meth:`at` step t's unit Gaussian.

    Drawn from torch's global generator, which the trainer seeds and checkpoints: a resumed
    run starts a new episode, and so draws the same sequence an uninterrupted one would.
    """

    def __init__(self, beta: float, dims: int, steps: int) -> None:
        """Noise of exponent ``beta`` for ``dims`` actions over episodes of ``steps`` steps."""
        self.beta, self.dims, self.steps = float(beta), int(dims), max(int(steps), 2)
        self.sequence: Optional[torch.Tensor] = None

    def reset(self) -> None:
        """Draw the next episode's sequence."""
        self.sequence = coloured_gaussian(self.beta, self.steps, self.dims)

    def at(self, step: int) -> torch.Tensor:
        """Return the [1, dims] noise of 0-based episode ``step`` (past the end: from the top)."""
        if self.sequence is None:
            self.reset()
        return self.sequence[step % self.steps].unsqueeze(0)


def episode_noise(beta: float, dims: int, steps: int) -> Optional[EpisodeNoise]:
    """Return the acting noise of exponent ``beta`` (--act-noise-color), or None for white.

    None keeps white noise on the actor's own draw, as the paper acts, bit for bit.
    """
    return EpisodeNoise(beta, dims, steps) if beta else None


__all__ = ['EpisodeNoise', 'coloured_gaussian', 'episode_noise']

"""The output invariants every tick must keep, stated once so tests and tools can check them."""

from __future__ import annotations

from typing import List

import numpy as np

TOLERANCE = 1e-9
"""N*m of floating-point slack on the bounds."""


def output_violations(previous: np.ndarray, output: np.ndarray, limit: np.ndarray,
                      max_step: np.ndarray) -> List[str]:
    """Every way ``output`` breaks the invariants given the previous output; [] if none.

    1. every value finite; 2. |output| <= limit; 3. |output - previous| <= max_step, where
    max_step = max_torque_rate x min(elapsed, one timer period).
    """
    problems = []
    if not np.isfinite(output).all():
        problems.append(f'non-finite output {output.tolist()}')
        return problems
    over = np.abs(output) - limit
    if (over > TOLERANCE).any():
        problems.append(f'output beyond limit by {over.max():.3g} N*m')
    jump = np.abs(output - previous) - max_step
    if (jump > TOLERANCE).any():
        problems.append(f'output step beyond the rate limit by {jump.max():.3g} N*m')
    return problems

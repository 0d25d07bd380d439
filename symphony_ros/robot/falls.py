"""The fall rule of a deployed (or simulated) robot: base height and tilt from its state."""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

from .rotations import tilt_angle


def has_fallen(z: float, orientation_wxyz: Sequence[float], healthy_z: Tuple[float, float],
               max_tilt: Optional[float]) -> bool:
    """Return True for a base height outside ``healthy_z`` or a tilt beyond ``max_tilt``.

    ``max_tilt`` None (a robot file without one): the height alone decides.
    """
    if not healthy_z[0] <= z <= healthy_z[1]:
        return True
    return max_tilt is not None and tilt_angle(orientation_wxyz) > max_tilt


__all__ = ['has_fallen']

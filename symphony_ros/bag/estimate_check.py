"""A recorded odometry estimate against the recorded truth: how far the leg odometry was off.

A sim run with ``estimator:=legs record:=true`` records both the sim's exact ``/odom`` and
the estimate the policy read (``/state_estimator/odom``); this compares them at equal
stamps. On a robot there is no truth in the bag (unless a motion-capture system publishes
one on ``odom``), and the section is left out.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from ..robot.msg_fields import odometry_fields, stamp_ns

ROLES = ('odom', 'estimator_odom')
"""The two recorded odometries compared: the truth, the estimate."""


def _by_stamp(items: List[Tuple[int, Any]]) -> Dict[int, Dict[str, np.ndarray]]:
    return {stamp_ns(msg.header): odometry_fields(msg) for _, msg in items}


def estimate_error(msgs: Mapping[str, List[Tuple[int, Any]]], names: Mapping[str, str],
                   present: Mapping[str, str]) -> Optional[Dict[str, Any]]:
    """Return the estimate's RMS error against the truth at matching stamps (None: not both).

    ``msgs``: the bag's messages per topic (`Bag.messages`), read once for the evaluation.

    ``lin_vel_rms``: per axis of the base frame (m/s); ``lin_vel_mean``: the mean error per
    axis, the part that averaging over a stride keeps (what a velocity-tracking policy acting
    on the estimate walks off by); ``height_rms`` (m); ``matched``: the stamps both have.
    """
    if not all(role in present for role in ROLES):
        return None
    truth, estimate = (_by_stamp(msgs[names[role]]) for role in ROLES)
    stamps = sorted(set(truth) & set(estimate))
    if not stamps:
        return {'matched': 0, 'lin_vel_rms': None, 'lin_vel_mean': None, 'height_rms': None}
    velocity = np.array([estimate[s]['base_lin_vel'] - truth[s]['base_lin_vel'] for s in stamps])
    height = np.array([estimate[s]['base_position'][2] - truth[s]['base_position'][2]
                       for s in stamps])
    return {'matched': len(stamps), 'topics': [names[role] for role in ROLES],
            'lin_vel_rms': np.sqrt(np.mean(velocity ** 2, axis=0)).tolist(),
            'lin_vel_mean': np.mean(velocity, axis=0).tolist(),
            'height_rms': float(np.sqrt(np.mean(height ** 2)))}


def estimate_lines(check: Optional[Dict[str, Any]]) -> List[str]:
    """Return the report's lines on the estimate (none without one)."""
    if not check:
        return []
    if not check['matched']:
        return ['## Odometry estimate', '', 'No stamp of the estimate matches one of the truth.',
                '']
    x, y, z = check['lin_vel_rms']
    bx, by, bz = check['lin_vel_mean']
    estimate, truth = check['topics'][1], check['topics'][0]
    return ['## Odometry estimate', '',
            f'{estimate} against {truth} at {check["matched"]} matching stamps: base velocity '
            f'RMS error {x:.3f} / {y:.3f} / {z:.3f} m/s (x / y / z, base frame), of which a '
            f'mean (bias) of {bx:+.3f} / {by:+.3f} / {bz:+.3f} m/s; height '
            f'{1000 * check["height_rms"]:.1f} mm.', '']


__all__ = ['ROLES', 'estimate_error', 'estimate_lines']

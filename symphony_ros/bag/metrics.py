"""Figures of a recording beyond the return: faults, saturation, jitter, tilt, latency, misses.

Each function takes the :class:`~.timeline.Timeline` (and episodes where it splits by them)
and returns plain JSON-ready values.
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..robot.rotations import tilt_angle
from .episodes import Episode
from .timeline import Command, Timeline

SATURATION_TOLERANCE = 1e-6
"""Relative: a torque within this of its limit counts as saturated."""
_FAULT = re.compile(r'^FAULT\s+([^:]+):\s*(.*)$')


def _s(tl: Timeline, log_ns: int) -> float:
    """Seconds since the start of the recording."""
    return (log_ns - tl.start_ns) * 1e-9


def percentiles(values: Sequence[float]) -> Dict[str, Optional[float]]:
    """p50, p99, max and count of ``values`` (None when there are none)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return {'p50': None, 'p99': None, 'max': None, 'count': 0}
    return {'p50': float(np.percentile(x, 50)), 'p99': float(np.percentile(x, 99)),
            'max': float(x.max()), 'count': int(x.size)}


def episode_of(episodes: List[Episode], tl: Timeline, log_ns: int) -> Optional[int]:
    """Index of the episode running at receive time ``log_ns`` (None: between episodes)."""
    for ep in episodes:
        if tl.states[ep.first].log_ns <= log_ns <= tl.states[ep.last].log_ns:
            return ep.index
    return None


def watchdog_faults(tl: Timeline, episodes: List[Episode]) -> List[Dict[str, object]]:
    """Each entry into FAULT: time, cause, detail and the episode it hit."""
    out, previous = [], ''
    for log_ns, text in tl.watchdog:
        m = _FAULT.match(text)
        if m and not previous.startswith('FAULT'):
            out.append({'time_s': _s(tl, log_ns), 'cause': m.group(1).strip(),
                        'detail': m.group(2).strip(),
                        'episode': episode_of(episodes, tl, log_ns)})
        previous = text
    return out


def watchdog_time_shares(tl: Timeline) -> Dict[str, float]:
    """Share of the recording's time spent in each watchdog state (by its first word)."""
    if not tl.watchdog:
        return {}
    end = max([tl.watchdog[-1][0]] + [s.log_ns for s in tl.states[-1:]])
    spans: Dict[str, float] = {}
    for (log_ns, text), nxt in zip(tl.watchdog, tl.watchdog[1:] + [(end, '')]):
        key = text.split()[0] if text.split() else '?'
        spans[key] = spans.get(key, 0.0) + max(0, nxt[0] - log_ns)
    total = sum(spans.values()) or 1.0
    return {k: v / total for k, v in spans.items()}


def saturation(torques: np.ndarray, limits: np.ndarray) -> Dict[str, object]:
    """Share of joint samples at their effort limit: overall and per joint."""
    if len(torques) == 0:
        return {'share': None, 'per_joint': None}
    hit = np.abs(torques) >= limits * (1 - SATURATION_TOLERANCE)
    return {'share': float(hit.mean()), 'per_joint': hit.mean(axis=0).tolist()}


def jitter(actions: np.ndarray, breaks: Sequence[int] = ()) -> Optional[float]:
    """Mean |a_t - a_(t-1)| over joints and ticks, not across ``breaks`` (row indices)."""
    if len(actions) < 2:
        return None
    d = np.abs(np.diff(actions, axis=0))
    keep = np.ones(len(d), dtype=bool)
    for b in breaks:
        if 0 < b <= len(d):
            keep[b - 1] = False
    return float(d[keep].mean()) if keep.any() else None


def command_step(commands: np.ndarray, spans: np.ndarray,
                 breaks: Sequence[int] = ()) -> Optional[float]:
    """RMS change of the motor commands per control step, as a share of each one's range.

    ``commands`` [T, n] are what the motors were told (a torque robot's ctrl, a PD robot's
    joint targets), ``spans`` [n] their ranges; steps across ``breaks`` (row indices where
    an episode begins) do not count. The same figure as ``symphony stress``'s command step.
    """
    if len(commands) < 2:
        return None
    d = np.diff(np.asarray(commands, dtype=np.float64), axis=0)
    keep = np.ones(len(d), dtype=bool)
    for b in breaks:
        if 0 < b <= len(d):
            keep[b - 1] = False
    if not keep.any():
        return None
    return step_rms(((d[keep] / step_divisors(spans)) ** 2).sum(axis=0), int(keep.sum()))


def step_rms(squares: np.ndarray, steps: int) -> Optional[float]:
    """RMS step from per-motor sums of squared steps over ``steps``, over motors that moved.

    A motor whose command never moved (a PD robot's held joint) does not count: it would
    dilute the figure by the share of motors a policy does not drive.
    """
    if not steps:
        return None
    moved = squares > 0
    return float(np.sqrt(squares[moved].mean() / steps)) if moved.any() else 0.0


def step_divisors(spans: np.ndarray) -> np.ndarray:
    """Divisors that make a command step a share of its range; a zero range counts no step.

    A motor without a range (span 0) gets an infinite divisor, so its steps add nothing
    rather than dividing by zero.
    """
    spans = np.asarray(spans, dtype=np.float64)
    return np.where(spans > 0, spans, np.inf)


def command_breaks(commands: List[Command], episodes: List[Episode]) -> List[int]:
    """Row indices of ``commands`` where a new episode's commands begin."""
    starts = {ep.first for ep in episodes}
    return [k for k, c in enumerate(commands) if c.state_index in starts and k > 0]


def max_tilt(tl: Timeline, first: int = 0, last: Optional[int] = None) -> Optional[float]:
    """Largest base tilt (rad) over states ``first..last``: odometry, else IMU orientation."""
    last = len(tl.states) - 1 if last is None else last
    tilts = []
    for s in tl.states[first:last + 1]:
        q = s.state.base_orientation if s.has_odom else (
            s.state.imu_orientation if s.has_imu else None)
        if q is not None:
            tilts.append(tilt_angle(q))
    return float(max(tilts)) if tilts else None


def latency(tl: Timeline) -> Dict[str, object]:
    """State-to-command latency in ms.

    From the header stamps when the policy stamps commands with its own clock (timer mode:
    command stamp minus the answered state's stamp); in lockstep a command carries its
    state's stamp, so the recorder's receive times measure it instead.
    """
    by_stamp, by_receipt = [], []
    for c in tl.commands:
        if c.state_index is not None:
            by_stamp.append((c.stamp_ns - tl.states[c.state_index].stamp_ns) * 1e-6)
        if c.state_log_ns is not None:
            by_receipt.append((c.log_ns - c.state_log_ns) * 1e-6)
    if by_stamp and any(x > 0 for x in by_stamp):
        return dict(percentiles(by_stamp), source='header stamps')
    return dict(percentiles(by_receipt), source='receive times')


def missed_ticks(tl: Timeline, episodes: List[Episode]) -> Dict[str, object]:
    """Control periods without a command, from the command stamps, inside episodes."""
    dt = tl.robot.control_dt
    spans = [(tl.states[e.first].stamp_ns, tl.states[e.last].stamp_ns) for e in episodes]
    stamps = sorted({c.stamp_ns for c in tl.commands})
    missed, checked = 0, 0
    for a, b in zip(stamps, stamps[1:]):
        if spans and not any(lo <= a and b <= hi for lo, hi in spans):
            continue
        checked += 1
        missed += max(0, int(round((b - a) * 1e-9 / dt)) - 1)
    return {'missed': missed, 'intervals': checked,
            'share': missed / (missed + checked) if checked else None}


def diagnostics_summary(tl: Timeline) -> Dict[str, Dict[str, str]]:
    """Return the last key/values each diagnostics status reported (policy_node's timing)."""
    out: Dict[str, Dict[str, str]] = {}
    for _, name, values in tl.diagnostics:
        out[name] = values
    return out

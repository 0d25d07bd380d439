"""Which draws fell a run's training episodes: its randomisation log, read as survival times.

Under randomisation nearly every training episode ends in a fall, so the share of episodes
that fell says nothing; the time an episode stayed up does. Each knob's episodes are split
into bins (by value for the action delay, into thirds by value for the rest) and each bin's
falls are counted against its seconds up: seconds up per fall, the mean time to a fall if
the hazard is constant, to which an episode cut short without a fall (censored) rightly adds
its time and no fall.
Whether a knob's bins differ by more than chance is a chi-square test of their fall counts
against their seconds up (`confidence.rates_differ_p`); the knobs are listed by it, so the
first is what fells the policy most surely in training. Kicks are judged one by one as
``symphony stress`` judges them (`kicks.outcomes`). Episodes drawn at the hard corner (a
ranges file's ``hard_share``) are counted apart: their knobs sit at one end, and binned with
the rest they would make every knob's hard third look like its cause.
"""

from __future__ import annotations

import json
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..robot.randomize import episode_step
from .confidence import rates_differ_p
from .kicks import KICK_WINDOW_S, outcomes

KNOBS: Tuple[Tuple[str, str], ...] = (
    ('delay_s', 'action delay'), ('payload_kg', 'payload (kg)'),
    ('friction_scale', 'floor friction x'), ('mass_scale_mean', 'body masses x'),
    ('strength_scale_mean', 'motor strength x'), ('kp_scale_mean', 'kp x'),
    ('kd_scale_mean', 'kd x'), ('com_offset_cm', 'base CoM offset (cm)'),
    ('obs_noise_scale', 'observation noise x'), ('init_joint_noise', 'initial pose noise'),
    ('init_vel_noise', 'initial velocity noise'))
"""Scalar draws of a log line (``com_offset_cm``: the length of ``com_offset_m``), in the
order they are printed when their effects tie."""

KICK_BIN = 0.25
"""Width (m/s) of the kick-speed bins."""


def read_records(path: str, last: int,
                 since: Optional[int] = None) -> Tuple[List[Dict[str, Any]], int]:
    """Return the last ``last`` lines of log ``path`` with an outcome, and how many lack one.

    Lines written before outcomes were logged carry draws only; they are counted, not read.
    ``since``: only episodes that ended at or after that training step (a line without its
    step is older than any stamped one, so it is left out).
    """
    records, older = [], 0
    with open(path, encoding='utf-8') as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f'{path}: line {n} is not JSON ({exc.msg})') from None
            if not isinstance(rec, dict) or 'up_s' not in rec:
                older += 1
            elif (isinstance(rec.get('fell'), bool) and isinstance(rec['up_s'], (int, float))
                  and isinstance(rec.get('kicks', []), list)):
                step = episode_step(rec)
                if since is None or (step is not None and step >= since):
                    records.append(rec)
            else:
                raise ValueError(f'{path}: line {n}: expected up_s (s), fell (true/false) and '
                                 'kicks (a list) beside the draws')
    return records[-last:] if last > 0 else records, older


def _value(rec: Dict[str, Any], knob: str) -> Optional[float]:
    if knob == 'com_offset_cm':
        com = rec.get('com_offset_m')
        return None if com is None else 100.0 * math.sqrt(sum(c * c for c in com))
    v = rec.get(knob)
    return None if v is None else float(v)


def _rate(group: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    falls = sum(1 for r in group if r['fell'])
    up = sum(float(r['up_s']) for r in group)
    return {'episodes': len(group), 'falls': falls, 'up_s': round(up, 2),
            's_per_fall': round(up / falls, 2) if falls else None}


def _bins(knob: str, pairs: List[Tuple[float, Dict[str, Any]]]) -> List[Dict[str, Any]]:
    """Split (value, record) pairs into the knob's bins, each with its label and rate."""
    if knob == 'delay_s':
        ms = [(round(v * 1000.0, 1), r) for v, r in pairs]
        return [{'label': f'{v:g} ms', **_rate([r for x, r in ms if x == v])}
                for v in sorted({x for x, _ in ms})]
    pairs = sorted(pairs, key=lambda p: p[0])
    n = len(pairs)
    out = []
    for k in range(3):
        part = pairs[k * n // 3:(k + 1) * n // 3]
        if part:
            out.append({'label': f'{part[0][0]:.3g}-{part[-1][0]:.3g}',
                        **_rate([r for _, r in part])})
    return out


def _spread(bins: Sequence[Dict[str, Any]]) -> float:
    """Return how many times longer the best bin stays up per fall than the worst."""
    rates = [b['up_s'] / max(b['falls'], 1) for b in bins if b['episodes']]
    return max(rates) / min(rates) if len(rates) > 1 and min(rates) > 0 else 1.0


def knob_effects(records: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Return, for each knob the records vary, its bins; the surest difference first."""
    out = []
    for order, (knob, label) in enumerate(KNOBS):
        pairs = [(v, r) for r in records if (v := _value(r, knob)) is not None]
        if len(pairs) < 3 or max(v for v, _ in pairs) - min(v for v, _ in pairs) < 1e-9:
            continue
        bins = _bins(knob, pairs)
        p = rates_differ_p([b['falls'] for b in bins], [b['up_s'] for b in bins])
        out.append({'knob': knob, 'label': label, 'spread': round(_spread(bins), 2),
                    'p': p, 'bins': bins, '_order': order})
    out.sort(key=lambda e: (e['p'], e['_order']))
    for e in out:
        del e['_order']
    return out


def kick_effects(records: Sequence[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """Return the kicks' outcomes by speed, and the falls that followed a kick (None: none)."""
    speeds: Dict[int, Dict[str, int]] = {}
    after_kick = 0
    for r in records:
        kicks = r.get('kicks') or []
        judged = outcomes([k[0] for k in kicks], bool(r['fell']), float(r['up_s']))
        for k, o in zip(kicks, judged):
            cell = speeds.setdefault(int(k[1] // KICK_BIN),
                                     dict.fromkeys(('survived', 'fell', 'unresolved'), 0))
            cell[o] += 1
        after_kick += 'fell' in judged
    if not speeds:
        return None
    by_speed = [{'label': f'{i * KICK_BIN:g}-{(i + 1) * KICK_BIN:g} m/s', **speeds[i]}
                for i in sorted(speeds)]
    return {'by_speed': by_speed, 'falls_after_kick': after_kick, 'window_s': KICK_WINDOW_S}


TREND_PARTS = 5
"""Consecutive parts of the window whose seconds up per fall show the trend."""


def _split(records: Sequence[Dict[str, Any]], parts: int) -> List[Sequence[Dict[str, Any]]]:
    """Return ``parts`` consecutive parts of the episodes, oldest first ([]: fewer episodes)."""
    n = len(records)
    if n < parts:
        return []
    return [records[k * n // parts:(k + 1) * n // parts] for k in range(parts)]


def trend(records: Sequence[Dict[str, Any]], parts: int = TREND_PARTS) -> List[Dict[str, Any]]:
    """Return the rate of each of ``parts`` consecutive parts of the episodes, oldest first.

    A policy learning to stay up under the ranges stays up longer per fall part by part.
    """
    return [_rate(part) for part in _split(records, parts)]


def kick_trend(records: Sequence[Dict[str, Any]], parts: int = TREND_PARTS
               ) -> Optional[Dict[str, Any]]:
    """Return the kicks of the window's fastest speed bin survived in each of ``parts`` parts.

    The fastest kicks are what a policy learns to ride out last, and a fall rate of the
    whole window cannot tell a policy still learning them from one that stopped: a run
    whose share of them survived stays flat part after part has no more to gain from the
    same training. None: fewer episodes than parts, or no kick.
    """
    whole, split = kick_effects(records), _split(records, parts)
    if whole is None or not split:
        return None
    label = whole['by_speed'][-1]['label']
    cells = []
    for part in split:
        judged = kick_effects(part)
        cell = next((c for c in (judged or {}).get('by_speed', ()) if c['label'] == label),
                    None)
        cells.append({'survived': cell['survived'] if cell else 0,
                      'fell': cell['fell'] if cell else 0})
    return {'label': label, 'parts': cells}


def analyse(path: str, last: int = 1000, since: Optional[int] = None) -> Dict[str, Any]:
    """Return the falls of the last ``last`` recorded episodes of log ``path``, by draw.

    ``since``: of those that ended at or after that training step.
    """
    records, older = read_records(path, last, since)
    widths = sorted({float(r.get('scale', 1.0)) for r in records})
    stamped = [s for s in map(episode_step, records) if s is not None]
    usual = [r for r in records if not r.get('hard')]
    hard = [r for r in records if r.get('hard')]
    return {'log': path, 'episodes': _rate(records), 'without_outcome': older,
            'since': since, 'steps': [min(stamped), max(stamped)] if stamped else None,
            'widths': widths, 'trend': trend(records), 'knobs': knob_effects(usual),
            'hard': {'corner': _rate(hard), 'rest': _rate(usual),
                     'depths': _depths(hard)} if hard else None,
            'kicks': kick_effects(records), 'kick_trend': kick_trend(records)}


def _depths(hard: Sequence[Dict[str, Any]]) -> Optional[List[float]]:
    """Return the first and last depth of an adaptive corner's episodes (None: fixed)."""
    depths = [float(r['hard_depth']) for r in hard if 'hard_depth' in r]
    return [depths[0], depths[-1]] if depths else None


def _seconds(b: Dict[str, Any]) -> str:
    per = b['s_per_fall']
    return f'{b["label"]} no fall in {b["up_s"]:.0f} s' if per is None else \
        f'{b["label"]} {per:.1f} s ({b["falls"]})'


def _per(rate: Dict[str, Any]) -> str:
    if rate['s_per_fall'] is None:
        return f'no fall in {rate["up_s"]:.0f} s up'
    return f'one fall per {rate["s_per_fall"]:.1f} s up ({rate["falls"]:,} falls)'


def _p_text(p: float) -> str:
    return f'p {p:.2g}' if p >= 0.001 else 'p < 0.001'


def lines(report: Dict[str, Any]) -> List[str]:
    """Say the analysis as text: the episodes, each knob's bins, the kicks."""
    ep = report['episodes']
    if not ep['episodes']:
        told = (f'; its {report["without_outcome"]:,} lines are from before outcomes were '
                'logged' if report['without_outcome'] else '')
        if report.get('since') is not None:
            return [f'{report["log"]}: no episode with an outcome ended at or after step '
                    f'{report["since"]:,} (lines logged before runs stamped their step have '
                    'none)']
        return [f'{report["log"]}: no episode with an outcome yet{told}']
    widths = report['widths']
    # A ramped run draws a new width every episode: the span says it, a list would not.
    width = (f'x{widths[0]:.2f}' if len(widths) == 1
             else f'x{widths[0]:.2f} to x{widths[-1]:.2f}')
    per = '-' if ep['s_per_fall'] is None else f'{ep["s_per_fall"]:.1f}'
    steps = report.get('steps')
    span = f', steps {steps[0]:,}-{steps[1]:,}' if steps else ''
    out = [f'training falls   the last {ep["episodes"]:,} episodes with an outcome in '
           f'{report["log"]} (ranges\' width {width}{span})',
           f'  episodes       {ep["falls"]:,} fell in {ep["up_s"] / 60:.1f} min up: one fall '
           f'per {per} s up']
    if report['trend']:
        out.append(f'  trend          seconds up per fall in {len(report["trend"])} consecutive '
                   'parts, oldest first: ' + ' | '.join(
                       '-' if t['s_per_fall'] is None else f'{t["s_per_fall"]:.1f}'
                       for t in report['trend']))
    hard = report.get('kick_trend')
    if hard:
        cells = (f'{c["survived"]}/{c["survived"] + c["fell"]}' if c['survived'] + c['fell']
                 else '-' for c in hard['parts'])
        out.append(f'  kicks          of {hard["label"]} survived in the same parts: '
                   + ' | '.join(cells))
    corner = report.get('hard')
    if corner:
        c, r = corner['corner'], corner['rest']
        depths = corner.get('depths')
        moved = (f' (its depth followed the actor: {depths[0]:g} -> {depths[1]:g})'
                 if depths else '')
        out.append(f'  hard corner    {c["episodes"]:,} episodes drawn at it{moved}: {_per(c)}; '
                   f'the other {r["episodes"]:,}: {_per(r)} (the knobs below: those others)')
    drawn = draw_lines(report['knobs'], report['kicks'], ep['falls'])
    return out + ['  ' + line for line in drawn]


def draw_lines(knobs: Sequence[Dict[str, Any]], kicks: Optional[Dict[str, Any]],
               falls: int) -> List[str]:
    """Say each knob's bins (`knob_effects`) and the kicks (`kick_effects`), one line each."""
    out = ['seconds up per fall (falls), by draw: each delay, thirds of the episodes by value '
           'for the rest;',
           'p: the chance of bins this far apart if the knob were harmless; the smallest first']
    for e in knobs:
        out.append(f'{e["label"]:<22} ' + ' | '.join(_seconds(b) for b in e['bins'])
                   + f'   ({e["spread"]:.2f}x, {_p_text(e["p"])})')
    if kicks:
        cells = ', '.join(f'{c["label"]} {c["survived"]}/{c["survived"] + c["fell"]}'
                          for c in kicks['by_speed'])
        out.append(f'kicks survived {cells}; {kicks["falls_after_kick"]:,} of {falls:,} '
                   f'falls within {kicks["window_s"]:g} s of a kick')
    return out


__all__ = ['KICK_BIN', 'KNOBS', 'TREND_PARTS', 'analyse', 'draw_lines', 'kick_effects',
           'kick_trend', 'knob_effects', 'lines', 'read_records', 'trend']

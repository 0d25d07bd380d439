"""``report.json`` (everything) and ``report.md`` (the summary people read) of an evaluation."""

from __future__ import annotations

import json
import math
import os
from typing import Dict, List, Optional

from ..util.atomic import atomic_write
from .estimate_check import estimate_lines
from .plots import plot_names, write_plots

MAX_EPISODE_ROWS = 30


def _f(x: Optional[float], fmt: str = '.1f') -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return '-'
    return format(x, fmt)


def _pct(x: Optional[float]) -> str:
    return '-' if x is None else f'{100 * x:.1f} %'


def _json_safe(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def _headline(report: Dict) -> List[str]:
    o, b = report['overall'], report['bag']
    ret, live = o['return'], o['live_return']
    lat, miss = o['latency_ms'], o['ticks_missed']
    lines = [f'# Evaluation of `{os.path.basename(b["path"].rstrip("/"))}`', '',
             f'{b["storage"]} bag, {_f(b["duration_s"])} s, '
             f'{"closed cleanly" if b["clean"] else "NOT closed cleanly (recovered)"}; '
             f'robot `{report["robot"]}`, {o["states"]} states, {o["policy_ticks"]} policy '
             'ticks.', '']
    if report['missing']:
        lines += ['**Missing topics** (the rest is computed):', '']
        lines += [f'- `{m["topic"]}` ({m["type"]}): no {m["lost"]}'
                  + (f' ({m["hint"]})' if m.get('hint') else '') for m in report['missing']]
        lines.append('')
    lines += ['| metric | value |', '|---|---|',
              f'| episodes (complete) | {o["episodes"]} ({o["complete_episodes"]}) |',
              f'| return, {o["return_over"]} | {_f(ret["mean"])} ± {_f(ret["std"])} '
              f'(min {_f(ret["min"])}, max {_f(ret["max"])}) |']
    if live['mean'] is not None:
        lines.append(f'| live return (sim, same episodes) | {_f(live["mean"])} |')
    causes = report['fault_causes']
    lines += [f'| episode length (steps) | {_f(o["length"]["mean"])} |',
              f'| falls | {o["falls"]} |',
              f'| watchdog faults | {o["faults"]}'
              + (' (' + ', '.join(f'{k}: {v}' for k, v in causes.items()) + ')'
                 if causes else '') + ' |',
              f'| torque saturation share | {_pct(o["saturation_share"])} |',
              f'| action jitter, mean abs(Δa) | {_f(o["jitter"], ".4f")} |',
              f'| command step, RMS per control step (share of range) | '
              f'{_pct(o.get("command_step"))} |',
              f'| max tilt (rad) | {_f(o["max_tilt_rad"], ".3f")} |',
              f'| command latency p50 / p99 / max (ms, {lat["source"]}) | '
              f'{_f(lat["p50"], ".2f")} / {_f(lat["p99"], ".2f")} / {_f(lat["max"], ".2f")} |',
              f'| ticks missed | {miss["missed"]} of {miss["missed"] + miss["intervals"]} |', '']
    return lines


def _policy_section(kind: str, p: Dict) -> List[str]:
    d = p['vs_recorded_actions'] or {}
    title = ('Recorded policy, replayed open-loop' if kind == 'recorded'
             else 'Candidate policy, open-loop on the recorded states')
    lines = [f'## {title}', '', f'`{p["path"]}` on {p["ticks"]} ticks: RMS difference to '
             f'the recorded actions {_f(d.get("rms"), ".4g")} '
             f'({_f(d.get("rms_torque_nm"), ".3g")} N·m), max {_f(d.get("max_abs"), ".4g")};'
             f' saturation {_pct(p["saturation_share"])}, jitter '
             f'{_f(p["jitter"], ".4f")}.', '']
    share = d.get('reproduced_share')
    if kind == 'recorded' and share is not None:
        why = ('' if share == 1.0 else ' A command it does not reproduce was computed from '
               'other inputs than the recorded messages of its stamp (typically the '
               'odometry or IMU of the previous tick, which the policy node still had when '
               'joint_states arrived).')
        lines += [f'It reproduces {_pct(share)} of the recorded commands.{why}', '']
    if kind == 'candidate' and d.get('per_joint'):
        worst = sorted(d['per_joint'].items(), key=lambda kv: -kv[1])
        lines += ['| joint | RMS Δaction |', '|---|---|']
        lines += [f'| {j} | {v:.4f} |' for j, v in worst]
        lines.append('')
    return lines


def _episodes_section(episodes: List[Dict]) -> List[str]:
    lines = ['## Episodes', '', '| # | start (s) | steps | return | live | end | '
             'max tilt | faults | saturation |', '|---|---|---|---|---|---|---|---|---|']
    for e in episodes[:MAX_EPISODE_ROWS]:
        lines.append(f'| {e["index"]} | {_f(e["start_s"])} | {e["length"]} | '
                     f'{_f(e["return"])} | {_f(e["live_return"])} | {e["end"]} | '
                     f'{_f(e["max_tilt_rad"], ".2f")} | {e["faults"]} | '
                     f'{_pct(e["saturation_share"])} |')
    if len(episodes) > MAX_EPISODE_ROWS:
        lines.append(f'| ... | {len(episodes) - MAX_EPISODE_ROWS} more in '
                     'report.json | | | | | | | |')
    return lines + ['']


def _faults_section(faults: List[Dict]) -> List[str]:
    lines = ['## Watchdog faults', '']
    lines += [f'- {_f(f["time_s"], ".2f")} s, '
              + ('between episodes' if f['episode'] is None else f'episode {f["episode"]}')
              + f': **{f["cause"]}** {f["detail"]}'
              for f in faults[:MAX_EPISODE_ROWS]]
    return lines + ['']


def markdown(report: Dict, plots: List[str]) -> str:
    """Return the human-readable report."""
    lines = _headline(report)
    for kind in ('recorded', 'candidate'):
        if report['policy'].get(kind):
            lines += _policy_section(kind, report['policy'][kind])
    if report['episodes']:
        lines += _episodes_section(report['episodes'])
    if report['faults']:
        lines += _faults_section(report['faults'])
    lines += estimate_lines(report.get('odometry_estimate'))
    if report['notes']:
        lines += ['## Notes', ''] + [f'- {n}' for n in report['notes']] + ['']
    if plots:
        lines += ['## Plots', ''] + [f'![{p}]({p})' for p in plots] + ['']
    return '\n'.join(lines)


def write_report(ev, out_dir: str) -> Dict[str, str]:
    """Write report.json, report.md and the plots into ``out_dir``; return their paths."""
    os.makedirs(out_dir, exist_ok=True)
    plots = write_plots(ev, out_dir)
    ev.report['plots'] = plot_names(plots)
    paths = {'json': os.path.join(out_dir, 'report.json'),
             'md': os.path.join(out_dir, 'report.md')}
    text = json.dumps(_json_safe(ev.report), indent=1)
    atomic_write(paths['json'], lambda f: f.write(text.encode()))
    md = markdown(ev.report, ev.report['plots'])
    atomic_write(paths['md'], lambda f: f.write(md.encode()))
    return dict(paths, **plots)

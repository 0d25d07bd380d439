"""``symphony inspect RUN_DIR``: where a training run stands, and what to do with it next."""

from __future__ import annotations

import json
import math
import os
import shlex
from typing import Any, Dict, List

from ..core.config import odometry_of
from ..core.checkpoint import size_text
from ..core.run_dir import RANDOMIZATION_LOG
from ..core.run_summary import RunSummary
from ..core.stages import passed, stage_text

CURVE_POINTS = 8
"""Evaluations the curve line shows (the newest ones)."""


def describe_run(s: RunSummary) -> List[str]:
    """Human-readable lines for run ``s``: identity, progress, returns, what to run next."""
    from .inspect_cmd import history_lines, randomization_line, reward_text
    t, y = s.train, s.sym
    state = (f'being trained now by process {s.trainer_pid}' if s.trainer_pid
             else 'no trainer running')
    lines = [f'{s.path}  training run, {state}',
             f'  env              {t.get("env")}, observation {t.get("obs_spec") or "default"}'
             + (', odometry from the legs (--odometry legs)' if odometry_of(t) == 'legs'
                else '') + f', seed {t.get("seed")}',
             '  learner          ' + _learner(t, y),
             *_branch(s), *_progress(s)]
    lines += _returns(s)
    lines.append('  randomization    ' + randomization_line(t) + _width(s)
                 + _corner(os.path.join(s.path, RANDOMIZATION_LOG)))
    lines += _corner_tests(s)
    lines += history_lines(t)
    lines.append('  reward weights   ' + reward_text(t))
    lines += _stages(s)
    if s.actors:
        lines.append(f'  kept actors      {s.actors} (symphony screen {shlex.quote(s.path)} '
                     'ranks them by falls under stress)')
    return lines + _next(s)


def run_dict(s: RunSummary) -> Dict[str, Any]:
    """Return the summary as plain JSON, for scripts that watch a run."""
    best, last = s.best, (s.rows[-1] if s.rows else None)
    return {'path': s.path, 'trainer_pid': s.trainer_pid, 'step': s.step,
            'steps': s.train.get('steps'), 'checkpoint': s.checkpoint,
            'exact_resume': s.exact_resume, 'best': _clean(best), 'best_since': s.best_since,
            'last': _clean(last),
            'evaluations': len(s.rows), 'metrics_problem': s.metrics_problem or None,
            'actors': s.actors, 'best_actor': s.has_best, 'branched_from': s.branched_from,
            'scale_in_force': s.scale_in_force,
            'train_config': s.train, 'symphony_config': s.sym}


def _clean(row) -> Any:
    """Return a metrics row for JSON: NaN (an empty cell) becomes null."""
    if row is None:
        return None
    return {k: (v if math.isfinite(v) else None) for k, v in row.items()}


def _learner(t: Dict[str, Any], y: Dict[str, Any]) -> str:
    updates = y.get('updates_per_step')
    text = (f'{y.get("name")}: hidden {y.get("hidden_dim")}, {y.get("critic_heads")} critic '
            f'heads, batch {y.get("batch_size")}, {updates} update{"" if updates == 1 else "s"}'
            f' per step, lr {y.get("lr"):g}')
    extras = [name for name, on in (('privileged critic', t.get('privileged_critic')),
                                    ('it sees the dynamics drawn', t.get('critic_dynamics')),
                                    ('mirrored batches', t.get('mirror')),
                                    ('symmetric actor', t.get('symmetric_actor')),
                                    ('compiled loss', t.get('compile'))) if on]
    if t.get('history', 1) > 1:
        extras.append(f'history {t["history"]}')
    return text + f', {_noise(y)}' + ''.join(f'; {e}' for e in extras)


def _noise(y: Dict[str, Any]) -> str:
    """Say the noise clip, and where acting or the critic's target take another noise."""
    named = (('act_noise_clip', 'acting'), ('target_noise_clip', 'target'))
    parts = [f'{label} {y[key]:.3g}' for key, label in named if y.get(key)]
    if y.get('act_noise_color'):
        parts.append(f'acting noise 1/f^{y["act_noise_color"]:g}')
    clip = f'noise clip {y.get("noise_clip", math.e):.3g}'
    return f'{clip} ({", ".join(parts)})' if parts else clip


def _branch(s: RunSummary) -> List[str]:
    came = s.branched_from
    if not came:
        return []
    replay = came.get('replay') or 'none, refilled by the resume'
    seed = f', seed {came["seed"]}' if 'seed' in came else ''
    moved = came.get('obs_spec')
    spec = (f', moved from observation {moved.get("from")} onto {moved.get("to")}'
            if isinstance(moved, dict) else '')
    grown = came.get('critic_grown')
    spec += f', its critic given {", ".join(grown)}' if isinstance(grown, list) else ''
    frames = came.get('history')
    spec += f', its actor reading the last {frames} observations' if frames else ''
    spec += f', its odometry from {came["odometry"]}' if came.get('odometry') else ''
    return [f'  branched from    {came["source"]} at step {int(came.get("step", 0)):,}{seed}'
            f'{spec} (symphony branch; its replay: {replay})']


def _progress(s: RunSummary) -> List[str]:
    total = int(s.train.get('steps') or 0)
    if not s.checkpoint:
        return [f'  progress         no checkpoint yet (of {total:,} steps)']
    share = f' ({100.0 * s.step / total:.1f} %)' if total else ''
    size = size_text(os.path.getsize(s.checkpoint)) if os.path.isfile(s.checkpoint) else '?'
    resume = ('with its replay buffer: a resume continues exactly' if s.exact_resume else
              'networks only: a resume refills the buffer first, best by '
              '--refill-steps 100000')
    return [f'  progress         {s.step:,} of {total:,} steps{share}',
            f'  checkpoint       {s.checkpoint} ({size}, {resume})']


def _returns(s: RunSummary) -> List[str]:
    if s.metrics_problem:
        return [f'  test return      ? ({s.metrics_problem})']
    if not s.rows:
        return ['  test return      no evaluation yet']
    best, last = s.best, s.rows[-1]
    lines = [f'  test return      newest {_ret(last)} at {int(last["step"]):,}' + (
        f'; best {best["test_return_mean"]:,.1f} at {int(best["step"]):,}'
        + (' (best_actor.pt)' if s.has_best else '')
        + (f', counted since the change at {s.best_since:,}' if s.best_since else '')
        if best else '')]
    curve = ' | '.join(f'{_k(r["step"])} {r.get("test_return_mean", math.nan):,.0f}'
                       for r in s.rows[-CURVE_POINTS:])
    lines.append(f'  curve            {curve}')
    episodes, falls = last.get('episodes', math.nan), last.get('falls', math.nan)
    if math.isfinite(episodes) and episodes > 0:
        lines.append(f'  episodes         {int(episodes):,} in training, {int(falls):,} of '
                     f'them falls ({100.0 * falls / episodes:.0f} %)' + _noise_falls(last))
    rate, wall = last.get('steps_per_s', math.nan), last.get('wall_s', math.nan)
    if math.isfinite(rate) and math.isfinite(wall):
        lines.append(f'  speed            {rate:,.0f} steps/s at the newest evaluation; '
                     f'{_clock(wall)} of training')
    return lines


def _noise_falls(row: Dict[str, float]) -> str:
    """Say the falls in the deliberate fall apart: the actor did not act in them."""
    n = row.get('noise_falls', math.nan)
    if not math.isfinite(n) or n <= 0:
        return ''
    return f', {int(n):,} more in the deliberate fall before the time limit (noise acting)'


def _ret(row: Dict[str, float]) -> str:
    mean, std = row.get('test_return_mean', math.nan), row.get('test_return_std', math.nan)
    return f'{mean:,.1f}' + (f' ± {std:,.1f}' if math.isfinite(std) else '')


def _k(step: float) -> str:
    return f'{step / 1e3:g}k' if step >= 1000 else f'{int(step)}'


def _clock(seconds: float) -> str:
    h, rest = divmod(int(seconds), 3600)
    return f'{h}:{rest // 60:02d}:{rest % 60:02d}'


def _stages(s: RunSummary) -> List[str]:
    stages = s.train.get('stages') or []
    if not stages:
        return []
    done = len(passed(stages, s.step))
    head = f'  stages           {done} of {len(stages)} taken'
    if done == len(stages):
        return [head]
    return [head + f'; next: {stage_text(stages[done], done + 1, len(stages))}']


def _width(s: RunSummary) -> str:
    scale = float(s.train.get('randomize_scale') or 0.0)
    if s.train.get('randomize', 'none') == 'none' or scale <= 0:
        return ''
    return f'; at step {s.step:,}: x{s.scale_in_force:.2f} ({s.scale_in_force / scale:.0%} ' \
           'of its width)'


def _corner(log: str, tail: int = 1 << 18) -> str:
    """Say the depth of the newest corner episode logged (``hard_depth: auto``), if any.

    Reads the log's last ``tail`` bytes only: a long run's log is tens of MB.
    """
    try:
        with open(log, 'rb') as f:
            f.seek(max(0, os.path.getsize(log) - tail))
            lines = f.read().decode('utf-8', 'replace').splitlines()
    except OSError:
        return ''
    for line in reversed(lines):
        if '"hard_depth"' not in line:
            continue
        try:
            depth = json.loads(line)['hard_depth']
        except (ValueError, KeyError, TypeError):
            continue
        return f'; its hard corner now at depth {depth:g} (it follows the actor)'
    return ''


def _corner_tests(s: RunSummary) -> List[str]:
    """Say the newest corner tests (``hard_tests``): depth tested, falls, per step."""
    from ..stress.screen import corner_cells
    cells = list(corner_cells(s.rows).items())[-CURVE_POINTS:]
    if not cells:
        return []
    last = [r for r in s.rows if int(r['step']) == cells[-1][0]][-1]
    return ['  corner tests     ' + ' | '.join(f'{step / 1000:g}k {cell} fell'
                                               for step, cell in cells)
            + f'; depth next {last["corner_depth_next"]:g}']


def _next(s: RunSummary) -> List[str]:
    path = shlex.quote(s.path)
    if s.trainer_pid:
        stop = (f'stop: kill {s.trainer_pid} (as Ctrl-C: it checkpoints first); go on: '
                f'symphony train --run-dir {path} --resume')
        lines = [f'  next             {stop}']
    else:
        lines = [f'  next             resume: symphony train --run-dir {path} --resume']
    if s.train.get('keep_checkpoints') and s.checkpoint:
        lines.append(f'                   branch: symphony branch {path} NEW_DIR --at STEP '
                     '(from any kept checkpoint, its replay rewound)')
    if s.has_best or s.checkpoint:
        lines.append(f'                   export: symphony export {path} -o policy.onnx'
                     + (' (best_actor.pt)' if s.has_best else ' (its newest checkpoint)'))
    if os.path.isfile(os.path.join(s.path, RANDOMIZATION_LOG)):
        lines.append(f'                   falls: symphony inspect {path} --falls (which draws '
                     'fell its training episodes)')
    return lines


__all__ = ['describe_run', 'run_dict']

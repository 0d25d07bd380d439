"""PNG plots of an evaluation: joint torques, tilt, returns, candidate vs recorded actions."""

from __future__ import annotations

import io
import os
from typing import Dict, List

import numpy as np

from ..util.atomic import atomic_write

EPISODE_COLORS = {'fall': 'tab:red', 'time_limit': 'tab:green', 'reset': 'tab:orange',
                  'gap': 'tab:gray', 'hold': 'tab:purple', 'end_of_bag': 'tab:blue'}


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')   # files only, never a window
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path: str) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=100)
    _pyplot().close(fig)
    atomic_write(path, lambda f: f.write(buf.getvalue()))


def _seconds(ev, logs) -> np.ndarray:
    return (np.asarray(logs, dtype=np.float64) - ev.timeline.start_ns) * 1e-9


def _shade_episodes(ax, ev) -> None:
    tl = ev.timeline
    for ep in ev.episodes:
        a, b = _seconds(ev, [tl.states[ep.first].log_ns, tl.states[ep.last].log_ns])
        ax.axvspan(a, b, color=EPISODE_COLORS.get(ep.end, 'tab:blue'), alpha=0.08, lw=0)


def plot_torques(ev, path: str) -> bool:
    """Draw the applied (hardware) torque of every joint over time, over its limit."""
    tl = ev.timeline
    if len(tl.hardware_log) == 0:
        return False
    plt = _pyplot()
    rel = tl.hardware / tl.robot.effort_limits
    t = _seconds(ev, tl.hardware_log)
    fig, ax = plt.subplots(figsize=(11, 5.5))
    im = ax.imshow(rel.T, aspect='auto', cmap='coolwarm', vmin=-1, vmax=1,
                   extent=(t[0], t[-1] if len(t) > 1 else t[0] + 1, tl.robot.n_joints - 0.5,
                           -0.5), interpolation='nearest')
    ax.set_yticks(range(tl.robot.n_joints))
    ax.set_yticklabels(tl.robot.joint_names, fontsize=7)
    ax.set_xlabel('time since start of recording (s)')
    ax.set_title('joint torque / effort limit (hardware command)')
    fig.colorbar(im, ax=ax, fraction=0.03)
    fig.tight_layout()
    _save(fig, path)
    return True


def plot_tilt(ev, path: str) -> bool:
    """Draw base tilt over time, episodes shaded by how they ended, faults marked."""
    from ..robot.rotations import tilt_angle
    tl = ev.timeline
    pts = [(s.log_ns, tilt_angle(s.state.base_orientation if s.has_odom
                                 else s.state.imu_orientation))
           for s in tl.states if s.has_odom or s.has_imu]
    if not pts:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(11, 3.5))
    _shade_episodes(ax, ev)
    ax.plot(_seconds(ev, [p[0] for p in pts]), [p[1] for p in pts], lw=0.8, color='k')
    for f in ev.report.get('faults', []):
        ax.axvline(f['time_s'], color='tab:red', lw=0.8, ls='--')
    ax.set_xlabel('time since start of recording (s)')
    ax.set_ylabel('base tilt (rad)')
    ax.set_title('base tilt (shaded: episodes, red dashes: watchdog faults)')
    fig.tight_layout()
    _save(fig, path)
    return True


def plot_returns(ev, path: str) -> bool:
    """Draw the recomputed return per episode (colour: how it ended), live ones as dots."""
    if not ev.episodes:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(11, 3.5))
    x = np.arange(len(ev.episodes))
    ax.bar(x, [e.ret for e in ev.episodes],
           color=[EPISODE_COLORS.get(e.end, 'tab:blue') for e in ev.episodes])
    live = [(i, e.live_return) for i, e in enumerate(ev.episodes) if e.live_return is not None]
    if live:
        ax.plot([p[0] for p in live], [p[1] for p in live], 'k.', label='live (sim) return')
        ax.legend(loc='best', fontsize=8)
    ax.set_xlabel('episode')
    ax.set_ylabel('return')
    # Whole episode numbers only, and room around a single bar (not an axis of -0.4..0.4).
    from matplotlib.ticker import FixedLocator, MaxNLocator
    ax.xaxis.set_major_locator(FixedLocator(x) if len(x) <= 20 else MaxNLocator(integer=True))
    ax.set_xlim(-0.6, len(x) - 0.4)
    ends = sorted({e.end for e in ev.episodes})
    ax.set_title('return per episode (bar colour: ' + ', '.join(
        f'{k} = {EPISODE_COLORS[k].split(":")[1]}' for k in ends) + ')')
    fig.tight_layout()
    _save(fig, path)
    return True


def plot_actions(ev, path: str) -> bool:
    """Draw recorded actions per joint with the candidate's (else the recorded replay)."""
    run = ev.candidate or ev.recorded
    tl = ev.timeline
    if run is None or len(run.rows) == 0:
        return False
    plt = _pyplot()
    n = tl.robot.n_joints
    cols = 4
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(12, 1.8 * rows), sharex=True)
    t = _seconds(ev, [tl.commands[k].log_ns for k in run.rows])
    rec = np.array([tl.commands[k].action for k in run.rows])
    label = 'candidate' if ev.candidate is not None else 'recorded policy, replayed'
    for j, ax in enumerate(np.ravel(axes)):
        if j >= n:
            ax.axis('off')
            continue
        ax.plot(t, rec[:, j], lw=0.8, color='k', label='recorded')
        ax.plot(t, run.actions[:, j], lw=0.8, ls='--', color='tab:orange', label=label)
        ax.set_title(tl.robot.joint_names[j], fontsize=8)
        ax.tick_params(labelsize=6)
    np.ravel(axes)[0].legend(fontsize=6, loc='upper right')
    fig.supxlabel('time since start of recording (s)', fontsize=8)
    fig.supylabel('action (torque / gear)', fontsize=8)
    fig.suptitle(f'actions (clipped, torque / gear): recorded vs {label}', fontsize=10)
    fig.tight_layout()
    _save(fig, path)
    return True


PLOTS = (('joint_torques.png', plot_torques), ('tilt.png', plot_tilt),
         ('return.png', plot_returns), ('actions.png', plot_actions))


def write_plots(ev, out_dir: str) -> Dict[str, str]:
    """Write every plot there is data for; return {name: path}."""
    written: Dict[str, str] = {}
    for name, fn in PLOTS:
        path = os.path.join(out_dir, name)
        if fn(ev, path):
            written[name] = path
    return written


def plot_names(written: Dict[str, str]) -> List[str]:
    """Names of the written plots, in report order."""
    return [n for n, _ in PLOTS if n in written]

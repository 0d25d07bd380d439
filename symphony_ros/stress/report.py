"""The stress report: figures per condition, the verdict, report.json, report.md and plots."""

from __future__ import annotations

import json
import os
from typing import Dict, List, Optional

import numpy as np

from ..bag.plots import _pyplot, _save
from ..util.atomic import atomic_write
from .confidence import episodes_to_show, interval_text, wilson
from .kicks import text as kick_text
from .training_falls import draw_lines

PLOTS = (('fall_rate', 'fall rate', 'fall_rate.png'),
         ('return_mean', 'mean return', 'return.png'),
         ('tracking_error', 'velocity-tracking error (m/s)', 'tracking_error.png'),
         ('torque_saturation', 'share of motor-steps at the torque limit', 'saturation.png'),
         ('min_joint_margin', 'smallest joint-limit margin (rad)', 'joint_margin.png'),
         ('command_jitter', 'RMS command step per control step (share of range)',
          'command_jitter.png'))
"""Summary field, axis label, file name of each plot."""


def verdict(conditions: Dict[str, Dict], max_fall_rate: float, scope: str,
            bound: str = 'observed', max_tracking_error: Optional[float] = None,
            max_yaw_error: Optional[float] = None) -> Dict[str, object]:
    """Pass when every judged condition falls at most ``max_fall_rate`` of its episodes.

    :param scope: ``training`` judges the conditions within the training ranges, ``all`` every
        condition.
    :param bound: ``observed`` holds the rate seen to the threshold; ``upper95`` the upper
        end of its 95 % interval, so that a PASS shows the rate within it (at least
        :func:`episodes_to_show` episodes without a fall), not only that the episodes run
        happened to stay up.
    :param max_tracking_error: m/s per stride a command policy may miss its commands by in
        each judged condition (None: not judged). Falls alone reward a policy that stands
        whatever it is told: standing is the easiest way to stay up.
    :param max_yaw_error: rad/s per stride of yaw rate likewise (None: not judged): a
        policy that walks straight and does not turn misses only its yaw commands.
    """
    judged = [n for n, c in conditions.items() if scope == 'all' or c['within_training']]

    def rate(c: Dict) -> float:
        return wilson(c['falls'], c['episodes'])[1] if bound == 'upper95' else c['fall_rate']
    failed = [n for n in judged if rate(conditions[n]) > max_fall_rate + 1e-12]

    def over(key: str, most: Optional[float]) -> List[str]:
        # A condition without the figure (a policy without commands) is not judged on it.
        return [n for n in judged if most is not None
                and conditions[n].get(key) is not None and conditions[n][key] > most]
    off_track = over('stride_tracking_error', max_tracking_error)
    off_yaw = over('stride_yaw_error', max_yaw_error)
    failed = list(dict.fromkeys(failed + off_track + off_yaw))  # once, missed both ways
    return {'passed': not failed, 'max_fall_rate': max_fall_rate, 'scope': scope,
            'bound': bound, 'max_tracking_error': max_tracking_error,
            'max_yaw_error': max_yaw_error, 'judged': judged, 'failed': failed,
            'failed_tracking': off_track, 'failed_yaw': off_yaw}


def write_plots(conditions: Dict[str, Dict], out_dir: str) -> List[str]:
    """Write one bar chart per figure (skipping figures no condition has); return names."""
    plt = _pyplot()
    names = list(conditions)
    written = []
    for key, label, fname in PLOTS:
        values = [conditions[n].get(key) for n in names]
        if all(v is None for v in values):
            continue
        fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * len(names)), 3.6))
        colours = ['tab:blue' if conditions[n]['within_training'] else 'tab:gray'
                   for n in names]
        ax.bar(range(len(names)), [np.nan if v is None else v for v in values], color=colours)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=45, ha='right')
        ax.set_ylabel(label)
        ax.set_title(f'{label} per condition (blue: within the training ranges)')
        fig.tight_layout()
        _save(fig, os.path.join(out_dir, fname))
        plt.close(fig)
        written.append(fname)
    return written


def _fmt(v: Optional[float], spec: str) -> str:
    return '-' if v is None else format(v, spec)


def latency_text(latency: Dict[str, object]) -> str:
    """Say a report's latency budget in one line, with the delays it was read from."""
    runs = ', '.join(f'{d:g} ms {r:.0%}' for d, r in zip(latency['delays_ms'],
                                                         latency['fall_rates']))
    budget, most = latency['budget_ms'], f'{latency["max_fall_rate"]:.0%}'
    if budget is None:
        return (f'latency budget: none (more than {most} of episodes fall at the shortest '
                f'delay run; fall rates: {runs})')
    return (f'latency budget: {budget:g} ms (the longest action delay run at which, and '
            f'below which, at most {most} of episodes fall; fall rates: {runs})')


def depth_text(depth: Dict[str, object]) -> str:
    """Say how far toward ``worst`` a policy stands, with the fall rates it was read from."""
    runs = ', '.join(f'{d:g} {r:.0%}' for d, r in zip(depth['depths'], depth['fall_rates']))
    budget, most = depth['budget'], f'{depth["max_fall_rate"]:.0%}'
    if budget is None:
        return (f'worst depth: none (more than {most} of episodes fall at the shallowest '
                f'depth run; fall rates by the way from nominal to worst: {runs})')
    return (f'worst depth: {budget:g} (the deepest fraction of the way from nominal to worst '
            f'at which, and short of which, at most {most} of episodes fall; fall rates: '
            f'{runs})')


def worst_parts_text(conditions: Dict[str, Dict]) -> Optional[str]:
    """Say what ``worst`` without each of its parts fell, most saved first (None: not run)."""
    from .conditions import WITHOUT, WORST_PARTS
    worst = conditions.get('worst')
    parts = [(p, conditions[WITHOUT + p]) for p in WORST_PARTS if WITHOUT + p in conditions]
    if worst is None or not parts:
        return None
    parts.sort(key=lambda p: p[1]['fall_rate'])
    cells = ', '.join(f'{part} {c["falls"]}/{c["episodes"]}' for part, c in parts)
    return (f'worst parts: worst fell {worst["falls"]}/{worst["episodes"]}; without its '
            f'{cells} (the part whose absence saves most first)')


def kick_sides_text(conditions: Dict[str, Dict]) -> Optional[str]:
    """Say the one-kick conditions' kicks ridden out by side, per held command (None: none)."""
    from .conditions import HELD_COMMANDS, kick_side_of
    rows: Dict[str, List[str]] = {}
    for name, c in conditions.items():
        which, k = kick_side_of(name), c.get('kicks')
        if which is None or not k:
            continue
        held, side = which
        told = f'told to {HELD_COMMANDS[held][1]}' if held else 'no command held'
        rows.setdefault(told, []).append(f'{side} {k["survived"]}/{k["survived"] + k["fell"]}')
    if not rows:
        return None
    return ('kick sides (one 1 m/s kick each, ridden out): '
            + '; '.join(f'{told}: {", ".join(cells)}' for told, cells in rows.items()))


def markdown(report: Dict[str, object]) -> str:
    """Return report.md's text."""
    v = report['verdict']
    lines = [f'# Stress report: {os.path.basename(report["policy"]["path"])}', '',
             f'Policy `{report["policy"]["path"]}` (sha256 `{report["policy"]["sha256"][:16]}...`)'
             f', env `{report["env"]}`, robot `{report["robot"]}`; {report["episodes"]} episodes '
             f'per condition (seeds {report["seed"]}+{report["seed_offset"]}+k), episode cap '
             f'{report["max_steps"] or "the env limit"}; {report["workers"]} '
             f'worker{"s" if report["workers"] != 1 else ""}, '
             f'{report["wall_s"]:.0f} s.', '',
             f'**Verdict: {"PASS" if v["passed"] else "FAIL"}** ('
             f'{"upper 95 % bound of the " if v.get("bound") == "upper95" else ""}fall rate <= '
             f'{v["max_fall_rate"]:.0%}'
             + (f' and tracking error per stride <= {v["max_tracking_error"]:g} m/s'
                if v.get('max_tracking_error') is not None else '')
             + (f' and yaw-rate error per stride <= {v["max_yaw_error"]:g} rad/s'
                if v.get('max_yaw_error') is not None else '')
             + ' in every condition '
             f'{"within the training ranges" if v["scope"] == "training" else ""}'
             + (f'; failed: {", ".join(v["failed"])}' if v['failed'] else '') + ')', '',
             _confidence_line(report['episodes'], v['max_fall_rate'],
                              v.get('bound', 'observed')), '']
    if report.get('trained_under'):
        lines += [f'The policy trained under {report["trained_under"]}. "In training ranges" is '
                  'the robot\'s `--randomize default` set, which the verdict judges whatever a '
                  'policy trained under; "in its training" says which conditions this policy '
                  'met in training at all.', '']
    lines += ['| condition | in training ranges | in its training | falls (rate, 95 %) | return | '
              'tracking error (m/s), per step / per stride | torque saturation | '
              'min joint margin (rad) | command step |', '|---|---|---|---|---|---|---|---|---|']
    for name, c in report['conditions'].items():
        own = {True: 'yes', False: 'no'}.get(c.get('within_policy_training'), '-')
        lines.append(f'| `{name}` | {"yes" if c["within_training"] else "no"} | {own} | '
                     f'{c["falls"]}/{c["episodes"]} ({rate_interval(c)}) | '
                     f'{c["return_mean"]:.1f} ± '
                     f'{c["return_std"]:.1f} | {_fmt(c["tracking_error"], ".3f")} / '
                     f'{_fmt(c.get("stride_tracking_error"), ".3f")} | '
                     f'{_fmt(c["torque_saturation"], ".1%")} | '
                     f'{_fmt(c["min_joint_margin"], ".3f")} | '
                     f'{_fmt(c.get("command_jitter"), ".1%")} |')
    lines.append('')
    for text in ([latency_text(report['latency'])] if report.get('latency') else []) + (
            [depth_text(report['worst_depth'])] if report.get('worst_depth') else []):
        lines += [text[0].upper() + text[1:] + '.', '']
    for text in filter(None, (worst_parts_text(report['conditions']),
                              kick_sides_text(report['conditions']))):
        lines += [text[0].upper() + text[1:] + '.', '']
    lines += _held_lines(report['conditions'])
    lines += _term_lines(report['conditions'])
    lines += _kick_lines(report['conditions'])
    lines += _draw_lines(report['conditions'])
    noisy = report['conditions'].get('obs_noise_1')
    if noisy and noisy['falls'] > v['max_fall_rate'] * noisy['episodes']:
        lines += ['`obs_noise_1` fell the policy: `--conditions noise_<term> ... imu_bias_1` '
                  'runs each part of it alone (the diagnostics of the condition table), to '
                  'find which sensor\'s noise it cannot take.', '']
    if report.get('through') == 'ros':
        lines += _ros_lines(report['conditions'], report.get('ros_commands'))
    for p in report['plots']:
        lines.append(f'![{p}]({p})')
    return '\n'.join(lines) + '\n'


def rate_interval(c: Dict[str, object]) -> str:
    """Return a condition's 95 % interval of its fall rate as text, e.g. '11-60%'."""
    return interval_text(c['falls'], c['episodes'])


def _confidence_line(episodes: int, max_fall_rate: float, bound: str) -> str:
    """Say what this many episodes can show about a fall rate against the threshold."""
    _, hi = wilson(0, episodes)
    head = (f'Falls are given with the 95 % interval of their rate (Wilson): {episodes} '
            f'episodes without a fall bound a condition\'s rate below {hi:.0%}')
    if bound == 'upper95':
        return (f'{head}; the verdict held each interval\'s upper end to '
                f'{max_fall_rate:.0%}, so a PASS shows the rates within it.')
    need = episodes_to_show(max_fall_rate)
    enough = (f'{episodes} episodes show it' if episodes >= need else
              f'showing it takes {need} episodes without a fall (`--episodes {need}`)')
    return (f'{head}, so a PASS here means the rates seen were within {max_fall_rate:.0%}, '
            f'not that the true rates are; {enough}.')


def _held_lines(conditions: Dict[str, Dict]) -> List[str]:
    """Say what a velocity policy did when held to one command: the target's check."""
    from .conditions import COMMAND
    held = [(n, c) for n, c in conditions.items()
            if COMMAND in c.get('knobs', {}) and c.get('reached') is not None]
    if not held:
        return []
    lines = ['Held to one command for whole episodes (the nominal robot, or what a joined '
             'condition adds): the mean velocity '
             'reached, and the error of the velocity averaged over each gait cycle.', '',
             '| condition | told (vx, vy, yaw rate) | falls | reached (vx, vy, yaw rate) | '
             'error per stride (m/s / rad/s) |', '|---|---|---|---|---|']
    for n, c in held:
        told = ', '.join(f'{v:g}' for v in c['knobs'][COMMAND])
        got = ', '.join(f'{v:.2f}' for v in c['reached'])
        lines.append(f'| `{n}` | {told} | {c["falls"]}/{c["episodes"]} | {got} | '
                     f'{_fmt(c.get("stride_tracking_error"), ".3f")} / '
                     f'{_fmt(c.get("stride_yaw_error"), ".3f")} |')
    return lines + ['']


def _term_lines(conditions: Dict[str, Dict]) -> List[str]:
    """Return the reward per step, term by term, of the held-command conditions, or nothing.

    A policy standing still when told to walk keeps most of its return (alive, contact): the
    terms say which part of the task it does and which it leaves.
    """
    from .conditions import COMMAND
    held = [(n, c['reward_terms']) for n, c in conditions.items()
            if COMMAND in c.get('knobs', {}) and c.get('reward_terms')]
    names = sorted({k for _, t in held for k, v in t.items() if abs(v) >= 5e-4})
    if not names:
        return []
    lines = ['Reward per step, term by term, held to one command (weighted as the robot '
             'file\'s task weighs them, as the returns above; a run may have trained under '
             'other weights):', '', '| condition | ' + ' | '.join(names) + ' |',
             '|---|' + '---|' * len(names)]
    for n, terms in held:
        lines.append(f'| `{n}` | ' + ' | '.join(f'{terms.get(k, 0.0):.3f}' for k in names)
                     + ' |')
    return lines + ['']


def _kick_lines(conditions: Dict[str, Dict]) -> List[str]:
    """Return the kicks each push condition's robot survived, by direction, or nothing."""
    kicked = [(n, c['kicks']) for n, c in conditions.items() if c.get('kicks')]
    if not kicked:
        return []
    window = kicked[0][1]['window_s']
    return ([f'Kicks survived (no fall within {window:g} s of the kick), by the way each '
             'pushed the robot:', '']
            + [kick_text(n, k) for n, k in kicked] + [''])


def _draw_lines(conditions: Dict[str, Dict]) -> List[str]:
    """Return which draws fell the episodes of a condition that draws every knob, or nothing."""
    out = []
    for name, c in conditions.items():
        if c.get('by_draw'):
            out += [f'Which draws fell the policy in `{name}` (each episode draws every knob, '
                    'as training does), over its episodes:', '', '```text']
            out += draw_lines(c['by_draw']['knobs'], c['by_draw']['kicks'], c['falls'])
            out += ['```', '']
    return out


def _ros_lines(conditions: Dict[str, Dict], commands: Optional[str]) -> List[str]:
    """Return the ``--ros`` section: how each graph ran, the delay and kicks the sim gave."""
    steer = (f' Velocity commands: the sim drew them as training does (`cmd_vel:=random`: '
             f'a new one each episode and every resample_steps, from the seed) from the '
             f'policy\'s ranges `{commands}`, as the in-process conditions draw them.'
             if commands else '')
    from .conditions import COMMAND
    if any(COMMAND in c.get('knobs', {}) for c in conditions.values()):
        steer += (' A held-command condition had the sim publish its one command instead '
                  '(`cmd_vel:=vx,vy,wz`, as a teleop holding it would).')
    lines = ['Through ROS: each condition ran the deploy graph (`symphony launch deploy '
             'robot:=sim timing:=realtime`) with mujoco_sim_node\'s `command_delay` and '
             '`push_velocity`; the sim measured how long after arrival it applied the commands '
             'and listed each kick it gave.' + steer + ' Node logs in `ros/`.',
             '', '| condition | command_delay (ms) | applied after arrival, median (ms) | '
             'kicks | tracking error RMS (m/s, rad/s) | watchdog faults | episodes finished | '
             'wall (s) | log |',
             '|---|---|---|---|---|---|---|---|---|']
    for name, c in conditions.items():
        r = c['ros']
        applied = r['applied']['median_ms'] if r['applied'] else None
        kicks = (f'{r["kicks"]} of {r["push_velocity"]:g} m/s'
                 if r.get('push_velocity') and r.get('kicks') is not None else '-')
        done = f'{c["episodes"]}' + ('' if r['complete'] else ' (incomplete)')
        rms = r.get('tracking_rms')
        track = f'{rms[0]:.3f}, {rms[1]:.3f}' if rms else '-'
        lines.append(f'| `{name}` | {r["command_delay_s"] * 1e3:.1f} | {_fmt(applied, ".1f")} '
                     f'| {kicks} | {track} | {r["watchdog_faults"]} | {done} | '
                     f'{r["wall_s"]:.0f} | `ros/{r["log"]}` |')
    return lines + [''] + _fault_lines(conditions)


def faults_text(reasons: Dict[str, int]) -> str:
    """Return a condition's watchdog FAULTs by reason: 'joint_states_stale 2, tilt 1'."""
    return ', '.join(f'{k} {v}' for k, v in sorted(reasons.items()))


def _fault_lines(conditions: Dict[str, Dict]) -> List[str]:
    """Say why the watchdog faulted, and what a fall after a stale input means.

    A stale input is the loop's timing, not the policy: the sim or DDS stalled past the
    watchdog's timeout, and its safe mode damped the joints, so the robot may fall on a
    busy machine whatever the policy does.
    """
    faulted = {n: c['ros'].get('fault_reasons') or {} for n, c in conditions.items()
               if c['ros'].get('watchdog_faults')}
    if not faulted:
        return []
    said = '; '.join(f'`{n}`: {faults_text(r)}' for n, r in faulted.items())
    stale = any(k.endswith('_stale') for r in faulted.values() for k in r)
    why = (' A stale input is the loop\'s timing (the sim or DDS stalled past the watchdog\'s '
           'timeout), not the policy: its safe mode damped the joints, and a fall after it '
           'is not the policy\'s alone; run the condition again on a quieter machine.'
           if stale else '')
    return [f'Watchdog FAULTs by reason: {said}.{why}', '']


def write_report(report: Dict[str, object], out_dir: str) -> Dict[str, str]:
    """Write plots, report.json and report.md into ``out_dir``; return the two paths."""
    os.makedirs(out_dir, exist_ok=True)
    report['plots'] = write_plots(report['conditions'], out_dir)
    paths = {'json': os.path.join(out_dir, 'report.json'),
             'md': os.path.join(out_dir, 'report.md')}
    text = json.dumps(report, indent=1)
    atomic_write(paths['json'], lambda f: f.write(text.encode()))
    md = markdown(report)
    atomic_write(paths['md'], lambda f: f.write(md.encode()))
    return paths


def _budget_fields(doc: Dict[str, object]) -> Dict[str, object]:
    """Return the contract's budget fields of a report: those it measured (latency, depth)."""
    out: Dict[str, object] = {}
    for key, field, name in (('latency', 'budget_ms', 'latency_budget_ms'),
                             ('worst_depth', 'budget', 'worst_depth')):
        measured = doc.get(key)
        if measured:
            value = measured[field]
            out[name] = None if value is None else float(value)
    return out


def contract_summary(path: str) -> Dict[str, object]:
    """Return what a contract keeps of the report.json at ``path`` (``symphony export --stress``).

    Verdict, thresholds, episodes, seed, the fall rate per condition and the weights' sha256
    (export checks it against the actor). JSON only: nothing in the file is executed.

    :raises ValueError: a missing file, not JSON, or not a stress report (naming the field).
    """
    if os.path.isdir(path):
        path = os.path.join(path, 'report.json')
    try:
        with open(path, encoding='utf-8') as fh:
            doc = json.load(fh)
    except OSError as exc:
        raise ValueError(f'--stress {path}: {exc.strerror}') from None
    except json.JSONDecodeError as exc:
        raise ValueError(f'--stress {path}: not JSON ({exc})') from None
    try:
        v, conds = doc['verdict'], doc['conditions']
        return {'verdict': 'PASS' if v['passed'] else 'FAIL', 'failed': list(v['failed']),
                'max_fall_rate': float(v['max_fall_rate']), 'scope': str(v['scope']),
                'bound': str(v.get('bound', 'observed')),
                'max_tracking_error': v.get('max_tracking_error'),
                'failed_tracking': list(v.get('failed_tracking') or ()),
                'max_yaw_error': v.get('max_yaw_error'),
                'failed_yaw': list(v.get('failed_yaw') or ()),
                'episodes': int(doc['episodes']), 'seed': int(doc['seed']),
                'max_steps': doc.get('max_steps'),
                'weights_sha256': str(doc['policy']['weights_sha256']),
                'through': str(doc.get('through', 'process')),
                'fall_rate': {n: float(c['fall_rate']) for n, c in conds.items()},
                **_budget_fields(doc)}
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f'--stress {path}: not a symphony stress report.json (field '
                         f'{exc})') from None

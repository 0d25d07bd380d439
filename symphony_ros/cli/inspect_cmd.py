"""``symphony inspect``: a policy's contract, or where a training run stands, as text or JSON."""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from typing import List, Optional

from ..core.config import odometry_of
from ..util.fields import number
from ..util.files import sha256_file
from ..util.layout import term_slices
from .inspect_critic import check_critic_args, run_critic


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the file and ``--json``."""
    p.add_argument('file', metavar='FILE.onnx|RUN_DIR',
                   help='policy written by `symphony export`, or a run folder of '
                        '`symphony train` (its progress, best test return, what to run next)')
    p.add_argument('--json', action='store_true',
                   help='print the stored contract JSON as is (also for newer formats); for a '
                        'run folder, its summary as JSON')
    p.add_argument('--falls', action='store_true',
                   help='run folder: which randomisation draws fell its training episodes '
                        '(seconds up per fall by each knob\'s value, kicks survived by speed), '
                        'from randomization.jsonl')
    p.add_argument('--last', type=number(int, 0), default=1000, metavar='N',
                   help='with --falls: the last N episodes with an outcome (default: 1000; '
                        '0: all)')
    p.add_argument('--since', type=number(int, 0), default=None, metavar='STEP',
                   help='with --falls: only episodes that ended at or after training step '
                        'STEP (a branch\'s own, or those since a change of ranges)')
    p.add_argument('--critic', action='store_true',
                   help='run folder: how its critic values the actor (a checkpoint and its '
                        'replay): the value at stored steps, what the loss\'s action noise '
                        'costs per step, and test episodes\' values against their returns')
    p.add_argument('--at', type=number(int, 0), default=None, metavar='STEP',
                   help='with --critic: the checkpoint nearest training step STEP (default: '
                        'the newest)')
    p.add_argument('--episodes', type=number(int, 0), default=None, metavar='N',
                   help='with --critic: test episodes whose values are set against their '
                        'discounted returns (default: 3; 0: none)')
    p.add_argument('--robot', default=None, metavar='NAME_OR_FILE',
                   help='robot to check the policy against, by shipped name or robot-file path '
                        '(default: the robot the contract names, or the robot file in its env id)')


def _fmt(x: float) -> str:
    return f'{x:g}'


def _scale_text(factors) -> str:
    """Return '  x0.05' (one factor for the term) or '  x(2, 2, 0.25)'; '' when unscaled."""
    if not factors:
        return ''
    if len(set(factors)) == 1:
        return f'  x{_fmt(factors[0])}'
    return '  x(' + ', '.join(_fmt(f) for f in factors) + ')'


def describe(path: str, model, contract) -> List[str]:
    """Human-readable lines for ``contract`` (read from ``model`` at ``path``)."""
    c = contract
    digest = sha256_file(path)
    return ([f'{path}  ({os.path.getsize(path) / 1024:.1f} KiB, sha256 {digest[:16]})',
             f'  contract         format {c.format_version}, symphony_ros '
             f'{c.project_version}, exported {c.exported_at}',
             f'  env              {c.env}']
            + _observation_lines(c) + _robot_lines(c) + _task_lines(c) + _training_summary(c)
            + [_graph_line(c, model)])


def _observation_lines(c) -> List[str]:
    """Say the observation: its spec, what it needs on a robot, its terms and scales."""
    o = c.observation
    deploy = {True: 'computable from robot state', False: 'SIMULATOR ONLY (not deployable)',
              None: 'plain Gymnasium observation'}[o.reproducible_from_state]
    quat = f', quaternions {o.quaternion_convention}' if o.quaternion_convention else ''
    lines = [f'  observation      {o.name}: {c.obs_dim} values{quat}; {deploy}']
    needs = (o.spec or {}).get('needs')
    if needs and o.reproducible_from_state:
        legs = odometry_of(c.train_config) == 'legs'
        odom = (' (odom: trained on leg odometry; deploy with estimator:=legs)' if legs else
                ' (odom: a state estimator on a robot)')
        lines.append(f'    inputs         {", ".join(needs)}' + (odom if 'odom' in needs else ''))
    if o.history > 1:
        lines.append(f'    history        the last {o.history} observations of '
                     f'{o.frame_dim} values, newest first (the terms below each time)')
    scales = (o.spec or {}).get('scales') or {}
    for name, s in term_slices(o.terms).items():
        factor = _scale_text(scales.get(name))
        lines.append(f'    [{s.start:4d}:{s.stop:4d}]  {name:<24} {s.stop - s.start:4d}{factor}')
    return lines


def _robot_lines(c) -> List[str]:
    """Say the action, the robot it drives and its periods."""
    r, (lo, hi) = c.robot, c.action_range
    lines = [f'  action           {c.act_dim} values in [{_fmt(lo)}, {_fmt(hi)}]']
    if r is not None:
        lines += [f'  robot            {r.name}, MJCF sha256 {r.xml_sha256[:16]}',
                  f'  action kind      {r.action_kind}',
                  f'  action->torque   {r.action_to_torque}'] + _joint_table(r)
    else:
        lines.append('  robot            none (not a robot env; no joint names to check)')
    dt = f'{c.control_dt:g} s ({1.0 / c.control_dt:.4g} Hz)' if c.control_dt else 'unknown'
    lines.append(f'  control period   {dt}')
    if r is not None and r.pd_dt:
        lines.append(f'  PD period        {r.pd_dt:g} s ({1.0 / r.pd_dt:.4g} Hz)')
    return lines


def _task_lines(c) -> List[str]:
    """Say the task: its command ranges and gait clock."""
    if not c.task:
        return []
    lines = [f'  task             {c.task.get("name", "?")}']
    for key, (lo, hi) in (c.task.get('command_ranges') or {}).items():
        lines.append(f'    command {key:<10} [{_fmt(lo)}, {_fmt(hi)}]')
    if c.task.get('gait_period'):
        from ..robot.gait import GaitClock
        stance = c.task.get('gait_stance', GaitClock.stance)
        lines.append(f'    gait clock       {_fmt(c.task["gait_period"])} s cycle, stance '
                     f'{_fmt(stance)} (counted by the policy loop)')
    return lines


def _training_summary(c) -> List[str]:
    """Say how the policy was trained: learner, steps, ranges, rewards, critic, stress."""
    a, tc = c.algorithm_config, c.train_config
    ret = 'n/a' if c.test_return is None else f'{c.test_return:.2f}'
    return [f'  algorithm        {c.algorithm} ({a.get("name", "?")}), hidden_dim '
            f'{a.get("hidden_dim", "?")}',
            f'  training         {c.training_steps} steps{_source_steps(c)}, test return '
            f'{ret}, seed {tc.get("seed", "?")}',
            '  randomization    ' + randomization_line(
                tc, None if tc.get('distill') else c.training_steps),
            *_training_lines(c),
            '  reward weights   ' + reward_text(tc),
            '  critic           ' + ('privileged (saw the exact state in training)'
                                     if tc.get('privileged_critic') else "the actor's observation")
            + ('; it saw the dynamics each episode drew' if tc.get('critic_dynamics') else '')
            + ('; half of each batch mirrored left-right' if tc.get('mirror') else '')
            + ('; the actor left-right symmetric by construction'
               if tc.get('symmetric_actor') else ''),
            '  stress           ' + _stress_line(c.stress),
            f'  weights sha256   {c.weights_sha256}']


def _graph_line(c, model) -> str:
    """Say the ONNX graph: opset, input and output names and shapes."""
    dims = {v.name: '[' + ', '.join(str(d.dim_param or d.dim_value)
                                    for d in v.type.tensor_type.shape.dim) + ']'
            for v in list(model.graph.input) + list(model.graph.output)}
    return (f'  graph            opset {c.opset}, {c.input_name} {dims.get(c.input_name)} '
            f'float32 -> {c.output_name} {dims.get(c.output_name)} float32')


def randomization_line(tc: dict, step: Optional[int] = None) -> str:
    """Say how the training env is perturbed (its latest settings; the changes: below).

    With ``step`` (a policy's training steps), also the width its ramp had reached there when
    short of the whole: a resume under new ranges restarts the ramp, and an actor taken soon
    after trained near the nominal robot whatever the ranges say.
    """
    where = 'training and test envs' if tc.get('eval_randomized') else 'training env only'
    scale = float(tc.get('randomize_scale', 1.0))
    line = f'{tc.get("randomize", "none")} x{scale:g} ({where})'
    from ..core.run_dir import changes_randomization, source_width, stored_width
    if tc.get('randomize_ramp'):
        changes = [e for e in tc.get('curriculum') or [] if changes_randomization(e)]
        start = source_width(tc.get('init_source') or {}, tc.get('randomize', 'none'), scale)
        if changes:
            last = changes[-1]
            was = float(last['scale_before'])
            going_on = f' on from x{was:.2f}' if last.get('same_widths') else ''
            line += f', widened{going_on} from step {int(last["step"]):,}'
        else:
            line += (f', widened from {start:.2f} of it (where its source ended)' if start
                     else ', widened from none')
        line += f' over {tc["randomize_ramp"]:,} steps'
        width = stored_width(tc, step) if step is not None else 1.0
        if width < 1.0:
            line += f'; at step {step:,}, this actor\'s, x{width * scale:.2f} ({width:.0%} of it)'
    return line


def reward_text(tc: dict) -> str:
    """Say a run's reward weights, tracking width, gait-free error and stand gait if set."""
    sigma, free = tc.get('tracking_sigma'), tc.get('gait_free_error')
    stand = tc.get('stand_gait')
    return ((tc.get('reward_weights') or "the task's")
            + (f'; tracking width {sigma:g}' if sigma else '')
            + (f'; gait terms free past {free:g} m/s of error' if free else '')
            + (f'; told to stand: {stand}' if stand else ''))


def history_lines(tc: dict) -> List[str]:
    """List what the run started from and each setting a resume changed, one step a line.

    A policy is shaped by every setting it trained under, so each change stays in view, and
    apart from the randomisation: a change of reward weights or lr is no perturbation.
    """
    from ..core.config import curriculum_text
    lines = []
    if tc.get('init_from'):
        src = tc.get('init_source') or {}
        known = (f' (sha256 {src["sha256"][:16]}, {int(src.get("steps") or 0):,} steps)'
                 if src.get('sha256') else '')
        lines.append(f'  source           fine-tuned from {tc["init_from"]}{known}' + (
            ' with its replay buffer' if tc.get('init_buffer') else ''))
    for i, step in enumerate(tc.get('curriculum') or []):
        label = '  curriculum       ' if i == 0 else ' ' * 19
        lines.append(f'{label}from step {step["step"]:,}: {curriculum_text(step)}')
    return lines


def _training_lines(c) -> List[str]:
    """List the ranges trained under, where the training came from and what changed in it.

    A student's ranges are its distillation's: they follow the distilled line, after the
    teacher's own history, so that each block reads as one training.
    """
    distill = c.train_config.get('distill')
    ranges = _ranges_lines(c.randomization)
    if distill:
        return history_lines(c.train_config) + _distill_lines(distill) + ranges
    return ranges + history_lines(c.train_config)


def _distill_lines(record: Optional[dict]) -> List[str]:
    """Say what a student was distilled from; the ranges listed next are then its own."""
    if not record:
        return []
    sha = str(record.get('teacher_sha256') or '')[:16]
    settings = record.get('settings') or {}
    return [f'  distilled        from {record.get("teacher")} (sha256 {sha}) by symphony '
            f'distill: {int(record.get("rounds", 0))} rounds, {int(record.get("steps", 0)):,} '
            f'steps, seed {settings.get("seed", "?")}; the ranges below are the '
            "distillation's, the lines above its teacher's training"]


def _ranges_lines(form: Optional[dict]) -> List[str]:
    """List the ranges the training env drew from, the knobs away from nominal only."""
    if not form:
        return []
    from ..robot.ranges import AUTO, KNOBS, unset_range
    ranges = form.get('ranges') or {}
    moved = [f'{k} [{lo:g}, {hi:g}]' for k, (lo, hi) in ranges.items()
             if k in KNOBS and (lo, hi) != unset_range(k)]
    wide = form.get('robot_wide') or []
    share, depth = float(form.get('hard_share') or 0.0), form.get('hard_depth', 1.0)
    corner = ('the hard corner' if depth == 1.0 else
              'a depth toward the hard corner that followed the actor' if depth == AUTO else
              f'{depth:g} of the way to the hard corner')
    text = (', '.join(moved) or 'every knob nominal') + (
        f'; drawn for the whole robot: {", ".join(wide)}' if wide else '') + (
        f'; {share:.0%} of episodes at {corner}' if share else '')
    return textwrap.wrap(text, 96,
                         initial_indent='    ranges         ', subsequent_indent=' ' * 19)


def _source_steps(c) -> str:
    """Say how many steps the actor saw in all, when the run began from a recorded source."""
    before = (c.train_config.get('init_source') or {}).get('steps')
    if not before:
        return ''
    return f' ({int(c.training_steps) + int(before):,} with the {int(before):,} before it)'


def _stress_line(s) -> str:
    """Return the stress verdict the contract carries, or say it carries none."""
    if not s:
        return 'no report (symphony stress, then symphony export --stress REPORT)'
    failed = f'; failed: {", ".join(s["failed"])}' if s.get('failed') else ''
    budgets = ''
    if 'latency_budget_ms' in s:
        budget = s['latency_budget_ms']
        budgets = '; latency budget ' + ('none' if budget is None else f'{budget:g} ms')
    if 'worst_depth' in s:
        depth = s['worst_depth']
        budgets += '; worst depth ' + ('none' if depth is None else f'{depth:g}')
    bound = 'upper 95 % bound of the ' if s.get('bound') == 'upper95' else ''
    most = s.get('max_tracking_error')
    track = f' and tracking error per stride <= {most:g} m/s' if most is not None else ''
    yaw = s.get('max_yaw_error')
    track += f' and yaw-rate error per stride <= {yaw:g} rad/s' if yaw is not None else ''
    return (f'{s.get("verdict")} ({bound}fall rate <= {s.get("max_fall_rate")}{track} in the '
            f'{s.get("scope")} conditions, {s.get("episodes")} episodes each{failed})'
            + budgets)


def _joint_table(r) -> List[str]:
    """One line per joint: gear and ctrl range (torque) or the PD law's numbers."""
    width = max(len(j) for j in r.joint_names)
    if r.action_kind != 'pd_position':
        lines = [f'    {"#":>3}  {"joint":<{width}} {"gear":>6}  ctrl range']
        for i, (j, g, (a, b)) in enumerate(zip(r.joint_names, r.gear, r.ctrl_range)):
            lines.append(f'    {i:3d}  {j:<{width}} {_fmt(g):>6}  [{_fmt(a)}, {_fmt(b)}]')
        return lines
    lines = [f'    {"#":>3}  {"joint":<{width}} {"kp":>8} {"kd":>7} {"scale":>7} '
             f'{"default":>8} {"effort":>7}']
    for i, row in enumerate(zip(r.joint_names, r.kp, r.kd, r.action_scale, r.default_pose,
                                r.effort_limits)):
        j, kp, kd, scale, default, effort = row
        lines.append(f'    {i:3d}  {j:<{width}} {kp:8.3f} {kd:7.3f} {scale:7.4f} '
                     f'{default:8.3f} {_fmt(effort):>7}' + ('  held' if scale == 0 else ''))
    held = sum(1 for s in r.action_scale if s == 0)
    if held:
        lines.append(f'    held: {held} joints keep their default pose under PD (action scale '
                     f'0); the policy drives the other {len(r.action_scale) - held}')
    return lines


def run(args: argparse.Namespace) -> int:
    """Print the contract; unreadable files and bad contracts are CliErrors (exit 2)."""
    from ..policy.contract import METADATA_KEY, read_contract
    from ..policy.errors import PolicyError
    from ..policy.onnx_file import load_model
    from .errors import CliError
    if args.since is not None and not args.falls:
        raise CliError('--since: counts training episodes from a step; it goes with --falls')
    check_critic_args(args)
    if os.path.isdir(args.file):
        if args.critic:
            return run_critic(args)
        return _run_falls(args) if args.falls else _run_folder(args)
    for flag in ('falls', 'critic'):
        if getattr(args, flag):
            raise CliError(f'--{flag}: reads a training run\'s folder; {args.file} is not a '
                           'folder')
    try:
        model = load_model(args.file)
        meta = {p.key: p.value for p in model.metadata_props}
        if args.json and METADATA_KEY in meta:
            return _emit(meta[METADATA_KEY])
        contract = read_contract(meta, args.file)
    except PolicyError as exc:
        raise CliError(str(exc)) from None
    _emit('\n'.join(describe(args.file, model, contract)))
    problem = contract_problem(args.file, contract, args.robot)
    if problem:
        raise CliError(f'{problem} (the contract above is what the file claims)')
    return 0


def _run_folder(args: argparse.Namespace) -> int:
    """Print where the training run in folder ``args.file`` stands."""
    import json
    from ..core.run_dir import RunDirError
    from ..core.run_summary import read_run
    from .errors import CliError
    from .inspect_run import describe_run, run_dict
    if args.robot:
        raise CliError(f'--robot: checks a policy file against a robot; {args.file} is a '
                       'folder (export it first: symphony export RUN_DIR -o policy.onnx)')
    try:
        summary = read_run(args.file)
    except RunDirError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        return _emit(json.dumps(run_dict(summary), indent=2))
    return _emit('\n'.join(describe_run(summary)))


def _run_falls(args: argparse.Namespace) -> int:
    """Print which draws fell the training episodes of run folder ``args.file``."""
    import json
    from ..core.run_dir import RANDOMIZATION_LOG
    from ..stress.training_falls import analyse, lines
    from .errors import CliError
    path = os.path.join(args.file, RANDOMIZATION_LOG)
    if not os.path.isfile(path):
        raise CliError(f'{path}: no such file (the run\'s training env is not randomised: '
                       '--randomize)')
    try:
        report = analyse(path, args.last, args.since)
    except (OSError, ValueError) as exc:
        raise CliError(str(exc)) from None
    if args.json:
        return _emit(json.dumps(report, indent=2))
    return _emit('\n'.join(lines(report)))


def _robot_candidates(contract) -> List[str]:
    """Names a contract's robot may be found by: its name, then a robot file in its env id."""
    names = [contract.robot.name]
    _, sep, robot = str(contract.env).partition(':')
    if sep and robot.endswith(('.yaml', '.yml')):
        names.append(robot)
    return names


def contract_problem(path: str, contract, robot_arg: Optional[str] = None) -> str:
    """Run the checks every consumer runs (deploy, doctor, evaluate); return the failure.

    The graph against the contract (names, dtypes, dims, a probe run) as ``OnnxPolicy``
    loads it, and a robot contract against this install's description of that robot: a
    file inspect passes is a file the rest of the tool accepts.
    """
    from ..policy.errors import PolicyError
    from ..policy.runtime import OnnxPolicy
    try:
        policy = OnnxPolicy(path)
        if contract.robot is not None:
            from ..robot.description import get_robot
            robot = None
            for name in [robot_arg] if robot_arg else _robot_candidates(contract):
                try:
                    robot = get_robot(name)
                    break
                except (KeyError, ValueError) as exc:
                    if robot_arg:
                        return f'--robot {robot_arg}: {exc}'
            if robot is None:
                return (f'{path}: robot {contract.robot.name!r} is not a robot this install '
                        'knows (give its robot file with --robot); deploy would refuse it')
            policy.check_description(robot)
    except PolicyError as exc:
        return str(exc)
    return ''


def _emit(text: str) -> int:
    """Print ``text``; a reader that stops early (``| head``) is not an error."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0

"""symphony demo: a policy drives the simulated robot through the ROS graph.

Three steps, all on this machine and without a ROS 2 distribution: the deploy graph
(mujoco_sim_node -> policy_node -> watchdog_node -> sim, lockstep, over real DDS) runs for
``--ticks`` control steps and records a bag; ``symphony evaluate`` scores the bag; MuJoCo
renders the recorded states to a GIF where it can render offscreen.

Each robot runs its shipped policy (``paths.SHIPPED_POLICIES``) or the one given with
``--policy``. A velocity-task robot (``--robot g1``) follows ``--cmd-vel``, which the sim
publishes on cmd_vel as a teleop would, so the bag records the command; the summary adds
the velocity-tracking error.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from typing import List, Optional

from .. import paths
from ..graph.deploy import ESTIMATORS
from ..util.fields import number

SHOWN = ('episode ', 'FAULT', 'error', 'Error', 'refusing', 'done:')
"""Lines of the graph's output worth showing live (everything goes to launch.log)."""
DEFAULT_CMD_VEL = '0.5,0,0'
"""Walk forward at 0.5 m/s: inside the G1's trained ranges, and visible in a GIF."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the demo's flags."""
    p.add_argument('--robot', default='humanoid',
                   help='robot name or robot file (default: humanoid)')
    p.add_argument('--policy', default=None,
                   help='exported ONNX policy (default: the robot\'s shipped one)')
    p.add_argument('--cmd-vel', default=None, metavar='VX,VY,WZ',
                   help='velocity command (m/s, m/s, rad/s) for a velocity-task robot '
                   f'(default: {DEFAULT_CMD_VEL})')
    p.add_argument('--ticks', type=number(int, 1), default=1000,
                   help='control steps to run (default 1000: 15 s for the humanoid, 20 s '
                   'for the G1)')
    p.add_argument('--timing', choices=('lockstep', 'realtime'), default='lockstep',
                   help='lockstep: deterministic, as fast as the machine allows')
    p.add_argument('--estimator', choices=ESTIMATORS, default='none',
                   help='legs: the policy (and the watchdog) read the leg odometry of '
                   'state_estimator_node instead of the sim\'s exact odometry, and the summary '
                   'says how far the estimate was off (a robot whose file names feet:)')
    p.add_argument('-o', '--out', default=None,
                   help='output folder (default: runs/demo_<date>_<time>)')
    p.add_argument('--no-video', action='store_true', help='skip the GIF')
    p.add_argument('--render', nargs=2, metavar=('BAG', 'GIF'), help=argparse.SUPPRESS)


def _deploy(args: argparse.Namespace, out: str) -> None:
    from .errors import CliError
    env = dict(os.environ)
    # The demo talks to itself only: keep discovery on this machine unless told otherwise.
    env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    cmd = [sys.executable, '-m', 'symphony_ros.cli.launch_cmd', 'deploy', 'robot:=sim',
           f'robot_model:={args.robot}', f'timing:={args.timing}', f'ticks:={args.ticks}',
           'record:=true', f'record_dir:={os.path.join(out, "bag")}',
           f'policy:={args.policy}', f'estimator:={args.estimator}'] + (
               [f'cmd_vel:={args.cmd_vel}'] if args.cmd_vel else [])
    log_path = os.path.join(out, 'launch.log')
    with open(log_path, 'w', encoding='utf-8') as log:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
        for line in proc.stdout:
            log.write(line)
            if any(s in line for s in SHOWN):
                print('  ' + line.rstrip())
        code = proc.wait()
    if code != 0:
        raise CliError(f'the deploy graph exited with {code}; see {log_path}')


def _between(report: dict) -> str:
    # A realtime run ends with the sim gone quiet: the watchdog's staleness FAULT then is
    # no fault of the policy's, and the summary says where it fell.
    causes = [f['cause'] for f in report.get('faults', []) if f['episode'] is None]
    return (f' ({len(causes)} between episodes: {", ".join(sorted(set(causes)))})'
            if causes else '')


def _summary(report: dict) -> List[str]:
    o = report['overall']
    ret, length = o['return'], o.get('length') or {}
    lines = ['return (mean over complete episodes): '
             + ('-' if ret['mean'] is None else f'{ret["mean"]:.1f} ± {ret["std"] or 0:.1f}'),
             f'episodes: {o["episodes"]} ({o["complete_episodes"]} complete), falls '
             f'{o["falls"]}, mean length '
             + ('-' if length.get('mean') is None else f'{length["mean"]:.0f} steps'),
             f'watchdog faults: {o["faults"]}{_between(report)}']
    tracking = o.get('tracking_rms')
    if tracking and tracking.get('lin_vel') is not None:
        stride = tracking.get('stride_lin_vel')
        lines.insert(1, f'velocity tracking error (RMS): {tracking["lin_vel"]:.3f} m/s, yaw '
                     f'rate {tracking["yaw_rate"]:.3f} rad/s'
                     + ('' if stride is None else f'; over a gait cycle {stride:.3f} m/s, '
                        f'{tracking["stride_yaw_rate"]:.3f} rad/s'))
    policy = report.get('diagnostics', {}).get('symphony/policy_node')
    if policy:
        lines.append(f'policy loop: tick p50 {float(policy["tick_p50_us"]):.0f} µs, p99 '
                     f'{float(policy["tick_p99_us"]):.0f} µs; inference p50 '
                     f'{float(policy["inference_p50_us"]):.0f} µs, p99 '
                     f'{float(policy["inference_p99_us"]):.0f} µs')
    lat = o.get('latency_ms') or {}
    if lat.get('p50') is not None:
        lines.append(f'state -> command latency: p50 {lat["p50"]:.2f} ms, p99 '
                     f'{lat["p99"]:.2f} ms ({lat.get("source", "stamps")})')
    estimate = report.get('odometry_estimate')
    if estimate and estimate['matched']:
        x, y, z = estimate['lin_vel_rms']
        mean = ' / '.join(f'{b:+.3f}' for b in estimate['lin_vel_mean'])
        lines.append(f'leg odometry against the sim\'s truth: velocity RMS {x:.3f} / {y:.3f} / '
                     f'{z:.3f} m/s (mean {mean}), height {1000 * estimate["height_rms"]:.1f} mm '
                     f'({estimate["matched"]} states)')
    return lines


def _video(bag: str, gif: str) -> str:
    from ..robot.render import offscreen_backend
    backend = offscreen_backend()
    if backend is None:
        return ('no video: MuJoCo cannot render offscreen here (neither EGL nor OSMesa '
                'works; install libegl1 or libosmesa6)')
    env = dict(os.environ, MUJOCO_GL=backend, PYOPENGL_PLATFORM=backend)
    done = subprocess.run([sys.executable, '-m', 'symphony_ros.cli.demo_cmd', '--render',
                           bag, gif], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        return f'no video: rendering failed ({done.stderr.strip().splitlines()[-1:]})'
    return f'video: {gif} (MUJOCO_GL={backend})'


def _render(bag: str, gif: str) -> int:
    # Runs in a child whose MUJOCO_GL was set before mujoco was first imported.
    from ..bag.evaluate import evaluate_bag
    from ..robot.render import render_gif
    ev = evaluate_bag(bag)
    states = [s.state for s in ev.timeline.states if s.has_odom]
    render_gif(states, gif, ev.timeline.robot.control_dt, robot=ev.timeline.robot)
    return 0


def _check_out(out: str) -> None:
    """Refuse an output that is not a new or empty folder, before any process starts.

    A demo folder holds a bag the recorder will not overwrite and a launch.log the new run
    would: an earlier demo is never touched.
    """
    from .errors import CliError
    if os.path.exists(out) and not os.path.isdir(out):
        raise CliError(f'--out {out}: exists and is not a folder')
    if os.path.isdir(out) and os.listdir(out):
        held = ', '.join(sorted(os.listdir(out))[:4])
        raise CliError(f'--out {out}: not empty ({held}); choose a new folder, or leave '
                       '--out out for runs/demo_<date>_<time>')
    probe = os.path.abspath(out)
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe) or not os.access(probe, os.W_OK | os.X_OK):
        raise CliError(f'--out {out}: cannot create it in {probe} (not a writable folder)')


def _check_policy(args: argparse.Namespace) -> None:
    """Resolve robot, policy and command, and refuse a mismatch before any process starts.

    Sets ``args.policy`` (the robot's shipped one, `paths.SHIPPED_POLICIES`) and
    ``args.cmd_vel`` (the default command for a policy that takes one).
    """
    from ..deploy.policy_loop import DeployError, PolicyLoop
    from ..policy.errors import PolicyError
    from ..robot.description import get_robot, no_feet
    from ..sim.config import SimConfig
    from .errors import CliError
    try:
        robot = get_robot(args.robot)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        raise CliError(f'--robot {args.robot}: {exc}') from None
    refusal = no_feet(robot) if args.estimator == 'legs' else None
    if refusal:
        raise CliError(f'--estimator legs: {refusal}')
    if args.policy is None:
        args.policy = paths.shipped_policy_path(robot.name)
        if args.policy is None:
            raise CliError(f'--robot {args.robot}: no policy ships for this robot; train one '
                           f'with `symphony train --robot {args.robot}`, export it with '
                           '`symphony export`, and pass it with --policy FILE.onnx')
    if not os.path.isfile(args.policy):
        shipped = paths.SHIPPED_POLICIES.get(robot.name)
        hint = f'the shipped policy is models/{shipped}; ' if shipped else ''
        raise CliError(f'--policy {args.policy}: no such file ({hint}export your own with '
                       'symphony export)')
    try:
        loop = PolicyLoop(args.policy, robot)
    except (DeployError, PolicyError, ValueError) as exc:
        raise CliError(f'--policy {args.policy}: cannot drive robot {robot.name!r}: '
                       f'{str(exc).splitlines()[0]}') from None
    if not loop.needs_command:
        if args.cmd_vel is not None:
            raise CliError(f'--cmd-vel {args.cmd_vel}: the policy {args.policy} takes no '
                           'velocity command')
        return
    args.cmd_vel = args.cmd_vel or DEFAULT_CMD_VEL
    try:
        SimConfig(cmd_vel=args.cmd_vel).velocity_command()
    except ValueError as exc:
        raise CliError(f'--cmd-vel {args.cmd_vel}: {exc}') from None


def run(args: argparse.Namespace) -> int:
    """Deploy, record, evaluate, render; print the summary."""
    if args.render:
        return _render(*args.render)
    _check_policy(args)
    out = os.path.abspath(args.out or time.strftime('runs/demo_%Y%m%d_%H%M%S'))
    _check_out(args.out or out)
    os.makedirs(out, exist_ok=True)
    t0 = time.monotonic()
    command = f', command {args.cmd_vel} on /cmd_vel' if args.cmd_vel else ''
    print(f'[demo] 1/3 deploy: {args.policy} drives the sim {args.robot} for {args.ticks} '
          f'ticks ({args.timing}{command}) through policy_node and watchdog_node, recording '
          f'to {out}/bag')
    _deploy(args, out)
    print('[demo] 2/3 evaluate the recording')
    from ..bag.evaluate import evaluate_bag
    from ..bag.report import write_report
    ev = evaluate_bag(os.path.join(out, 'bag'))
    written = write_report(ev, os.path.join(out, 'report'))
    print('[demo] 3/3 video')
    video = 'no video: --no-video' if args.no_video else _video(
        os.path.join(out, 'bag'), os.path.join(out, 'demo.gif'))
    print(f'\n== symphony demo ({time.monotonic() - t0:.0f} s) ==')
    for line in _summary(ev.report) + [video, f'report: {written["md"]} (+ report.json, '
                                       f'plots) in {out}/report']:
        print('  ' + line)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``symphony demo`` alone (also the GIF renderer's entry point)."""
    from .errors import standalone
    return standalone('demo', __doc__, add_arguments, run, argv)


if __name__ == '__main__':
    sys.exit(main())

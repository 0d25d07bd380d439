"""A velocity policy under fixed commands: falls and tracking error on held-out seeds.

Each named command (by default the stress report's held commands: stand still, walk
forward, turn either way) is held for whole episodes of the velocity task (no resampling)
on ``--episodes`` seeds from ``--seed`` on, nominal physics;
``--obs-noise K`` adds the robot's observation noise at K times its training amplitudes
(what the ``default`` ranges give every training step, `symphony_ros.robot.ranges.OBS_NOISE`),
so a policy can be judged clean and as it was trained; ``--noise-terms`` keeps the noise
on those observation terms only (which one a policy that walks only under noise acts on).
Tracking errors are RMS over the control steps after the first ``--settle`` seconds:
planar |v_xy - cmd_xy| in m/s and |yaw rate - cmd| in rad/s, base frame as the reward
measures them, and the mean of what was reached (vx, vy, yaw rate): a policy that moves
too slowly and one that wanders read alike in an RMS, not in the mean. The stride errors
average the velocity over one gait cycle first (`symphony_ros.robot.tracking`): the sway
within each step cancels, and what remains is whether the robot goes where it is told.
Touchdowns per second count feet landing after a control step or more in the air: 2.5/s
for the G1's 0.8 s gait cycle, 0 for a policy that stands or shuffles. The command step is
the stress report's (`symphony_ros.stress.run.CommandJitter`): RMS target change per control step.
``--gif`` writes the first forward episode as an animated GIF. A policy that takes several
frames (``observation.history``) is given them, newest first, as the deploy loop stacks them.

    OMP_NUM_THREADS=1 MUJOCO_GL=egl python bench/velocity_commands.py POLICY.onnx [--gif out.gif]
"""

import argparse
import dataclasses
import json
import math

import numpy as np

from symphony_ros.core.envs import make_env
from symphony_ros.policy.runtime import OnnxPolicy
from symphony_ros.robot.frame_stack import FrameStack
from symphony_ros.robot.randomize import randomize_env
from symphony_ros.robot.ranges import OBS_NOISE, point_spec
from symphony_ros.robot.tracking import WindowTracking, window_steps
from symphony_ros.stress.conditions import HELD_COMMANDS
from symphony_ros.stress.run import CommandJitter

COMMANDS = {name: cmd for name, (cmd, _) in HELD_COMMANDS.items()}
"""Command name -> (vx m/s, vy m/s, yaw rate rad/s): the stress report's held commands."""


def held_env(policy, obs_noise=0.0, terms=None):
    """Return ``policy``'s env (its contract's task and observation) holding each command for
    whole episodes: no resampling; ``obs_noise``: the training noise's factor (0: none), on
    ``terms`` only when given (names of `OBS_NOISE`)."""
    env = make_env(policy.contract.env, policy.contract.observation.name)
    base = env.unwrapped
    base.task = dataclasses.replace(base.task, resample_steps=base.task.episode_steps + 1)
    if obs_noise:
        spec = point_spec({'obs_noise_scale': obs_noise})
        if terms:
            spec = dataclasses.replace(spec, obs_noise={t: OBS_NOISE[t] for t in terms})
        env = randomize_env(env, spec, base.robot)
    return env


def _terms(text):
    terms = [t for t in text.split(',') if t]
    bad = [t for t in terms if t not in OBS_NOISE]
    if bad or not terms:
        raise argparse.ArgumentTypeError(f'expected terms among {", ".join(OBS_NOISE)}, '
                                         f'got {text!r}')
    return terms


def start(env, policy, command, seed):
    """Reset ``env`` at ``seed`` under ``command``; return (its first observation, the frame
    stack that turns each observation into the policy's input)."""
    env.reset(seed=seed)
    env.unwrapped.command[:] = command
    obs = env.unwrapped.reobserve()[0]
    return obs, FrameStack(policy.contract.observation.history, len(obs)).push


def run_episode(env, policy, command, seed, settle_steps, stride):
    """Return (steps, fell, squared planar errors, squared yaw errors, states, touchdowns,
    reached velocities (vx, vy, yaw rate) after the settle time, command step); ``stride``
    (a `WindowTracking`) takes the velocities after the settle time.

    Touchdowns: feet landing after at least one control step in the air (a step taken).
    """
    base = env.unwrapped
    obs, stacked = start(env, policy, command, seed)
    lin, yaw, states, steps, reached = [], [], [base.robot_state()], 0, []
    down, touchdowns = base.rewards.feet_contact(base.data).copy(), 0
    jitter = CommandJitter(base.model)
    stride.restart()
    while True:
        obs, _, fell, truncated, _ = env.step(policy.act(stacked(obs)))
        steps += 1
        jitter.add(base.data.ctrl)
        s = base.robot_state()
        states.append(s)
        now = base.rewards.feet_contact(base.data)
        touchdowns += int(np.count_nonzero(now & ~down))
        down = now.copy()
        if steps > settle_steps:
            v, wz = s.base_lin_vel, s.base_ang_vel[2]
            lin.append((command[0] - v[0]) ** 2 + (command[1] - v[1]) ** 2)
            yaw.append((command[2] - wz) ** 2)
            reached.append((v[0], v[1], wz))
            stride.add(command, (v[0], v[1], wz))
        if fell or truncated:
            return steps, bool(fell), lin, yaw, states, touchdowns, reached, jitter.value()


def _command(text):
    name, sep, values = text.partition('=')
    try:
        vx, vy, wz = (float(v) for v in values.split(','))
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected NAME=VX,VY,WZ, got {text!r}') from None
    if not sep or not name:
        raise argparse.ArgumentTypeError(f'expected NAME=VX,VY,WZ, got {text!r}')
    return name, (vx, vy, wz)


def main():
    """Print one JSON line per command and one summary line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('policy')
    p.add_argument('--episodes', type=int, default=10)
    p.add_argument('--seed', type=int, default=20000, help='first held-out seed')
    p.add_argument('--settle', type=float, default=1.0, help='s before errors count')
    p.add_argument('--gif', default='', help='write the first forward episode here')
    p.add_argument('--command', action='append', type=_command, metavar='NAME=VX,VY,WZ',
                   help='a command to hold instead of the defaults (repeatable), '
                        'e.g. forward_0.3=0.3,0,0')
    p.add_argument('--obs-noise', type=float, default=0.0, metavar='K',
                   help='observation noise at K times the training amplitudes (default 0)')
    p.add_argument('--noise-terms', type=_terms, default=None, metavar='T1,T2',
                   help='with --obs-noise: only these terms are noisy (default: all)')
    args = p.parse_args()
    commands = dict(args.command) if args.command else COMMANDS
    policy = OnnxPolicy(args.policy)
    env = held_env(policy, args.obs_noise, args.noise_terms)
    base = env.unwrapped
    settle_steps = int(round(args.settle / base.robot.control_dt))
    window = window_steps(base.task.gait_period, base.robot.control_dt)
    summary = {}
    for name, command in commands.items():
        falls, lengths, lin, yaw, touchdowns, reached, jitters = 0, [], [], [], 0, [], []
        stride = WindowTracking(window)
        for k in range(args.episodes):
            steps, fell, l2, y2, states, down, got, jit = run_episode(
                env, policy, np.array(command), args.seed + k, settle_steps, stride)
            jitters += [] if jit is None else [jit]
            reached += got
            falls += fell
            touchdowns += down
            lengths.append(steps)
            lin += l2
            yaw += y2
            if args.gif and name.startswith('forward') and k == 0:
                from symphony_ros.robot.render import render_gif
                render_gif(states, args.gif, base.robot.control_dt, robot=base.robot)
        row = {'command': name, 'vx_vy_wz': command, 'episodes': args.episodes,
               'falls': falls, 'mean_steps': float(np.mean(lengths)),
               'lin_vel_rms_error': math.sqrt(np.mean(lin)) if lin else None,
               'yaw_rate_rms_error': math.sqrt(np.mean(yaw)) if yaw else None,
               'stride_lin_vel_error': stride.lin_rms, 'stride_yaw_rate_error': stride.yaw_rms,
               'mean_reached': (np.round(np.mean(reached, axis=0), 3).tolist()
                                if reached else None),
               'touchdowns_per_s': touchdowns / (sum(lengths) * base.robot.control_dt),
               'command_step': float(np.mean(jitters)) if jitters else None}
        summary[name] = row
        print(json.dumps(row))
    print(json.dumps({'policy': args.policy, 'seeds': [args.seed, args.seed + args.episodes - 1],
                      'fall_rate': sum(r['falls'] for r in summary.values())
                      / (args.episodes * len(commands))}))


if __name__ == '__main__':
    main()

"""Leg odometry against the simulator's truth, and what one update costs.

The G1's default policy walks on commands drawn from its contract's ranges (in process, the
training env); each control step's true state, less its base fields, goes through
`LegOdometry`, whose estimate is compared with the truth: the base velocity's RMS error per
axis (base frame), its mean (the bias a stride's average keeps) and the height's, over
``--episodes`` episodes of ``--steps`` steps, in four cases: as simulated; told to walk 0.5
m/s forward throughout (stress's command_forward_0.5: the drawn commands include standing
and slow walks); kicked
(``--kick`` m/s forward at mid-episode, a step in velocity that the accelerometer feels as
a push over one control period, as the training env's and the sim node's kicks are); and
with the joint velocities noisy (uniform +-``--joint-velocity-noise`` rad/s, the training
ranges' amplitude). The time of one update is the median and p99 over every call (one
thread).

    python bench/leg_odometry.py [--episodes 5] [--steps 600] [--kick 0.8]
"""

import argparse
import dataclasses
import time

import numpy as np

from symphony_ros.core.envs import make_env
from symphony_ros.paths import SHIPPED_POLICIES, share_path
from symphony_ros.policy.runtime import OnnxPolicy
from symphony_ros.robot import get_robot
from symphony_ros.robot.frame_stack import FrameStack
from symphony_ros.robot.leg_odometry import LegOdometry
from symphony_ros.stress.conditions import held_command


def rollout(policy: OnnxPolicy, seed: int, steps: int, kick: float, commands=None):
    """Return the true states of one episode (ended early by a fall)."""
    c = policy.contract
    env = make_env(c.env, c.observation.name, **({'commands': commands} if commands else {}))
    obs, _ = env.reset(seed=seed)
    stacked = FrameStack(c.observation.history, len(obs)).push
    state_of, states = env.get_wrapper_attr('robot_state'), []
    for step in range(steps):
        if step == steps // 2:
            env.unwrapped.push((kick, 0.0))
        obs, _, terminated, truncated, _ = env.step(policy.act(stacked(obs)))
        states.append(state_of())
        if terminated or truncated:
            break
    return states


def errors(states, odometry: LegOdometry, noise: float, rng, times):
    """Return [steps, 4] errors (velocity x, y, z in the base frame; height), first 5 out."""
    out = []
    for k, truth in enumerate(states):
        measured = dataclasses.replace(
            truth, base_position=None, base_orientation=None, base_lin_vel=None,
            base_ang_vel=None, joint_velocities=truth.joint_velocities + rng.uniform(
                -noise, noise, truth.joint_velocities.shape) if noise else truth.joint_velocities)
        start = time.perf_counter()
        estimate = odometry.update(measured)
        times.append(time.perf_counter() - start)
        if k >= 5:
            out.append(np.r_[estimate.base_lin_vel - truth.base_lin_vel,
                             estimate.base_position[2] - truth.base_position[2]])
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--episodes', type=int, default=5)
    p.add_argument('--steps', type=int, default=600)
    p.add_argument('--kick', type=float, default=0.8)
    p.add_argument('--joint-velocity-noise', type=float, default=1.5)
    args = p.parse_args()
    robot = get_robot('g1')
    policy = OnnxPolicy(share_path('models', SHIPPED_POLICIES['g1']))
    forward = held_command('command_forward_0.5')
    cases = {'as simulated': (0.0, 0.0, None), 'told 0.5 m/s forward': (0.0, 0.0, forward),
             f'kicked {args.kick:g} m/s': (args.kick, 0.0, None),
             f'joint velocities +-{args.joint_velocity_noise:g} rad/s': (
                 0.0, args.joint_velocity_noise, None)}
    times = []
    print(f'G1, {SHIPPED_POLICIES["g1"]}, {args.episodes} episodes of up to {args.steps} steps')
    print('| case | velocity RMS x / y / z (m/s) | mean (bias) x / y / z | height RMS (mm) '
          '| steps |')
    print('|---|---|---|---|---|')
    for name, (kick, noise, commands) in cases.items():
        rng, rows = np.random.default_rng(0), []
        for k in range(args.episodes):
            states = rollout(policy, 1000 + k, args.steps, kick, commands)
            rows += errors(states, LegOdometry(robot), noise, rng, times)
        rms, mean = np.sqrt(np.mean(np.square(rows), axis=0)), np.mean(rows, axis=0)
        print(f'| {name} | {rms[0]:.3f} / {rms[1]:.3f} / {rms[2]:.3f} | {mean[0]:+.3f} / '
              f'{mean[1]:+.3f} / {mean[2]:+.3f} | {1000 * rms[3]:.1f} | {len(rows)} |')
    us = 1e6 * np.array(times)
    print(f'one update: median {np.median(us):.0f} us, p99 {np.percentile(us, 99):.0f} us '
          f'({len(us)} calls)')


if __name__ == '__main__':
    main()

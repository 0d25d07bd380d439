"""Env speed without the learner: control steps/s of a robot env against a bare mj_step loop.

The env loop runs the full control step (PD law at every physics step, state read, the one
observation builder, reward terms, termination) with random actions in [-0.3, 0.3]; the bare
loop runs mj_step frame_skip times per control step on the same model with constant ctrl.
Each figure is the best of ``--repeats`` timed runs (the least disturbed by other processes).

    OMP_NUM_THREADS=1 python bench/env_steps.py [--env velocity:g1] [--steps 3000]
"""

import argparse
import json
import time

import mujoco
import numpy as np

from symphony_ros.core.envs import make_env


def env_rate(env, steps, seed=0):
    """Return control steps/s of ``env`` under random actions (resets included)."""
    rng = np.random.default_rng(seed)
    actions = rng.uniform(-0.3, 0.3, (steps,) + env.action_space.shape)
    env.reset(seed=seed)
    t0 = time.perf_counter()
    for a in actions:
        _, _, terminated, truncated, _ = env.step(a)
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - t0)


def bare_rate(env, steps):
    """Return control steps/s of frame_skip bare mj_step calls on the env's model."""
    model, robot = env.unwrapped.model, env.unwrapped.robot
    data = mujoco.MjData(model)
    data.qpos[:] = env.unwrapped.home
    t0 = time.perf_counter()
    for _ in range(steps):
        for _ in range(robot.frame_skip):
            mujoco.mj_step(model, data)
        if data.qpos[2] < 0.3:
            data.qpos[:], data.qvel[:] = env.unwrapped.home, 0.0
    return steps / (time.perf_counter() - t0)


def main():
    """Print one JSON line of figures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--env', default='velocity:g1')
    p.add_argument('--steps', type=int, default=3000)
    p.add_argument('--repeats', type=int, default=3)
    args = p.parse_args()
    env = make_env(args.env)
    full = max(env_rate(env, args.steps, k) for k in range(args.repeats))
    bare = max(bare_rate(env, args.steps) for _ in range(args.repeats))
    print(json.dumps({'env': args.env, 'control_steps_per_s': round(full, 1),
                      'bare_mj_step_control_steps_per_s': round(bare, 1),
                      'overhead': round(bare / full - 1.0, 3),
                      'frame_skip': env.unwrapped.robot.frame_skip}))


if __name__ == '__main__':
    main()

"""Env speed without the learner: control steps/s of a robot env against a bare mj_step loop.

The env loop runs the full control step (targets, frame_skip physics steps with the PD in
MuJoCo's servos, state read, the one observation builder, reward terms, termination) with
random actions in [-0.3, 0.3]. The bare loop replays the same trajectory with nothing but
mj_step: the targets of every control step and the state at every reset are recorded in an
untimed pass, so both loops simulate the same states and contacts. A third loop replays the
same trajectory through what a deployed policy runs each control step besides physics: the
PD targets of the action, the state read and the one observation builder (the issue's "observation
builder and PD law"; the reward terms and termination are training-only bookkeeping). Each
figure is the best of ``--repeats`` timed runs, the loops alternated (the least disturbed by
other processes).

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


def record(env, steps, seed=0):
    """Return [(reset qpos, [ctrl of each control step])] of :func:`env_rate`'s trajectory."""
    base = env.unwrapped
    rng = np.random.default_rng(seed)
    actions = rng.uniform(-0.3, 0.3, (steps,) + env.action_space.shape)
    env.reset(seed=seed)
    episodes = [(base.data.qpos.copy(), [])]
    for a in actions:
        _, _, terminated, truncated, _ = env.step(a)
        episodes[-1][1].append(base.data.ctrl.copy())
        if terminated or truncated:
            env.reset()
            episodes.append((base.data.qpos.copy(), []))
    return episodes


def replay_rate(env, episodes, per_step=None):
    """Return control steps/s of mj_step calls replaying ``episodes``.

    ``per_step(data)``, if given, runs after each control step's physics and is timed with it.
    """
    model, skip = env.unwrapped.model, env.unwrapped.robot.frame_skip
    data = mujoco.MjData(model)
    n = sum(len(ctrls) for _, ctrls in episodes)
    t0 = time.perf_counter()
    for qpos, ctrls in episodes:
        mujoco.mj_resetData(model, data)
        data.qpos[:] = qpos
        mujoco.mj_forward(model, data)
        for ctrl in ctrls:
            data.ctrl[:] = ctrl
            mujoco.mj_step(model, data, nstep=skip)
            if per_step is not None:
                per_step(data)
    return n / (time.perf_counter() - t0)


def deploy_work(env):
    """Return what a deployed policy adds to physics each step: PD targets, state, observation.

    The targets are computed but not applied: the replay keeps the recorded ones, so the
    trajectory is the env's.
    """
    base = env.unwrapped
    law, reader, builder = base.law, base.reader, base.builder
    action, target = np.zeros(base.robot.n_joints), np.empty(base.robot.n_joints)
    obs, command = np.empty(builder.dim), np.zeros(3)

    def work(data):
        law.target(action, out=target)
        builder.build(reader.read(data), action, out=obs, command=command)
    return work


def main():
    """Print one JSON line of figures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--env', default='velocity:g1')
    p.add_argument('--steps', type=int, default=3000)
    p.add_argument('--repeats', type=int, default=5)
    args = p.parse_args()
    env = make_env(args.env)
    episodes = record(env, args.steps, 0)
    full = bare = observe = 0.0
    for _ in range(args.repeats):  # alternated, so all see the same background load
        full = max(full, env_rate(env, args.steps, 0))
        bare = max(bare, replay_rate(env, episodes))
        if env.unwrapped.robot.action_kind == 'pd_position':
            observe = max(observe, replay_rate(env, episodes, deploy_work(env)))
    figures = {'env': args.env, 'control_steps_per_s': round(full, 1),
               'bare_mj_step_control_steps_per_s': round(bare, 1),
               'overhead': round(bare / full - 1.0, 3),
               'frame_skip': env.unwrapped.robot.frame_skip}
    if observe:
        figures['pd_targets_and_observation_overhead'] = round(bare / observe - 1.0, 3)
    print(json.dumps(figures))


if __name__ == '__main__':
    main()

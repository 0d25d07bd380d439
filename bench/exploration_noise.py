"""How long a policy stays up while acting with Symphony's exploration noise, per noise clip.

A trained actor acts with a = tanh(S A + N) in training, N = clamp(eps, -c, c) / c, and
its test episodes without N. Behind a PD robot's action scale the paper's c = e can fell an
actor that stands without it, so that nearly every training episode ends in a fall the
noise made (`--act-noise-clip` in README.md). This runs ``--episodes`` held-out episodes of
the policy's env (its own commands and physics, nominal) per clip and prints the control
steps each lasted. The exported graph gives tanh(S A); its atanh is S A, to which the
noise is added as the trainer adds it.

``--held`` (velocity policies) holds each of the stress report's held commands (stand,
forward 0.5 m/s, turn either way) for whole episodes instead, and counts falls: a command
whose episodes the acting noise fells is trained on falls alone, however well its test
episodes go without the noise.

    OMP_NUM_THREADS=1 python bench/exploration_noise.py POLICY.onnx --clips 2.718 5 10 20
    OMP_NUM_THREADS=1 python bench/exploration_noise.py POLICY.onnx --held --clips 10 20
"""

import argparse
import json

import numpy as np
import torch

from symphony_ros.core.envs import make_env
from symphony_ros.core.networks import limited_noise, noise_std
from symphony_ros.policy.runtime import OnnxPolicy
from symphony_ros.robot.frame_stack import FrameStack
from velocity_commands import COMMANDS, held_env, start

EDGE = 1.0 - 1e-6
"""Actions are clipped this far inside (-1, 1) before their atanh."""


def episode(env, policy, seed, clip, command=None):
    """Return (control steps an episode lasted, whether it fell); clip 0: no noise.

    :param command: (vx, vy, yaw rate) held for the whole episode, in an env of `held_env`;
        None: the env's own commands.
    """
    if command is None:
        obs, _ = env.reset(seed=seed)
        stacked = FrameStack(policy.contract.observation.history, len(obs)).push
    else:
        obs, stacked = start(env, policy, np.array(command), seed)
    for step in range(1, 100_000):
        action = np.asarray(policy.act(stacked(obs)), dtype=np.float64)
        if clip > 0.0:
            pre = np.arctanh(np.clip(action, -EDGE, EDGE))
            noise = limited_noise(torch.zeros(action.shape, dtype=torch.float64), clip)
            action = np.tanh(pre + noise.numpy())
        obs, _, fell, truncated, _ = env.step(action)
        if fell or truncated:
            return step, bool(fell)
    return step, False


def main():
    """Print one JSON line per clip (per held command and clip with ``--held``)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('policy')
    p.add_argument('--clips', type=float, nargs='+', default=[2.718281828, 5.0, 10.0, 20.0])
    p.add_argument('--episodes', type=int, default=4)
    p.add_argument('--seed', type=int, default=30000, help='first held-out seed')
    p.add_argument('--held', action='store_true',
                   help='hold each of the held commands for whole episodes (velocity policies)')
    args = p.parse_args()
    policy = OnnxPolicy(args.policy)
    if args.held:
        env, commands = held_env(policy), COMMANDS
    else:
        env = make_env(policy.contract.env, policy.contract.observation.name)
        commands = {None: None}
    for name, command in commands.items():
        for clip in [0.0] + args.clips:
            torch.manual_seed(args.seed)
            runs = [episode(env, policy, args.seed + k, clip, command)
                    for k in range(args.episodes)]
            steps = [s for s, _ in runs]
            row = {'clip': clip, 'noise_std': noise_std(clip) if clip else 0.0,
                   'episode_steps': steps, 'median': float(np.median(steps)),
                   'falls': sum(f for _, f in runs)}
            print(json.dumps(row if name is None else {'command': name, **row}))


if __name__ == '__main__':
    main()

"""How much a velocity policy's action answers each part of its command, on its own states.

The policy walks under a held command (nominal physics, one episode per seed); at each state
it met, the command in its observation is changed by a step of each part (vx, vy, yaw rate,
in the command's units, through the contract's observation scales) and the policy asked
again. The mean |change of action| over the driven joints (held joints' actions are
ignored) says whether the actor sees that part: a part it barely answers is one it cannot
follow, whatever the reward asks.

    OMP_NUM_THREADS=1 python bench/command_response.py POLICY.onnx [--episodes 3]
"""

import argparse
import json

import numpy as np

from symphony_ros.policy.runtime import OnnxPolicy
from symphony_ros.util.layout import term_slices
from velocity_commands import held_env, start   # bench/, beside this script

STEPS = {'vx +0.5 m/s': (0, 0.5), 'vx -0.5 m/s': (0, -0.5), 'vy +0.3 m/s': (1, 0.3),
         'vy -0.3 m/s': (1, -0.3), 'yaw +0.5 rad/s': (2, 0.5), 'yaw -0.5 rad/s': (2, -0.5)}
"""Name -> (command part, its change)."""


def command_columns(contract):
    """Return (the command's columns in the policy input, [3] per part; its scales)."""
    obs = contract.observation
    frame = sum(n for _, n in obs.terms)
    start = term_slices(obs.terms)['command'].start
    cols = np.array([[f * frame + start + i for f in range(obs.history)] for i in range(3)])
    scales = np.asarray(obs.spec.get('scales', {}).get('command', (1.0, 1.0, 1.0)))
    return cols, scales


def visited(env, policy, command, seed, steps):
    """Return the inputs the policy met holding ``command`` (to a fall or ``steps``)."""
    frame, stacked = start(env, policy, command, seed)
    out = []
    for _ in range(steps):
        obs = stacked(frame)
        out.append(obs)
        frame, _, fell, truncated, _ = env.step(policy.act(obs))
        if fell or truncated:
            break
    return np.array(out)


def main():
    """Print one JSON line per command step and one summary line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('policy')
    p.add_argument('--episodes', type=int, default=3)
    p.add_argument('--seed', type=int, default=20000, help='first held-out seed')
    p.add_argument('--steps', type=int, default=300, help='control steps per episode')
    p.add_argument('--command', default='0.5,0,0', help='the held command VX,VY,WZ')
    args = p.parse_args()
    policy = OnnxPolicy(args.policy)
    env = held_env(policy)
    base = env.unwrapped
    command = np.array([float(v) for v in args.command.split(',')])
    obs = np.concatenate([visited(env, policy, command, args.seed + k, args.steps)
                          for k in range(args.episodes)])
    scale = base.robot.action_scale
    driven = np.ones(policy.contract.act_dim, bool) if scale is None else scale != 0
    cols, scales = command_columns(policy.contract)
    acted = np.array([policy.act(o) for o in obs])[:, driven]
    summary = {}
    for name, (part, change) in STEPS.items():
        moved = obs.copy()
        moved[:, cols[part]] += change * scales[part]
        answer = np.array([policy.act(o) for o in moved])[:, driven]
        summary[name] = float(np.mean(np.abs(answer - acted)))
        print(json.dumps({'step': name, 'mean_abs_action_change': round(summary[name], 4)}))
    print(json.dumps({'policy': args.policy, 'states': len(obs), 'command': command.tolist(),
                      'observation': policy.contract.observation.name, **{
                          k: round(v, 4) for k, v in summary.items()}}))


if __name__ == '__main__':
    main()

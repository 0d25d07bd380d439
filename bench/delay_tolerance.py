"""How much action latency a policy takes: falls under fixed delays, in milliseconds.

``symphony stress`` judges whole control steps of delay (``delay_1``, ``delay_2``); a robot's
latency budget (DDS, driver, bus) is rarely a whole step, so this sweeps fixed delays in ms
through the training randomisation's own delay (whole control steps plus physics sub-steps,
rounded to the robot's physics step), nothing else perturbed, on the evaluation's initial
states (seed + 10,000 + k), and prints the largest delay with at most ``--max-fall-rate``
falls: the policy's latency budget in simulation.

    OMP_NUM_THREADS=1 python bench/delay_tolerance.py POLICY.onnx --delays-ms 0 3 6 9 12 15
"""

import argparse
import json
import warnings

import numpy as np

from symphony_ros.core.envs import canonical_env_id, make_randomized_env
from symphony_ros.core.evaluation import EVAL_SEED_OFFSET
from symphony_ros.policy.runtime import OnnxPolicy
from symphony_ros.robot.ranges import RandomizationSpec


def run_delay(policy, env_id, obs_spec, delay_ms, episodes, seed, max_steps):
    """Return (falls, mean return, mean steps) of ``episodes`` episodes at ``delay_ms``."""
    spec = RandomizationSpec({'delay_s': (delay_ms / 1e3, delay_ms / 1e3)}, {}, {}, 1.0,
                             f'delay_{delay_ms:g}ms')
    env = make_randomized_env(env_id, obs_spec, spec)
    falls, returns, lengths = 0, [], []
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + EVAL_SEED_OFFSET + k)
        total, steps, terminated = 0.0, 0, False
        while steps < max_steps:
            obs, reward, terminated, truncated, _ = env.step(policy.act(obs))
            total, steps = total + float(reward), steps + 1
            if terminated or truncated:
                break
        falls += int(terminated)
        returns.append(total)
        lengths.append(steps)
    env.close()
    return falls, float(np.mean(returns)), float(np.mean(lengths))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('policy')
    parser.add_argument('--delays-ms', type=float, nargs='+', default=[0, 3, 6, 9, 12, 15])
    parser.add_argument('--episodes', type=int, default=10)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--max-steps', type=int, default=1000)
    parser.add_argument('--max-fall-rate', type=float, default=0.1)
    args = parser.parse_args()
    warnings.simplefilter('ignore', DeprecationWarning)
    policy = OnnxPolicy(args.policy)
    c = policy.contract
    env_id = canonical_env_id(c.env)
    budget, passing = None, True
    for ms in sorted(args.delays_ms):
        falls, ret, steps = run_delay(policy, env_id, c.observation.name, ms, args.episodes,
                                      args.seed, args.max_steps)
        print(json.dumps({'delay_ms': ms, 'falls': falls, 'episodes': args.episodes,
                          'return_mean': round(ret, 1), 'steps_mean': steps}), flush=True)
        # The budget: the largest delay below which every swept delay passed too.
        passing = passing and falls <= args.max_fall_rate * args.episodes
        budget = ms if passing else budget
    print(json.dumps({'policy': args.policy, 'latency_budget_ms': budget,
                      'max_fall_rate': args.max_fall_rate}))


if __name__ == '__main__':
    main()

"""`symphony train --compile` on a CPU: one whole Symphony update, eager against compiled.

At the G1 recipe's widths (hidden 128, 32 heads per critic net, batch 256) the update's
matrix products are small, so a share of its time is the dispatch of several hundred
elementwise ops, which inductor fuses. This times ``Symphony.eager_update`` (loss forward
and backward, AdamW step, Polyak target) without and with ``Symphony.use_compile``, as
the trainer runs it, in alternating rounds, and reports the compile time.

    python bench/compile_update.py [--config s3] [--hidden 128] [--heads 32] [--batch 256]
        [--threads 1] [--obs 98] [--act 29] [--critic 120]
"""

import argparse
import statistics
import time

import numpy as np
import torch

from symphony_ros.core.agent import Symphony
from symphony_ros.core.config import get_config
from symphony_ros.core.replay import Batch

OBS, ACT, CRITIC = 98, 29, 120
"""The G1 velocity task's actor observation, joints and privileged critic observation."""


def timed(fn, reps):
    """Seconds of each of ``reps`` calls of ``fn``."""
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--config', default='s3', help='a named Symphony config (s3, se, s2, ed)')
    p.add_argument('--hidden', type=int, default=128)
    p.add_argument('--heads', type=int, default=32)
    p.add_argument('--batch', type=int, default=256)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--obs', type=int, default=OBS)
    p.add_argument('--act', type=int, default=ACT)
    p.add_argument('--critic', type=int, default=CRITIC)
    p.add_argument('--reps', type=int, default=50)
    p.add_argument('--rounds', type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cfg = get_config(args.config, hidden_dim=args.hidden, critic_heads=args.heads,
                     batch_size=args.batch)
    obs, act, critic = args.obs, args.act, args.critic
    agent = Symphony(obs, act, cfg, 'cpu', critic_dim=critic)
    n = args.batch
    batch = Batch(torch.randn(n, obs), torch.rand(n, act) * 2 - 1, torch.randn(n, 1),
                  torch.randn(n, obs), torch.zeros(n, 1), torch.randn(n, critic),
                  torch.randn(n, critic))

    def update(compiled):
        def run():
            agent.compiled_loss = compiled
            agent.eager_update(batch)
        return run
    agent.use_compile()
    compiled = agent.compiled_loss
    t0 = time.perf_counter()
    agent.warm_compile(batch)
    compile_s = time.perf_counter() - t0
    times = {'eager': [], 'compiled': []}
    for fn in (update(None), update(compiled)):
        timed(fn, 5)
    for _ in range(args.rounds):
        times['eager'] += timed(update(None), args.reps)
        times['compiled'] += timed(update(compiled), args.reps)
    print(f'torch {torch.__version__}, {args.config}, {args.threads} thread(s), '
          f'hidden {args.hidden}, heads {args.heads}, batch {args.batch}; '
          f'compile {compile_s:.1f} s\n')
    print('| one update | median ms | p99 ms |')
    print('|---|---|---|')
    for key, values in times.items():
        p99 = np.percentile(values, 99, method='higher')
        print(f'| {key} | {statistics.median(values) * 1e3:.2f} | {p99 * 1e3:.2f} |')
    ratio = statistics.median(times['eager']) / statistics.median(times['compiled'])
    print(f'\neager / compiled (medians): {ratio:.2f}x')


if __name__ == '__main__':
    main()

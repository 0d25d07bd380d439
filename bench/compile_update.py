"""torch.compile of the Symphony loss on a CPU: is the update's Python overhead worth fusing?

At the G1 recipe's widths (hidden 128, 32 heads per critic net, batch 256) the update's
matrix products are small, so a share of its time is the dispatch of several hundred
elementwise ops. This times one forward + backward of the loss, eager against
``torch.compile(agent.loss)`` (inductor; its backward is compiled too), in alternating
rounds, and reports the compile time. Nothing in the trainer uses compile: this is the
measurement that would justify it.

    python bench/compile_update.py [--hidden 128] [--heads 32] [--batch 256] [--threads 1]
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
    p.add_argument('--hidden', type=int, default=128)
    p.add_argument('--heads', type=int, default=32)
    p.add_argument('--batch', type=int, default=256)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--reps', type=int, default=50)
    p.add_argument('--rounds', type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cfg = get_config('s3', hidden_dim=args.hidden, critic_heads=args.heads,
                     batch_size=args.batch)
    agent = Symphony(OBS, ACT, cfg, 'cpu', critic_dim=CRITIC)
    n = args.batch
    batch = Batch(torch.randn(n, OBS), torch.rand(n, ACT) * 2 - 1, torch.randn(n, 1),
                  torch.randn(n, OBS), torch.zeros(n, 1), torch.randn(n, CRITIC),
                  torch.randn(n, CRITIC))

    def step(loss):
        def run():
            agent.optimizer.zero_grad()
            loss(batch)['loss'].backward()
        return run
    compiled = torch.compile(agent.loss)
    t0 = time.perf_counter()
    step(compiled)()
    compile_s = time.perf_counter() - t0
    times = {'eager': [], 'compiled': []}
    for fn in (step(agent.loss), step(compiled)):
        timed(fn, 5)
    for _ in range(args.rounds):
        times['eager'] += timed(step(agent.loss), args.reps)
        times['compiled'] += timed(step(compiled), args.reps)
    print(f'torch {torch.__version__}, {args.threads} thread(s), hidden {args.hidden}, '
          f'heads {args.heads}, batch {args.batch}; first compiled call {compile_s:.1f} s\n')
    print('| loss forward + backward | median ms | p99 ms |')
    print('|---|---|---|')
    for key, values in times.items():
        p99 = np.percentile(values, 99, method='higher')
        print(f'| {key} | {statistics.median(values) * 1e3:.2f} | {p99 * 1e3:.2f} |')
    ratio = statistics.median(times['eager']) / statistics.median(times['compiled'])
    print(f'\neager / compiled (medians): {ratio:.2f}x')


if __name__ == '__main__':
    main()

"""What an option costs per Symphony update: the plain update against --anchor-weight's and
--symmetric-actor's.

One process, one thread, random batches at the config's shapes; the variants alternate in
rounds so that load from elsewhere falls on all alike. Prints median and p99 per variant and
each one's ratio to the plain update (compare ratios, not absolute times, across machines).
The symmetric actor's maps are a random signed permutation: its cost does not depend on
which one.

    python bench/update_variants.py [--config ed] [--obs 376] [--act 17] [--updates 200]
    python bench/update_variants.py --config s3 --hidden 128 --heads 32 --batch 256 \
        --obs 98 --act 15      # the G1 recipe's learner
"""

import argparse
import statistics
import time

import numpy as np
import torch

from symphony_ros.core.agent import Symphony
from symphony_ros.core.config import get_config
from symphony_ros.core.replay import Batch


def batch(n, obs, act):
    """A random batch of ``n`` transitions (the update's cost does not depend on values)."""
    return Batch(torch.randn(n, obs), torch.rand(n, act) * 2 - 1, torch.randn(n, 1),
                 torch.randn(n, obs), torch.zeros(n, 1))


def times(agent, data, updates):
    """Seconds per update, ``updates`` of them after two untimed ones."""
    for b in data[:2]:
        agent.update(b)
    out = []
    for i in range(updates):
        t0 = time.perf_counter()
        agent.update(data[i % len(data)])
        out.append(time.perf_counter() - t0)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--config', default='ed')
    p.add_argument('--obs', type=int, default=376)
    p.add_argument('--act', type=int, default=17)
    p.add_argument('--updates', type=int, default=200, help='per variant and round')
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--hidden', type=int, default=0, help='hidden width (0: the config\'s)')
    p.add_argument('--heads', type=int, default=0, help='critic heads (0: the config\'s)')
    p.add_argument('--batch', type=int, default=0, help='batch size (0: the config\'s)')
    args = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    sizes = {k: v for k, v in (('hidden_dim', args.hidden), ('critic_heads', args.heads),
                               ('batch_size', args.batch)) if v}
    cfg = get_config(args.config, **sizes)
    data = [batch(cfg.batch_size, args.obs, args.act) for _ in range(8)]
    agents = {name: Symphony(args.obs, args.act, cfg)
              for name in ('plain', 'anchor', 'symmetric actor')}
    agents['anchor'].set_anchor()
    agents['anchor'].anchor_weight = 10.0
    rng = np.random.default_rng(0)
    agents['symmetric actor'].actor.set_mirror(
        *[(rng.permutation(n), rng.choice([-1.0, 1.0], n)) for n in (args.obs, args.act)])
    got = {k: [] for k in agents}
    for _ in range(args.rounds):
        for name, agent in agents.items():
            got[name] += times(agent, data, args.updates)
    print(f'config {args.config}, hidden {cfg.hidden_dim}, {cfg.critic_heads} critic heads, '
          f'obs {args.obs}, act {args.act}, batch {cfg.batch_size}, 1 thread, '
          f'{args.rounds} x {args.updates} updates per variant')
    print('| variant | median ms | p99 ms |\n|---|---|---|')
    med = {}
    for name, t in got.items():
        med[name] = statistics.median(t)
        p99 = statistics.quantiles(t, n=100)[98]
        print(f'| {name} | {1e3 * med[name]:.2f} | {1e3 * p99:.2f} |')
    for name in ('anchor', 'symmetric actor'):
        print(f'{name} / plain (medians): {med[name] / med["plain"]:.3f}')


if __name__ == '__main__':
    main()

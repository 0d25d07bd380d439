"""Distributed training: throughput for 0 (single process), 1, 2 ... collectors, and learning.

Part 1, throughput: a short run per collector count N on ``--env`` with ``--config``; env
steps/s and updates/s over the learning phase (after warm-up), each collector's own
stepping rate (steps per second of stepping, waits excluded), and the collector count
that would keep a learner at its measured update rate busy:
ceil(updates/s / ratio / one collector's steps/s).

Part 2, learning: the same seed and env-step budget on ``--curve-env`` with and without
collectors; test return at each evaluation.

    python bench/distributed.py [--env Humanoid-v4] [--config ed] [--collectors 0 1 2]
                                [--curve-env InvertedPendulum-v4] [--curve-steps 6000]
"""

import argparse
import csv
import math
import os
import tempfile
import time

import ray
import torch

from symphony_ros.core.config import TrainConfig
from symphony_ros.distributed.config import DistributedConfig
from symphony_ros.distributed.entry import make_trainer


def timed_run(cfg, collectors, chunk_steps):
    """Warm up, then train ``cfg.steps``; return figures of the learning phase and rows."""
    dist = DistributedConfig(collectors=collectors, chunk_steps=chunk_steps)
    trainer = make_trainer(cfg, dist, progress=False, tensorboard=False)
    try:
        while not trainer.learning:
            trainer.step()
        if collectors:
            trainer.progress_row()   # opens the window the collector figures cover
        s0, u0, t0 = trainer.step_count, trainer.updates, time.perf_counter()
        while not trainer.done:
            trainer.step()
        dt = time.perf_counter() - t0
        out = {'steps/s': (trainer.step_count - s0) / dt, 'updates/s': (trainer.updates - u0) / dt}
        if collectors:
            row = trainer.progress_row()
            out['collector steps/s'] = row['collector_busy_steps_per_s']
            out['weight lag'] = row['weight_lag']
            out['ratio'] = row['updates_per_step']
        return out
    finally:
        trainer.close()


def curve(cfg, collectors):
    """Train ``cfg`` to the end; return [(step, test return mean)] and the wall time."""
    t0 = time.perf_counter()
    trainer = make_trainer(cfg, DistributedConfig(collectors=collectors), progress=False,
                           tensorboard=False)
    try:
        trainer.run()
    finally:
        trainer.close()
    with open(os.path.join(cfg.run_dir, 'metrics.csv')) as f:
        rows = [(int(r['step']), float(r['test_return_mean'])) for r in csv.DictReader(f)]
    return rows, time.perf_counter() - t0


def main():
    """Print the throughput table and the learning curves as markdown."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--env', default='Humanoid-v4')
    p.add_argument('--config', default='ed')
    p.add_argument('--collectors', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--warmup', type=int, default=256, help='warm-up env steps')
    p.add_argument('--steps', type=int, default=256, help='timed env steps after warm-up')
    p.add_argument('--chunk-steps', type=int, default=32)
    p.add_argument('--learner-rates', type=float, nargs='*', default=[28.0, 500.0, 2000.0],
                   help='updates/s of learners to size the collector fleet for (28: ED on '
                   '2 CPU threads, README figures)')
    p.add_argument('--curve-env', default='InvertedPendulum-v4')
    p.add_argument('--curve-steps', type=int, default=6000)
    p.add_argument('--curve-width', type=int, default=64, help='hidden_dim of the curve runs')
    p.add_argument('--seed', type=int, default=0)
    args = p.parse_args()
    ray.init(include_dashboard=False, logging_level='warning')
    cpus = ray.cluster_resources().get('CPU', 0)
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, Ray {ray.__version__} '
          f'with {cpus:g} CPUs, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}')
    print(f'\n{args.env}, config {args.config}: {args.warmup} warm-up steps, then '
          f'{args.steps} timed\n')
    print('| collectors | env steps/s | updates/s | one collector steps/s | weight lag '
          '(updates) | updates/step | collectors for this learner |')
    print('|---|---|---|---|---|---|---|')
    one_collector = None
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.collectors:
            cfg = TrainConfig(config=args.config, env=args.env, seed=args.seed, device='cpu',
                              steps=args.warmup + args.steps, run_dir=os.path.join(tmp, f'n{n}'),
                              eval_every=10**9, checkpoint_every=10**9,
                              overrides={'explore_steps': args.warmup})
            r = timed_run(cfg, n, args.chunk_steps)
            if n == 0:
                print(f'| 0 (one process) | {r["steps/s"]:.1f} | {r["updates/s"]:.1f} | | | '
                      f'{r["updates/s"] / r["steps/s"]:.2f} | |')
                continue
            need = math.ceil(r['updates/s'] / r['ratio'] / r['collector steps/s'])
            if n == 1:
                one_collector = (r['ratio'], r['collector steps/s'])
            print(f'| {n} | {r["steps/s"]:.1f} | {r["updates/s"]:.1f} | '
                  f'{r["collector steps/s"]:.0f} | {r["weight lag"]:.0f} | {r["ratio"]:.2f} | '
                  f'{need} |')
        if one_collector:
            ratio, rate = one_collector
            print(f'\nOne collector steps {rate:.0f} env steps/s while stepping; at '
                  f'{ratio:g} updates per step a learner at R updates/s needs '
                  f'ceil(R / {ratio:g} / {rate:.0f}) collectors:')
            for r in args.learner_rates:
                print(f'- {r:g} updates/s: {math.ceil(r / ratio / rate)}')
        width = args.curve_width
        over = {'hidden_dim': width, 'critic_heads': max(4, width // 4),
                'batch_size': 3 * max(4, width // 4), 'explore_steps': 1000,
                'capacity': 100_000}
        print(f'\nLearning, {args.curve_env}, config {args.config} at width {width}, seed '
              f'{args.seed}, {args.curve_steps} env steps (test return, mean of 5 episodes)\n')
        curves = {}
        for n in sorted({0, max(args.collectors)}):
            cfg = TrainConfig(config=args.config, env=args.curve_env, seed=args.seed,
                              device='cpu', steps=args.curve_steps,
                              run_dir=os.path.join(tmp, f'curve{n}'), eval_every=1000,
                              eval_episodes=5, checkpoint_every=10**9, overrides=over)
            curves[n] = curve(cfg, n)
        names = sorted(curves)
        # A distributed run evaluates at the first chunk end past each period: its steps
        # are shown with its returns.
        print('| evaluation | ' + ' | '.join(f'{n} collectors: return @ step' if n else
                                             'one process: return @ step' for n in names)
              + ' |')
        print('|---' * (len(names) + 1) + '|')
        for i in range(max(len(curves[n][0]) for n in names)):
            cells = [f'{curves[n][0][i][1]:.1f} @ {curves[n][0][i][0]}'
                     if i < len(curves[n][0]) else '' for n in names]
            print(f'| {i + 1} | ' + ' | '.join(cells) + ' |')
        print('| wall s | ' + ' | '.join(f'{curves[n][1]:.0f}' for n in names) + ' |')
    ray.shutdown()


if __name__ == '__main__':
    main()

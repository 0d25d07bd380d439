"""Training throughput: the full loop against a bare forward+backward loop of the same networks.

For each config: env steps/s and updates/s of the real training loop (env, buffer, sampling,
acting, logging), FLOPs per update (counted by torch's FlopCounterMode) and achieved GFLOP/s,
and the same for a bare loop of Symphony updates on preallocated random tensors. The loop's
own overhead is (loop time per update - bare time per update) / bare time per update.

    python bench/train_throughput.py [--configs s3 ed] [--env Humanoid-v4] [--steps 30]
"""

import argparse
import statistics
import tempfile
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from symphony_ros.core.agent import Symphony
from symphony_ros.core.config import TrainConfig, get_config
from symphony_ros.core.replay import Batch
from symphony_ros.core.trainer import Trainer, resolve_device


def pct(values, q):
    """Return the q-quantile (0..1) of values."""
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def sync(device):
    """Wait for queued device work so wall-clock timings are honest."""
    if device.type == 'cuda':
        torch.cuda.synchronize()


def bare(name, obs_dim, act_dim, device, updates):
    """Time agent.update on random tensors; return per-update seconds and FLOPs/update."""
    cfg = get_config(name)
    agent = Symphony(obs_dim, act_dim, cfg, device)
    n = cfg.batch_size
    batch = Batch(torch.randn(n, obs_dim, device=device),
                  torch.rand(n, act_dim, device=device) * 2 - 1,
                  torch.randn(n, 1, device=device), torch.randn(n, obs_dim, device=device),
                  torch.zeros(n, 1, device=device))
    with FlopCounterMode(display=False) as counter:
        agent.update(batch)
    flops = counter.get_total_flops()
    for _ in range(3):
        agent.update(batch)
    times = []
    for _ in range(updates):
        sync(device)
        t0 = time.perf_counter()
        agent.update(batch)
        sync(device)
        times.append(time.perf_counter() - t0)
    return times, flops


def loop(name, env, device, steps):
    """Time Trainer.step after warm-up; return per-step seconds and (obs_dim, act_dim, G)."""
    sym = get_config(name)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(config=name, env=env, steps=10**9, run_dir=tmp, device=device.type,
                          eval_every=10**9, checkpoint_every=10**9,
                          overrides={'explore_steps': 200})
        trainer = Trainer(cfg, progress=False, tensorboard=False)
        while not trainer.learning:
            trainer.step()
        for _ in range(3):
            trainer.step()
        times = []
        for _ in range(steps):
            sync(device)
            t0 = time.perf_counter()
            trainer.step()
            sync(device)
            times.append(time.perf_counter() - t0)
        dims = (trainer.obs_dim, trainer.act_dim, sym.updates_per_step)
        trainer.close()
    return times, dims


def main():
    """Run the benchmark and print one table row per config."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--configs', nargs='+', default=['s3', 'ed'])
    p.add_argument('--env', default='Humanoid-v4')
    p.add_argument('--device', default='auto')
    p.add_argument('--steps', type=int, default=30, help='timed env steps per config')
    args = p.parse_args()
    device = resolve_device(args.device)
    print(f'torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, '
          f'env {args.env}')
    header = ('config', 'env steps/s', 'updates/s', 'GFLOP/update', 'GFLOP/s',
              'bare updates/s', 'bare GFLOP/s', 'update ms p50/p99 (bare)',
              'step ms p50/p99 (loop)', 'loop overhead')
    print('| ' + ' | '.join(header) + ' |')
    print('|' + '---|' * len(header))
    for name in args.configs:
        step_t, (obs_dim, act_dim, g) = loop(name, args.env, device, args.steps)
        upd_t, flops = bare(name, obs_dim, act_dim, device, max(10, args.steps * g))
        step_med, upd_med = statistics.median(step_t), statistics.median(upd_t)
        overhead = (step_med / g - upd_med) / upd_med
        gflop = flops / 1e9
        print(f'| {name} | {1 / step_med:.2f} | {g / step_med:.1f} | {gflop:.2f} | '
              f'{gflop * g / step_med:.1f} | {1 / upd_med:.1f} | {gflop / upd_med:.1f} | '
              f'{upd_med * 1e3:.1f}/{pct(upd_t, 0.99) * 1e3:.1f} | '
              f'{step_med * 1e3:.1f}/{pct(step_t, 0.99) * 1e3:.1f} | {overhead * 100:+.1f}% |')


if __name__ == '__main__':
    main()

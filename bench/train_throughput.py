"""Training throughput: the update against the machine's GEMM rate, idle and beside a CPU hog.

Tables, all measured in one run (compare ratios, not absolute figures, across runs):

1. The bare update per config and thread count (random batch, no env): FLOPs (torch's
   FlopCounterMode), median time, GFLOP/s and that as a fraction of each GEMM rate, plus
   the time split of one update into sampling, forward, backward, optimizer and Polyak.
   The GEMM rate is torch.mm's at the update's own shapes (the actor's and critic's Linear
   layers at the config's batch, weighted by their FLOPs) and at a large square shape.
2. The real training loop (env, buffer, acting, updates) per config, idle and beside a CPU
   hog (a busy Python process the bench starts and stops): env steps/s with each fixed
   thread count and with the trainer's thread policy, the policy's choice, and the policy
   against the best fixed count under the same condition (CPU only).
3. On CUDA, each update timed alone, eager against replayed as a CUDA graph (the trainer's
   default there): medians and p99s.

    python bench/train_throughput.py [--configs s3 ed] [--env Humanoid-v4] [--steps 10]

OMP_NUM_THREADS is ignored here (the policy would take it as a fixed choice).
"""

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.pop('OMP_NUM_THREADS', None)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from symphony_ros.core.agent import Symphony  # noqa: E402
from symphony_ros.core.config import TrainConfig, get_config  # noqa: E402
from symphony_ros.core.envs import env_dims, make_env  # noqa: E402
from symphony_ros.core.graphed import WARMUP  # noqa: E402
from symphony_ros.core.replay import Batch  # noqa: E402
from symphony_ros.core.threads import ThreadPolicy, candidates, usable_cpus  # noqa: E402
from symphony_ros.core.preflight import resolve_device  # noqa: E402
from symphony_ros.core.trainer import Trainer  # noqa: E402

BIG = 2048


def sync(device):
    """Wait for queued device work so wall-clock timings are honest."""
    if device.type == 'cuda':
        torch.cuda.synchronize()


def median_s(fn, device, reps, warm=2):
    """Median wall time of ``fn()`` over ``reps`` calls after ``warm`` untimed ones."""
    for _ in range(warm):
        fn()
    times = []
    for _ in range(reps):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def gemm_rate(shapes, device, reps=20):
    """GFLOP/s of torch.mm over ``shapes`` (m, k, n), weighted by their FLOPs."""
    flops, seconds = 0.0, 0.0
    for m, k, n in shapes:
        a = torch.randn(m, k, device=device)
        b = torch.randn(k, n, device=device)
        seconds += median_s(lambda: torch.mm(a, b), device, reps)
        flops += 2.0 * m * k * n
    return flops / seconds / 1e9


def update_shapes(cfg, obs_dim, act_dim):
    """(m, k, n) of the Linear layers of one forward pass of the actor and one critic."""
    b, h = cfg.batch_size, cfg.hidden_dim
    return [(b, obs_dim, h), (b, h, h), (b, h, 3 * act_dim),
            (b, obs_dim + act_dim, h), (b, h, h), (b, h, cfg.critic_heads)]


def random_batch(n, obs_dim, act_dim, device):
    """A batch of random transitions (no env needed)."""
    return Batch(torch.randn(n, obs_dim, device=device),
                 torch.rand(n, act_dim, device=device) * 2 - 1,
                 torch.randn(n, 1, device=device), torch.randn(n, obs_dim, device=device),
                 torch.zeros(n, 1, device=device))


def bare(name, obs_dim, act_dim, device, updates, rounds):
    """Median seconds and FLOPs of one update, its phases, and the GEMM rate at its shapes.

    The update and the GEMMs are timed in alternating rounds, so a change of load on a
    shared machine touches both sides of the fraction alike.
    """
    cfg = get_config(name)
    agent = Symphony(obs_dim, act_dim, cfg, device)
    batch = random_batch(cfg.batch_size, obs_dim, act_dim, device)
    with FlopCounterMode(display=False) as counter:
        agent.update(batch)
    store = random_batch(20_000, obs_dim, act_dim, device)
    idx = torch.randint(0, 20_000, (cfg.batch_size,), device=device)

    def backward():
        agent.optimizer.zero_grad()
        agent.loss(batch)['loss'].backward()
    phases = {'update': lambda: agent.update(batch),
              'sampling': lambda: Batch(*(None if t is None else t[idx] for t in store)),
              'forward': lambda: agent.loss(batch), 'backward': backward,
              'optimizer': agent.optimizer.step, 'polyak': agent.soft_update}
    shapes = update_shapes(cfg, obs_dim, act_dim)
    samples = {k: [] for k in list(phases) + ['gemm']}
    for _ in range(rounds):
        samples['gemm'].append(gemm_rate(shapes, device, reps=updates))
        for key, fn in phases.items():
            samples[key].append(median_s(fn, device, updates))
    out = {k: statistics.median(v) for k, v in samples.items()}
    out['backward'] -= out['forward']
    return out, counter.get_total_flops()


def graph_replay(name, obs_dim, act_dim, device, updates, rounds):
    """Seconds per update, eager and replayed as a CUDA graph, in alternating rounds.

    Each update is timed alone (a sync after it), as the trainer syncs once per env step.
    """
    cfg = get_config(name)
    batch = random_batch(cfg.batch_size, obs_dim, act_dim, device)
    agents = {'eager': Symphony(obs_dim, act_dim, cfg, device),
              'graph': Symphony(obs_dim, act_dim, cfg, device)}
    agents['graph'].use_cuda_graphs()
    times = {k: [] for k in agents}
    for agent in agents.values():
        for _ in range(WARMUP + 2):
            agent.update(batch)
    for _ in range(rounds):
        for key, agent in agents.items():
            for _ in range(updates):
                sync(device)
                t0 = time.perf_counter()
                agent.update(batch)
                sync(device)
                times[key].append(time.perf_counter() - t0)
    return times


class Hog:
    """A busy Python process beside the benchmark, stopped on exit."""

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, '-c', 'while True: pass'])
        time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


def loop(name, env, device, steps, rounds, hog):
    """Env steps/s per fixed thread count and with the policy; the policy's choice.

    The policy chooses idle and then meets the hog (if any) while running, as in use.
    Settings are timed in alternating rounds of ``steps`` steps (one untimed step after
    each switch); each rate is 1 / the median step time of its rounds together.
    """
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(config=name, env=env, steps=10**9, run_dir=tmp, device=device.type,
                          eval_every=10**9, checkpoint_every=10**9,
                          overrides={'explore_steps': 200})
        with Trainer(cfg, progress=False, tensorboard=False) as trainer:
            while not trainer.learning:
                trainer.step()
            trainer.thread_policy = policy = ThreadPolicy()
            while policy.probing:
                trainer.step()
            settings = {n: ThreadPolicy(fixed=n) for n in candidates(usable_cpus())}
            settings['policy'] = policy
            times = {k: [] for k in settings}
            with Hog() if hog else contextlib.nullcontext():
                if hog:
                    for _ in range(steps):              # the policy meets its neighbour
                        trainer.step()
                for _ in range(rounds):
                    for key, setting in settings.items():
                        trainer.thread_policy = setting
                        setting.apply()
                        trainer.step()
                        for _ in range(steps):
                            t0 = time.perf_counter()
                            trainer.step()
                            times[key].append(time.perf_counter() - t0)
            rates = {k: 1.0 / statistics.median(v) for k, v in times.items()}
            return rates, policy.threads


def main():
    """Run the benchmark and print the two tables."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--configs', nargs='+', default=['s3', 'ed'])
    p.add_argument('--env', default='Humanoid-v4')
    p.add_argument('--device', default='auto')
    p.add_argument('--steps', type=int, default=10,
                   help='timed env steps (or updates) per setting and round')
    p.add_argument('--rounds', type=int, default=3, help='alternating rounds per measurement')
    p.add_argument('--no-loop', action='store_true', help='skip table 2 (env loop, hog)')
    args = p.parse_args()
    device = resolve_device(args.device)
    cpus = usable_cpus()
    probe = make_env(args.env)
    obs_dim, act_dim = env_dims(probe)
    probe.close()
    print(f'torch {torch.__version__}, device {device}, usable CPUs {cpus}, env {args.env} '
          f'({obs_dim}/{act_dim}), load average {os.getloadavg()[0]:.2f} at start')
    print('\nBare update against torch.mm (fp32):\n')
    print('| config | threads | GFLOP/update | update ms | GFLOP/s | GEMM GFLOP/s at its shapes '
          f'| fraction of that | GEMM {BIG}^3 GFLOP/s | fraction of that | sampling / forward '
          '/ backward / optimizer / Polyak ms |')
    print('|---|---|---|---|---|---|---|---|---|---|')
    for name in args.configs:
        for n in candidates(cpus) if device.type == 'cpu' else [cpus]:
            torch.set_num_threads(n)
            t, flops = bare(name, obs_dim, act_dim, device, args.steps, args.rounds)
            big = gemm_rate([(BIG, BIG, BIG)], device, reps=3)
            rate = flops / t['update'] / 1e9
            parts = ' / '.join(f'{t[k] * 1e3:.1f}' for k in (
                'sampling', 'forward', 'backward', 'optimizer', 'polyak'))
            print(f'| {name} | {n} | {flops / 1e9:.2f} | {t["update"] * 1e3:.1f} | {rate:.1f} | '
                  f'{t["gemm"]:.1f} | {rate / t["gemm"]:.0%} | {big:.1f} | {rate / big:.0%} | '
                  f'{parts} |')
    if device.type == 'cuda':
        print('\nUpdate on CUDA, eager against replayed as a CUDA graph (--cuda-graphs):\n')
        print('| config | eager median / p99 ms | graph median / p99 ms | speed-up (medians) '
              '| graph updates/s |')
        print('|---|---|---|---|---|')
        for name in args.configs:
            t = graph_replay(name, obs_dim, act_dim, device, args.steps, args.rounds)
            e, g = statistics.median(t['eager']), statistics.median(t['graph'])
            e99, g99 = (np.percentile(t[k], 99, method='higher') for k in ('eager', 'graph'))
            print(f'| {name} | {e * 1e3:.2f} / {e99 * 1e3:.2f} | {g * 1e3:.2f} / '
                  f'{g99 * 1e3:.2f} | {e / g:.1f}x | {1 / g:.0f} |')
    if args.no_loop or device.type != 'cpu':
        return
    counts = candidates(cpus)
    print('\nTraining loop, env steps/s (median step time):\n')
    print('| config | condition | ' + ' | '.join(f'{n} thread{"s" * (n > 1)}' for n in counts)
          + ' | policy (choice) | policy / best fixed | policy / all threads |')
    print('|---|---|' + '---|' * len(counts) + '---|---|---|')
    for name in args.configs:
        for hog in (False, True):
            rates, choice = loop(name, args.env, device, args.steps, args.rounds, hog)
            best = max(rates[n] for n in counts)
            print(f'| {name} | {"beside a CPU hog" if hog else "idle"} | '
                  + ' | '.join(f'{rates[n]:.2f}' for n in counts)
                  + f' | {rates["policy"]:.2f} ({choice}) | {rates["policy"] / best:.2f} | '
                  f'{rates["policy"] / rates[counts[-1]]:.2f} |')


if __name__ == '__main__':
    main()

"""Single-observation latency of an exported S3-size policy: OnnxPolicy.act vs raw onnxruntime.

Builds an S3-size actor (hidden 512, the humanoid's full observation and its joints, random
weights: latency does not depend on them), exports it with ``symphony export``'s code path
(contract and parity check included) into a temp folder, then times N single-observation
calls of

* ``OnnxPolicy.act(obs)``: what a deploy loop calls (float64 observation in, as the
  observation builder produces it; cast, NaN/Inf check, bound-buffer run, action copy out);
* ``session.run`` on the same file, same session options, float32 [1, obs_dim] input;
* the torch eager forward ``actor.deterministic`` (one thread, inference mode), for the ratio.

Usage: ``python bench/policy_latency.py [--n 10000] [--cpus 0] [--clock cpu] [--json]``. Target for
the S3 actor on a 2-core CPU: p99 <= 50 us for ``OnnxPolicy.act`` (``--check`` exits 1 if
missed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from typing import Callable, Dict, List

import numpy as np
import torch

from symphony_ros.robot.description import get_robot
from symphony_ros.robot.obs_specs import get_obs_spec

OBS_DIM = get_obs_spec('humanoid_v4_full').dim
ACT_DIM = get_robot('humanoid').n_joints

TARGET_P99_US = 50.0


CLOCKS = {'wall': time.perf_counter_ns, 'cpu': time.thread_time_ns}
"""wall: what a control loop sees; cpu: this thread's CPU time only, which leaves out time
spent preempted (use it on a shared machine to see the policy's own cost)."""


def measure(call: Callable[[np.ndarray], object], obs: np.ndarray, warmup: int = 500,
            clock: Callable[[], int] = time.perf_counter_ns) -> Dict[str, float]:
    """Time ``call(obs[i])`` once per row; return percentiles in microseconds."""
    for i in range(min(warmup, len(obs))):
        call(obs[i])
    out = np.empty(len(obs))
    for i in range(len(obs)):
        t = clock()
        call(obs[i])
        out[i] = clock() - t
    us = out / 1000.0
    p50, p99, p999 = np.percentile(us, [50, 99, 99.9])
    return {'p50': float(p50), 'p99': float(p99), 'p99.9': float(p999),
            'mean': float(us.mean()), 'max': float(us.max())}


def build_policy(folder: str, config: str = 's3') -> str:
    """Export a seeded Humanoid actor of ``config``'s size into ``folder``; return its path."""
    from symphony_ros.core.config import CONFIGS, TrainConfig
    from symphony_ros.core.networks import Actor
    from symphony_ros.core.snapshot import save_best_actor
    from symphony_ros.policy.export import export_policy
    torch.manual_seed(0)
    cfg = CONFIGS[config]
    actor = Actor(OBS_DIM, ACT_DIM, cfg.hidden_dim, cfg.noise_clip).eval()
    run = os.path.join(folder, 'bench_run')
    save_best_actor(run, actor, dict(
        train_config=TrainConfig(env='Humanoid-v4').to_dict(), symphony_config=cfg.to_dict(),
        obs_dim=OBS_DIM, act_dim=ACT_DIM, obs_spec=None, step=0, test_return=None))
    result = export_policy(run, os.path.join(folder, 'bench.onnx'))
    print(f'exported {result.path}: parity max |err| {result.max_abs_error:.2e}, '
          f'{os.path.getsize(result.path) / 1024:.0f} KiB', file=sys.stderr)
    return result.path


def run(n: int, clock: Callable[[], int] = time.perf_counter_ns, config: str = 's3'
        ) -> Dict[str, Dict[str, float]]:
    """Export, then time the three paths on the same ``n`` observations."""
    import onnxruntime as ort

    from symphony_ros.core.snapshot import load_actor
    from symphony_ros.policy import OnnxPolicy
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    obs64 = rng.standard_normal((n, OBS_DIM))
    obs32 = obs64.astype(np.float32)[:, None, :]  # [n, 1, obs]: session.run needs a batch
    with tempfile.TemporaryDirectory() as folder:
        path = build_policy(folder, config)
        policy = OnnxPolicy(path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        sess = ort.InferenceSession(path, opts, providers=['CPUExecutionProvider'])
        actor = load_actor(os.path.join(folder, 'bench_run')).actor
        tobs = torch.from_numpy(obs32)
        results = {'OnnxPolicy.act': measure(policy.act, obs64, clock=clock),
                   'session.run': measure(lambda x: sess.run(['action'], {'obs': x}), obs32,
                                          clock=clock)}
        with torch.inference_mode():
            results['torch eager'] = measure(lambda x: actor.deterministic(x), tobs,
                                             clock=clock)
    return results


def main(argv: List[str] = None) -> int:
    """Run the benchmark and print a table (or JSON)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--n', type=int, default=10_000, help='timed calls per path')
    p.add_argument('--cpus', default=None,
                   help='comma-separated CPU ids to pin this process to (e.g. 0)')
    p.add_argument('--clock', choices=sorted(CLOCKS), default='wall',
                   help='wall (default) or cpu: thread CPU time, leaves out preemption')
    p.add_argument('--config', choices=('s3', 'ed'), default='s3',
                   help='actor size: s3 (hidden 512, the target\'s) or ed (hidden 384)')
    p.add_argument('--json', action='store_true', help='print JSON instead of a table')
    p.add_argument('--check', action='store_true',
                   help=f'exit 1 if OnnxPolicy.act p99 > {TARGET_P99_US:g} us')
    args = p.parse_args(argv)
    if args.cpus:
        os.sched_setaffinity(0, {int(c) for c in args.cpus.split(',')})
    results = run(args.n, CLOCKS[args.clock], args.config)
    env = {'cpu': platform.processor() or platform.machine(), 'cores': os.cpu_count(),
           'affinity': sorted(os.sched_getaffinity(0)), 'loadavg_1m': os.getloadavg()[0],
           'n': args.n, 'clock': args.clock}
    if args.json:
        print(json.dumps({'env': env, 'results': results}, indent=2))
    else:
        width = 512 if args.config == 's3' else 384
        print(f'{args.n} single-observation calls, {args.config} actor '
              f'({OBS_DIM} -> {width} -> {ACT_DIM}), '
              f'{args.clock} clock; {env["cores"]} cores, affinity {env["affinity"]}, '
              f'load {env["loadavg_1m"]:.2f}')
        print(f'{"path":<16}{"p50 us":>10}{"p99 us":>10}{"p99.9 us":>10}{"mean us":>10}'
              f'{"max us":>10}')
        for name, r in results.items():
            print(f'{name:<16}{r["p50"]:10.1f}{r["p99"]:10.1f}{r["p99.9"]:10.1f}'
                  f'{r["mean"]:10.1f}{r["max"]:10.1f}')
        act, eager = results['OnnxPolicy.act'], results['torch eager']
        print(f'torch eager / OnnxPolicy.act at p50: {eager["p50"] / act["p50"]:.1f}x; '
              f'target p99 <= {TARGET_P99_US:g} us: '
              f'{"met" if act["p99"] <= TARGET_P99_US else "MISSED"}')
    return 1 if args.check and results['OnnxPolicy.act']['p99'] > TARGET_P99_US else 0


if __name__ == '__main__':
    sys.exit(main())

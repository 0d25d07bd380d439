"""Start-up cost of the node programs: the wall time of a fresh interpreter importing each.

A node restarted after a crash (the watchdog under a latched e-stop, a policy node killed by
the OOM killer) spends this before it can subscribe; the test suite pays it for every
process it starts. Each run is ``python -c "import MODULE"`` in a fresh process, the modules
taken in rotation so that a load spike hits each about equally; the figure is wall time from
exec to exit (interpreter start included, the same for every row: the ``python`` row).

Usage: ``python bench/node_start.py [--repeats 15] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Dict, List

import numpy as np

MODULES = {
    'python': 'sys',
    'watchdog_node': 'symphony_ros.nodes.watchdog_node',
    'policy_node': 'symphony_ros.nodes.policy_node',
    'mujoco_sim_node': 'symphony_ros.nodes.mujoco_sim_node',
    'trainer_node': 'symphony_ros.nodes.trainer_node',
    'onnx': 'onnx',
    'ml_dtypes': 'ml_dtypes',
}


def _once(module: str) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, '-c', f'import {module}'], check=True)
    return time.perf_counter() - t


def measure(repeats: int) -> Dict[str, Dict[str, float]]:
    """Return {row: {p50, p99, min} in seconds} over ``repeats`` rotations of the modules."""
    for module in MODULES.values():  # page cache warm, .pyc written
        _once(module)
    times: Dict[str, List[float]] = {name: [] for name in MODULES}
    for _ in range(repeats):
        for name, module in MODULES.items():
            times[name].append(_once(module))
    return {name: {'p50': float(np.median(t)), 'p99': float(np.percentile(t, 99)),
                   'min': float(min(t))} for name, t in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--repeats', type=int, default=15)
    ap.add_argument('--json', action='store_true', help='print the figures as JSON')
    args = ap.parse_args()
    out = measure(args.repeats)
    import ml_dtypes
    if args.json:
        print(json.dumps({'ml_dtypes': ml_dtypes.__version__, 'rows': out}, indent=2))
        return
    print(f'fresh-interpreter import, {args.repeats} runs each (ml_dtypes '
          f'{ml_dtypes.__version__})')
    print(f'{"program":<16} {"p50 s":>7} {"p99 s":>7} {"min s":>7}')
    for name, r in out.items():
        print(f'{name:<16} {r["p50"]:7.2f} {r["p99"]:7.2f} {r["min"]:7.2f}')


if __name__ == '__main__':
    main()

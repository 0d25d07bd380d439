"""`--compile` in the training loop: env steps/s of the G1 recipe's trainer, eager and compiled.

Two trainers of `symphony train --recipe g1_walk_turn` (the recipe's learner, envs, replay,
mirrored batches and randomisation; a short warm-up so that updates begin at once) run in
this process, one eager and one with `--compile true`, in alternating chunks of
``--chunk`` steps, one torch thread each; each chunk's env steps/s is one sample. Compare
the ratio of the medians: it is what a run of the recipe gains, whatever else the machine
is doing at the time, since both see the same load.

    python bench/compile_training.py [--recipe g1_walk_turn] [--chunk 200] [--rounds 8]
"""

import argparse
import os
import statistics
import tempfile
import time

import torch

from symphony_ros.cli.main import build_parser
from symphony_ros.cli.recipe import apply_recipe
from symphony_ros.cli.train_cmd import config_from_args
from symphony_ros.core.trainer import Trainer


def trainer(recipe: str, folder: str, compile_loss: bool) -> Trainer:
    """The recipe's trainer, learning from its 1,000th step, in ``folder``."""
    args = build_parser().parse_args([
        'train', '--recipe', recipe, '--run-dir', folder, '--explore-steps', '1000',
        '--compile', str(compile_loss).lower(), '--eval-every', '1000000',
        '--checkpoint-every', '1000000', '--threads', '1'])
    apply_recipe(args)
    return Trainer(config_from_args(args), progress=False, tensorboard=False)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--recipe', default='g1_walk_turn')
    p.add_argument('--chunk', type=int, default=200, help='env steps per timed chunk')
    p.add_argument('--rounds', type=int, default=8, help='chunks per trainer')
    args = p.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        runs = {name: trainer(args.recipe, os.path.join(tmp, name), name == 'compiled')
                for name in ('eager', 'compiled')}
        for t in runs.values():
            t.run(max_steps=1000 + 20)          # the warm-up, then the first updates
        rates = {name: [] for name in runs}
        for _ in range(args.rounds):
            for name, t in runs.items():
                t0, s0 = time.perf_counter(), t.step_count
                t.run(max_steps=args.chunk)
                rates[name].append((t.step_count - s0) / (time.perf_counter() - t0))
        for t in runs.values():
            t.close()
    print(f'{args.recipe}, torch {torch.__version__}, 1 thread, {args.rounds} chunks of '
          f'{args.chunk} env steps each, alternating\n')
    print('| trainer | env steps/s, median | slowest chunk |')
    print('|---|---|---|')
    for name, values in rates.items():
        print(f'| {name} | {statistics.median(values):.1f} | {min(values):.1f} |')
    ratio = statistics.median(rates['compiled']) / statistics.median(rates['eager'])
    print(f'\ncompiled / eager (medians): {ratio:.2f}x')


if __name__ == '__main__':
    main()

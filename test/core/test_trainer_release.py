"""A closed trainer is freed at once, with its replay buffer: nothing outside it holds it.

`symphony train` takes each recipe stage in a new trainer in the same process; a trainer
kept alive by a reference cycle (its envs' step clock) or by a cache that caught its frames
(matplotlib's first import, whose style parsing caches pyparsing's exceptions) kept its
buffer beside the next one's, and a G1 run with the recipe's stages ran out of memory.
"""

import gc
import weakref

import torch

from symphony_ros.core.trainer import Trainer

from g1_tiny_run import tiny_g1_config

CORNER = 'hard_share: 0.5\nhard_depth: auto\nhard_tests: 2\n'


def test_a_closed_randomised_trainer_is_freed_without_a_collection(tmp_path):
    torch.set_num_threads(1)
    ranges = tmp_path / 'corner.yaml'
    ranges.write_text(CORNER)
    cfg = tiny_g1_config(tmp_path / 'run', steps=60, randomize=str(ranges),
                         critic_dynamics=True)
    gc.disable()
    try:
        with Trainer(cfg, progress=False, tensorboard=False) as trainer:
            trainer.run()
            buffer, env = weakref.ref(trainer.buffer), weakref.ref(trainer.env.unwrapped)
            assert trainer.corner_test is not None
        del trainer
        assert buffer() is None and env() is None
    finally:
        gc.enable()

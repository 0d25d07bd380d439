"""The common step of the module fixtures that branch or widen a run: train one to its end."""

import torch

from symphony_ros.core.trainer import Trainer


def trained_run(tmp_path_factory, name, config):
    """Return a new folder ``<name>/src`` holding ``config(folder)`` trained to its end.

    One torch thread: the tests compare resumed and branched runs with it bit for bit.
    """
    torch.set_num_threads(1)
    run = tmp_path_factory.mktemp(name) / 'src'
    with Trainer(config(run), progress=False, tensorboard=False) as trainer:
        trainer.run()
    return run

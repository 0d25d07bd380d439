"""The training runs carried in ``training/`` (``symphony branch --slim``) resume here.

A carried run is what a later machine goes on from, so each must still load in this version
of the code: its checkpoint's networks, optimizer, progress and ranges, its buffer refilled
by its own actor, and a few steps of learning on the full-size learner.
"""

import glob
import os
import shutil

import pytest
import torch

from symphony_ros.cli.main import main
from symphony_ros.core.checkpoint import list_checkpoints, step_of

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CARRIED = sorted(os.path.dirname(p) for p in glob.glob(os.path.join(ROOT, 'training', '*',
                                                                    'config.json')))


@pytest.mark.parametrize('carried', CARRIED, ids=os.path.basename)
def test_a_carried_run_resumes_and_learns_on(carried, tmp_path, monkeypatch):
    torch.set_num_threads(1)
    monkeypatch.chdir(ROOT)        # its config names ranges files relative to the checkout
    run = tmp_path / os.path.basename(carried)
    shutil.copytree(carried, run)
    step = step_of(list_checkpoints(str(run))[-1])
    assert main(['train', '--run-dir', str(run), '--resume', '--refill-steps', '50',
                 '--steps', str(step + 20), '--no-progress']) == 0
    assert step_of(list_checkpoints(str(run))[-1]) == step + 20
    assert sorted(os.listdir(carried)) == ['branch.json', 'checkpoints', 'config.json',
                                           'metrics.csv']     # the carried copy untouched

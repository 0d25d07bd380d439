"""--compile: the loss compiled by torch.compile on the CPU, its resume and its refusal."""

import os
import subprocess
import sys

import pytest
import torch
import torch._dynamo.utils

from symphony_ros.cli.main import main as cli
from symphony_ros.core.checkpoint import latest_checkpoint
from symphony_ros.core.trainer import Trainer

from test_trainer import _train, tiny_args, tiny_config


def test_a_compiled_run_compiles_at_its_start_and_draws_as_an_eager_one(tmp_path, capsys):
    with Trainer(tiny_config(tmp_path / 'c', steps=150, compile=True), progress=False,
                 tensorboard=False) as trainer:
        assert any(n.startswith('--compile: the loss compiled for 1 thread(s) in')
                   for n in trainer.notes)
        trainer.run(99)                                   # the warm-up, less its last step
        warmup = trainer.buffer.action[:99].clone()
        graphs = torch._dynamo.utils.counters['stats']['unique_graphs']
        trainer.run()                                     # then updates, to step 150
        assert torch._dynamo.utils.counters['stats']['unique_graphs'] == graphs
        assert trainer.progress.updates > 0
    # Compiling drew no random number: the warm-up's noisy actions are an eager run's.
    with Trainer(tiny_config(tmp_path / 'e', steps=99), progress=False,
                 tensorboard=False) as eager:
        eager.run()
        assert torch.equal(eager.buffer.action[:99], warmup)
    assert cli(['inspect', str(tmp_path / 'c')]) == 0
    assert '; compiled loss' in capsys.readouterr().out


@pytest.mark.slow   # ~60 s on a loaded 2-core machine: three trainers compile
def test_a_compiled_run_resumes_exactly(tmp_path):
    whole = _train(tiny_config(tmp_path / 'a', compile=True))[0]
    _train(tiny_config(tmp_path / 'b', compile=True), max_steps=170)
    assert 100 < int(os.path.basename(latest_checkpoint(str(tmp_path / 'b')))[5:14]) < 170
    resumed = _train(tiny_config(tmp_path / 'b', compile=True), resume=True)[0]
    for part in ('actor', 'critic', 'target_critic'):
        for key, value in whole[part].items():
            assert torch.equal(value, resumed[part][key]), (part, key)


@pytest.mark.slow   # ~40 s: inductor traces and lowers the loss before the compiler fails
def test_a_machine_that_cannot_compile_refuses_the_run_in_one_line(tmp_path):
    env = dict(os.environ, CXX=str(tmp_path / 'no-compiler'),
               TORCHINDUCTOR_CACHE_DIR=str(tmp_path / 'cache'))
    out = subprocess.run([sys.executable, '-m', 'symphony_ros.cli.main',
                          *tiny_args(tmp_path / 'r', 200), '--compile', 'true'],
                         capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 2, out.stderr
    assert '--compile: compiling the loss before the first step' in out.stderr
    lines = [line for line in out.stderr.splitlines() if 'error' in line]
    assert len(lines) == 1 and '--compile: torch.compile could not compile the loss' in lines[0]
    assert 'train with --compile false' in lines[0]

"""The training loop: outputs, exact resume, kill -9, and clear errors for bad input."""

import csv
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from symphony_ros.cli.main import main as cli
from symphony_ros.core.checkpoint import latest_checkpoint, list_checkpoints
from symphony_ros.core.config import TrainConfig
from symphony_ros.core.trainer import Trainer

TINY = dict(hidden_dim=16, critic_heads=4, batch_size=16, capacity=400, explore_steps=100)


def tiny_config(run_dir, steps=260, **kw):
    kw = dict(dict(eval_every=100, eval_episodes=1, checkpoint_every=50), **kw)
    return TrainConfig(env='InvertedPendulum-v4', steps=steps, run_dir=str(run_dir), seed=3,
                       overrides=dict(TINY), **kw)


def _train(cfg, resume=False, max_steps=None):
    trainer = Trainer(cfg, resume=resume, progress=False, tensorboard=False)
    try:
        trainer.run(max_steps)
        return trainer.agent.state_dict(), trainer.step_count
    finally:
        trainer.close()


def test_run_writes_metrics_plot_checkpoints_and_best_actor(tmp_path):
    cfg = tiny_config(tmp_path / 'run')
    trainer = Trainer(cfg, progress=False, tensorboard=True)
    trainer.run()
    trainer.close()
    run = tmp_path / 'run'
    rows = list(csv.DictReader(open(run / 'metrics.csv')))
    assert [int(r['step']) for r in rows] == [100, 200, 260]
    for key in ('test_return_mean', 'test_return_std', 'episodes', 'falls', 'mean_S',
                'steps_per_s', 'wall_s'):
        assert rows[-1][key] != ''
    assert (run / 'learning_curve.png').stat().st_size > 1000
    assert (run / 'best_actor.pt').exists()
    assert any(name.startswith('events') for name in os.listdir(run / 'tb'))
    assert len(list_checkpoints(str(run))) == 2       # the last two are kept


def test_interrupted_and_resumed_run_equals_uninterrupted(tmp_path):
    torch.set_num_threads(1)
    whole, _ = _train(tiny_config(tmp_path / 'a'))
    _, stopped_at = _train(tiny_config(tmp_path / 'b'), max_steps=170)
    assert stopped_at == 170
    ckpt_step = int(os.path.basename(latest_checkpoint(str(tmp_path / 'b')))[5:14])
    assert 100 < ckpt_step < 170                        # resumes from a mid-run checkpoint
    resumed, steps = _train(tiny_config(tmp_path / 'b'), resume=True)
    assert steps == 260
    for part in ('actor', 'critic', 'target_critic'):
        for key, value in whole[part].items():
            assert torch.equal(value, resumed[part][key]), (part, key)
    assert torch.equal(whole['m'], resumed['m'])
    rows = list(csv.DictReader(open(tmp_path / 'b' / 'metrics.csv')))
    assert [int(r['step']) for r in rows] == [100, 200, 260]


def tiny_args(run_dir, steps, seed=1, eval_every=200, checkpoint_every=50):
    """`symphony train` flags of a tiny InvertedPendulum run (TINY as flags)."""
    return ['train', '--run-dir', str(run_dir), '--env', 'InvertedPendulum-v4',
            '--seed', str(seed), '--eval-every', str(eval_every), '--eval-episodes', '1',
            '--checkpoint-every', str(checkpoint_every), '--hidden-dim', '16',
            '--critic-heads', '4', '--batch-size', '16', '--capacity', '400',
            '--explore-steps', '100', '--steps', str(steps)]


def _cli(*args):
    return subprocess.run([sys.executable, '-m', 'symphony_ros.cli.main', *args],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize('args, message', [
    (['--env', 'NoSuchEnv-v9'], "unknown env 'NoSuchEnv-v9'"),
    (['--steps', '0'], 'steps must be positive'),
    (['--steps', '-5'], 'steps must be positive'),
])
def test_bad_train_input_is_one_line_exit_2(tmp_path, args, message):
    out = _cli('train', '--run-dir', str(tmp_path / 'r'), *args)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert not (tmp_path / 'r').exists()


def test_unknown_config_is_rejected(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli(['train', '--config', 'zz', '--run-dir', str(tmp_path)])
    assert exc.value.code == 2
    assert "invalid choice: 'zz'" in capsys.readouterr().err


def test_run_dir_of_another_run_and_resume_without_run(tmp_path):
    _train(tiny_config(tmp_path / 'r', steps=120))
    out = _cli('train', '--run-dir', str(tmp_path / 'r'), '--env', 'InvertedPendulum-v4')
    assert out.returncode == 2 and 'already holds a run' in out.stderr
    out = _cli('train', '--run-dir', str(tmp_path / 'r'), '--env', 'Hopper-v4', '--resume')
    assert out.returncode == 2 and 'another run configuration' in out.stderr
    assert 'env' in out.stderr
    out = _cli('train', '--run-dir', str(tmp_path / 'empty'), '--resume')
    assert out.returncode == 2 and 'holds no run' in out.stderr


def test_corrupt_checkpoint_is_named(tmp_path):
    _train(tiny_config(tmp_path / 'r', steps=120))
    newest = latest_checkpoint(str(tmp_path / 'r'))
    with open(newest, 'r+b') as f:
        f.truncate(100)
    cfg = tiny_config(tmp_path / 'r', steps=200)
    out = _cli(*tiny_args(cfg.run_dir, 200, seed=3, eval_every=100), '--resume')
    assert out.returncode == 2
    assert os.path.basename(newest) in out.stderr and 'not a readable checkpoint' in out.stderr


def test_kill_9_then_resume_completes(tmp_path):
    run = tmp_path / 'k'
    args = tiny_args(run, 2000) + ['--no-progress']
    proc = subprocess.Popen([sys.executable, '-m', 'symphony_ros.cli.main', *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and len(list_checkpoints(str(run))) < 2:
            time.sleep(0.05)
        assert list_checkpoints(str(run)), 'no checkpoint written in time'
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    out = _cli(*tiny_args(run, 400), '--no-progress', '--resume')
    assert out.returncode == 0, out.stderr
    assert '"step": 400' in out.stdout


def test_stop_request_checkpoints_the_step_reached(tmp_path):
    cfg = tiny_config(tmp_path / 's', steps=1000, checkpoint_every=10_000)
    trainer = Trainer(cfg, progress=False, tensorboard=False)
    trainer.on_evaluation.append(lambda row: trainer.request_stop())
    try:
        summary = trainer.run()
    finally:
        trainer.close()
    # The first evaluation (step 100) asked to stop: no further step, one checkpoint there.
    assert summary['step'] == 100 and trainer.stopped
    assert [os.path.basename(p) for p in list_checkpoints(cfg.run_dir)] == [
        'ckpt_000000100.pt']
    _, steps = _train(cfg, resume=True, max_steps=20)
    assert steps == 120


def test_cli_sigint_writes_a_checkpoint_and_says_how_to_resume(tmp_path):
    run = tmp_path / 'c'
    args = tiny_args(run, 99999, eval_every=100, checkpoint_every=100000) + ['--no-progress']
    proc = subprocess.Popen([sys.executable, '-m', 'symphony_ros.cli.main', *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (run / 'metrics.csv').exists():
            time.sleep(0.05)
        assert (run / 'metrics.csv').exists(), 'no evaluation in time'
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    # One line per evaluation on stderr, the JSON summary alone on stdout.
    assert 'step 100  test return' in err and 'new best' in err
    assert 'SIGINT: writing a checkpoint' in err and '--resume' in err
    stopped_at = int(out.strip().splitlines()[-1].split('"step": ')[1].split(',')[0])
    assert stopped_at >= 100
    assert latest_checkpoint(str(run)).endswith(f'ckpt_{stopped_at:09d}.pt')
    resumed = _cli(*tiny_args(run, stopped_at + 30, eval_every=100, checkpoint_every=100000),
                   '--resume')
    assert resumed.returncode == 0, resumed.stderr
    assert f'resumed {run} at step {stopped_at:,}' in resumed.stderr
    assert f'"step": {stopped_at + 30}' in resumed.stdout

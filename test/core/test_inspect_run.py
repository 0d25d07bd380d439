"""`symphony inspect RUN_DIR`: where a run stands, read beside a trainer without disturbing it."""

import json
import os
import subprocess
import sys

import pytest
from process_helpers import RUN_DIR_HOLDER

from symphony_ros.cli import inspect_run
from symphony_ros.cli.inspect_run import describe_run
from symphony_ros.cli.main import main as cli
from symphony_ros.core.config import SymphonyConfig, TrainConfig
from symphony_ros.core.run_dir import RunDirError
from symphony_ros.core.run_lock import lock_run_dir, unlock_run_dir
from symphony_ros.core.run_summary import lock_holder, read_metrics, read_run
from symphony_ros.core.trainer import Trainer

TINY = dict(hidden_dim=16, critic_heads=4, batch_size=16, capacity=400, explore_steps=50)


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    """A finished 250-step run: evaluations at 100, 200 and 250, kept actors."""
    path = tmp_path_factory.mktemp('summary') / 'run'
    cfg = TrainConfig(env='InvertedPendulum-v4', steps=250, run_dir=str(path), seed=3,
                      eval_every=100, eval_episodes=1, checkpoint_every=50, threads=1,
                      keep_actors=True, overrides=TINY)
    with Trainer(cfg, progress=False, tensorboard=False) as trainer:
        trainer.run()
    return path


def test_a_finished_run_reads_as_its_files_say(run):
    s = read_run(str(run))
    assert s.step == 250 and s.checkpoint.endswith('ckpt_000000250.pt')
    assert s.exact_resume and s.has_best and s.actors == 3
    assert [int(r['step']) for r in s.rows] == [100, 200, 250]
    best = max(s.rows, key=lambda r: r['test_return_mean'])
    assert s.best is best
    assert s.trainer_pid is None
    assert s.train['seed'] == 3 and s.sym['hidden_dim'] == 16


def test_the_cli_says_progress_best_and_what_to_run_next(run, capsys):
    assert cli(['inspect', str(run)]) == 0
    out = capsys.readouterr().out
    best = read_run(str(run)).best
    assert f'{run}  training run, no trainer running' in out
    assert 'progress         250 of 250 steps (100.0 %)' in out
    assert 'with its replay buffer: a resume continues exactly' in out
    assert f'best {best["test_return_mean"]:,.1f} at {int(best["step"]):,} (best_actor.pt)' in out
    assert 'curve            100 ' in out and ' | 250 ' in out
    assert f'resume: symphony train --run-dir {run} --resume' in out
    assert f'export: symphony export {run} -o policy.onnx' in out
    assert f'kept actors      3 (symphony screen {run} ranks them' in out
    assert 'per step, lr 0.0001, noise clip 2.72\n' in out


@pytest.mark.parametrize('noise, says', [
    (dict(noise_clip=10.0), 'noise clip 10'),
    (dict(act_noise_clip=10.0, target_noise_clip=10.0), 'noise clip 2.72 (acting 10, target 10)'),
    (dict(noise_clip=10.0, act_noise_clip=10.0, act_noise_color=1.0),
     'noise clip 10 (acting 10, acting noise 1/f^1)')])
def test_the_learner_line_says_each_noise_the_run_learns_with(noise, says):
    sym = dict(SymphonyConfig(hidden_dim=16).to_dict(), **noise)
    assert inspect_run._learner({}, sym).endswith(f'per step, lr 0.0001, {says}')


def test_json_carries_the_same_figures(run, capsys):
    assert cli(['inspect', str(run), '--json']) == 0
    d = json.loads(capsys.readouterr().out)
    assert d['step'] == 250 and d['steps'] == 250 and d['evaluations'] == 3
    assert d['best']['test_return_mean'] == read_run(str(run)).best['test_return_mean']
    assert d['trainer_pid'] is None and d['exact_resume'] is True


def test_a_networks_only_checkpoint_says_the_resume_is_not_exact(run, tmp_path):
    copy = tmp_path / 'copy'
    (copy / 'checkpoints').mkdir(parents=True)
    (copy / 'config.json').write_bytes((run / 'config.json').read_bytes())
    (copy / 'checkpoints' / 'ckpt_000000250.pt').write_bytes(
        (run / 'checkpoints' / 'ckpt_000000250.pt').read_bytes())
    s = read_run(str(copy))
    assert s.step == 250 and not s.exact_resume and not s.rows and not s.has_best
    out = '\n'.join(describe_run(s))
    assert 'networks only: a resume refills the buffer first' in out
    assert 'no evaluation yet' in out
    assert '(its newest checkpoint)' in out


def test_a_trainer_holding_the_folder_is_named_by_its_pid(run):
    holder = subprocess.Popen([sys.executable, '-c', RUN_DIR_HOLDER, str(run)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'held'
        assert lock_holder(str(run)) == holder.pid
        assert read_run(str(run)).trainer_pid == holder.pid
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert lock_holder(str(run)) is None


def test_reading_never_takes_the_lock(run):
    # Read while this process holds the folder: read_run must not touch the lock, so a
    # trainer starting beside an inspect is never refused because of it.
    key = lock_run_dir(str(run))
    try:
        assert read_run(str(run)).trainer_pid == os.getpid()
    finally:
        unlock_run_dir(key)


def test_the_lock_table_parse_skips_waiters_and_other_files(tmp_path):
    folder = tmp_path / 'r'
    folder.mkdir()
    st = os.stat(folder)
    dev = f'{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}'
    table = tmp_path / 'locks'
    table.write_text(
        f'1: POSIX  ADVISORY  WRITE 11 {dev}:{st.st_ino} 0 EOF\n'
        f'2: FLOCK  ADVISORY  WRITE 22 {dev}:{st.st_ino + 1} 0 EOF\n'
        f'3: -> FLOCK  ADVISORY  WRITE 33 {dev}:{st.st_ino} 0 EOF\n'
        'garbage\n'
        f'4: FLOCK  ADVISORY  WRITE 44 {dev}:{st.st_ino} 0 EOF\n')
    assert lock_holder(str(folder), str(table)) == 44
    assert lock_holder(str(folder), str(tmp_path / 'missing')) is None


def test_bad_folders_and_files_are_named(tmp_path, capsys):
    assert cli(['inspect', str(tmp_path)]) == 2
    assert f'{tmp_path}: neither a policy file nor a run folder (config.json missing' in \
        capsys.readouterr().err
    (tmp_path / 'config.json').write_text('{"train_config": 1}')
    with pytest.raises(RunDirError, match='expected train_config and symphony_config'):
        read_run(str(tmp_path))
    metrics = tmp_path / 'metrics.csv'
    metrics.write_text('step,test_return_mean\n100,5.0\nabc,6.0\n')
    rows, problem = read_metrics(str(metrics))
    assert rows == [] and problem == f'{metrics}: line 3 has no step number'
    assert read_metrics(str(tmp_path / 'none.csv')) == ([], '')


def test_an_unreadable_metrics_file_still_shows_the_rest(run, tmp_path, capsys):
    copy = tmp_path / 'copy'
    (copy / 'checkpoints').mkdir(parents=True)
    (copy / 'config.json').write_bytes((run / 'config.json').read_bytes())
    (copy / 'metrics.csv').write_text('step\nnot-a-number\n')
    assert cli(['inspect', str(copy)]) == 0
    out = capsys.readouterr().out
    assert 'test return      ? (' in out and 'line 2 has no step number' in out
    assert 'no checkpoint yet (of 250 steps)' in out


def test_robot_is_refused_for_a_folder(run, capsys):
    assert cli(['inspect', str(run), '--robot', 'g1']) == 2
    assert 'is a folder (export it first' in capsys.readouterr().err


def test_a_metrics_file_of_steps_alone_reads_as_no_return(run, tmp_path, capsys):
    copy = tmp_path / 'copy'
    copy.mkdir()
    (copy / 'config.json').write_bytes((run / 'config.json').read_bytes())
    (copy / 'metrics.csv').write_text('step\n100\n')
    assert cli(['inspect', str(copy)]) == 0
    out = capsys.readouterr().out
    assert 'test return      newest nan at 100' in out and 'curve            100 nan' in out


@pytest.mark.parametrize('exact', [True, False])
def test_the_best_counts_from_a_change_of_reward_weights_as_best_actor_pt_does(
        tmp_path, capsys, exact):
    """After a resume that re-weighs the rewards, an older and higher return is not the best.

    The trainer's best (and best_actor.pt) starts over at such a change, with the replay
    re-scored or, from a networks-only checkpoint, none to re-score; inspect names the row
    best_actor.pt holds, and says from which step it counts.
    """
    import torch
    run = tmp_path / 'g1'
    cfg = dict(env='velocity:g1', run_dir=str(run), seed=2, eval_every=40, eval_episodes=1,
               checkpoint_every=40, episode_limit=30, threads=1, overrides=TINY,
               exact_resume=exact)
    with Trainer(TrainConfig(steps=80, **cfg), progress=False, tensorboard=False) as trainer:
        trainer.run()
    # Survival now costs: every test return after the change lies far below those before it.
    with Trainer(TrainConfig(steps=160, reward_weights='alive=-20', **cfg), resume=True,
                 progress=False, tensorboard=False) as trainer:
        trainer.run()
    s = read_run(str(run))
    assert s.best_since == 80
    before = max(r['test_return_mean'] for r in s.rows if r['step'] <= 80)
    assert s.best['step'] > 80 and s.best['test_return_mean'] < before
    held = torch.load(run / 'best_actor.pt', weights_only=False)
    assert int(held['step']) == int(s.best['step'])
    assert cli(['inspect', str(run)]) == 0
    assert (f'best {s.best["test_return_mean"]:,.1f} at {int(s.best["step"]):,} '
            '(best_actor.pt), counted since the change at 80') in capsys.readouterr().out

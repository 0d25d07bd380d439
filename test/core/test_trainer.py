"""The training loop: outputs, exact resume, kill -9, and clear errors for bad input."""

import argparse
import csv
import json
import math
import os
import shutil
import signal
import subprocess
import sys

import pytest
import torch

from symphony_ros.cli.main import main as cli
from symphony_ros.cli.train_cmd import add_arguments
from symphony_ros.core.checkpoint import latest_checkpoint, list_checkpoints
from symphony_ros.core.config import SymphonyConfig, TrainConfig
from symphony_ros.core.snapshot import load_actor
from symphony_ros.core.trainer import NonFiniteError, Trainer
from symphony_ros.deploy.config import PolicyNodeConfig
from symphony_ros.sim.config import SimConfig
from symphony_ros.train.params import TrainerNodeConfig

from process_helpers import signal_when

TINY = dict(hidden_dim=16, critic_heads=4, batch_size=16, capacity=400, explore_steps=100)


def tiny_config(run_dir, steps=260, overrides=None, **kw):
    # One fixed thread: exact resume needs the same summation order in every update.
    kw = dict(dict(eval_every=100, eval_episodes=1, checkpoint_every=50, threads=1), **kw)
    return TrainConfig(env='InvertedPendulum-v4', steps=steps, run_dir=str(run_dir), seed=3,
                       overrides=dict(TINY, **(overrides or {})), **kw)


def _train(cfg, resume=False, max_steps=None):
    with Trainer(cfg, resume=resume, progress=False, tensorboard=False) as trainer:
        trainer.run(max_steps)
        return trainer.agent.state_dict(), trainer.step_count


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


@pytest.mark.parametrize('colour', [0.0, 1.0])
def test_interrupted_and_resumed_run_equals_uninterrupted(tmp_path, colour):
    # Coloured acting noise is drawn per episode, and a resume starts a new one.
    noise = {'act_noise_color': colour}
    whole, _ = _train(tiny_config(tmp_path / 'a', overrides=noise))
    _, stopped_at = _train(tiny_config(tmp_path / 'b', overrides=noise), max_steps=170)
    assert stopped_at == 170
    ckpt_step = int(os.path.basename(latest_checkpoint(str(tmp_path / 'b')))[5:14])
    assert 100 < ckpt_step < 170                        # resumes from a mid-run checkpoint
    resumed, steps = _train(tiny_config(tmp_path / 'b', overrides=noise), resume=True)
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
    (['--steps', '0'], 'argument --steps: expected a number >= 1, got 0'),
    (['--steps', '-5'], 'argument --steps: expected a number >= 1, got -5'),
])
def test_bad_train_input_is_one_line_exit_2(tmp_path, args, message):
    out = _cli('train', '--run-dir', str(tmp_path / 'r'), *args)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert not (tmp_path / 'r').exists()


def _train_flags():
    """(flag, field range) of every numeric flag of `symphony train`."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    for action in parser._actions:
        rng = getattr(action.type, 'range', None)
        if rng is not None:
            yield action.option_strings[0], rng


def _out_of_range(rng):
    bad = ['nan', 'inf', '-inf']
    if rng.low is not None:
        bad.append(str(rng.low if rng.above else rng.low - 1))
    if rng.high is not None:
        bad.append(str(rng.high + 1))
    return bad


def test_every_numeric_train_flag_has_a_declared_range():
    """A numeric flag without a range would let `--batch-size 0` through to the trainer."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    numeric = [a.option_strings[0] for a in parser._actions
               if getattr(a.type, '__name__', '') in ('int', 'float')]
    ranged = [flag for flag, _ in _train_flags()]
    assert numeric and sorted(numeric) == sorted(ranged)
    assert {'--batch-size', '--updates-per-step', '--explore-steps', '--critic-heads',
            '--episode-limit', '--hidden-dim', '--lr', '--capacity'} <= set(ranged)


@pytest.mark.parametrize('flag, value', [
    (flag, value) for flag, rng in _train_flags() for value in _out_of_range(rng)])
def test_out_of_range_train_flag_is_refused_at_parse_time(tmp_path, capsys, flag, value):
    (tmp_path / 'r').mkdir()
    (tmp_path / 'r' / 'keep.txt').write_text('mine')
    with pytest.raises(SystemExit) as exc:
        cli(['train', '--run-dir', str(tmp_path / 'r'), f'{flag}={value}'])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and f'argument {flag}: expected' in err, err
    assert os.listdir(tmp_path / 'r') == ['keep.txt']


@pytest.mark.parametrize('cls, bad', [
    (SymphonyConfig, dict(batch_size=0)), (SymphonyConfig, dict(gamma=1.5)),
    (SymphonyConfig, dict(lr=float('nan'))), (TrainConfig, dict(eval_episodes=0)),
    (TrainConfig, dict(episode_limit=-3)), (TrainConfig, dict(steps=0)),
    (PolicyNodeConfig, dict(stale_after=0.0)),
    (PolicyNodeConfig, dict(realtime_priority=100)), (SimConfig, dict(reset_noise=-1.0)),
    (SimConfig, dict(max_ticks=-1)), (TrainerNodeConfig, dict(diagnostics_period=0.0)),
])
def test_config_out_of_range_cannot_be_built(cls, bad):
    """The same declared ranges hold for ROS parameters and Python callers."""
    name = next(iter(bad))
    with pytest.raises(ValueError, match=f'^{name}: expected a number'):
        cls(**bad)


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
    assert out.returncode == 2
    assert ('--env Hopper-v4 disagrees with the run' in out.stderr
            and 'has env InvertedPendulum-v4' in out.stderr), out.stderr
    out = _cli('train', '--run-dir', str(tmp_path / 'empty'), '--resume')
    assert out.returncode == 2 and 'holds no run' in out.stderr


REFUSED = [
    (['--obs-spec', 'no_such_spec'], 'no_such_spec'),
    (['--env', 'CartPole-v1'], 'Discrete action space'),
    (['--env', 'NoSuchEnv-v9'], 'unknown env'),
]
if not torch.cuda.is_available():
    REFUSED.append((['--device', 'cuda'], 'no CUDA device'))


@pytest.mark.parametrize('args, message', REFUSED)
def test_a_refused_run_writes_nothing(tmp_path, capsys, args, message):
    """Every check runs before the first file is written: the folder stays as it was."""
    assert cli(['train', '--run-dir', str(tmp_path / 'new'), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / 'new').exists()
    (tmp_path / 'old').mkdir()
    (tmp_path / 'old' / 'notes.txt').write_text('mine')
    assert cli(['train', '--run-dir', str(tmp_path / 'old'), *args]) == 2
    assert os.listdir(tmp_path / 'old') == ['notes.txt']


def test_run_dir_that_is_a_file_is_refused(tmp_path, capsys):
    assert cli(['train', '--run-dir', '', '--steps', '5']) == 2
    assert "--run-dir '': expected a folder path" in capsys.readouterr().err
    (tmp_path / 'f').write_text('x')
    assert cli(['train', '--run-dir', str(tmp_path / 'f'), '--steps', '5']) == 2
    assert 'exists and is not a folder' in capsys.readouterr().err
    assert cli(['train', '--run-dir', str(tmp_path / 'f' / 'sub'), '--steps', '5']) == 2
    assert 'is a file, not a folder' in capsys.readouterr().err
    assert (tmp_path / 'f').read_text() == 'x'


def test_a_folder_with_only_a_config_is_reused(tmp_path, capsys):
    """A run refused or killed before its first checkpoint leaves nothing worth keeping."""
    run = tmp_path / 'r'
    run.mkdir()
    (run / 'config.json').write_text(json.dumps({'train_config': {'env': 'Hopper-v4'},
                                                 'symphony_config': {}}))
    assert cli(tiny_args(run, 60) + ['--no-progress']) == 0
    assert json.loads((run / 'config.json').read_text())['train_config']['env'] == (
        'InvertedPendulum-v4')
    assert cli(['train', '--run-dir', str(tmp_path / 'fresh'), '--resume']) == 2
    assert 'holds no run' in capsys.readouterr().err


def test_resume_takes_the_run_from_its_config_json(tmp_path, monkeypatch, capsys):
    """--resume alone is enough; the folder may be named another way, moved or copied."""
    run = tmp_path / 'runs' / 'r'
    assert cli(tiny_args(run, 60, checkpoint_every=20) + ['--no-progress']) == 0
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)
    assert cli(['train', '--run-dir', 'runs/r/', '--resume', '--steps', '80',
                '--no-progress']) == 0
    assert '"step": 80' in capsys.readouterr().out
    shutil.copytree(run, tmp_path / 'moved')
    assert cli(['train', '--run-dir', 'moved', '--resume', '--steps', '100',
                '--no-progress', '--env', 'InvertedPendulum-v4', '--hidden-dim', '16']) == 0
    assert '"step": 100' in capsys.readouterr().out
    # A flag that disagrees is named, with the stored and the given value.
    for flag, given, stored in (('--batch-size', '7', 'batch_size 16'), ('--seed', '9', 'seed 1'),
                                ('--eval-every', '7', 'eval_every 200')):
        assert cli(['train', '--run-dir', 'moved', '--resume', flag, given]) == 2
        err = capsys.readouterr().err
        assert f'{flag} {given} disagrees' in err and stored in err, err
    # A damaged config.json is named as the file at fault.
    (tmp_path / 'moved' / 'config.json').write_text('{"train_config": {')
    assert cli(['train', '--run-dir', 'moved', '--resume']) == 2
    err = capsys.readouterr().err
    assert 'moved/config.json: not a readable run config' in err


def test_corrupt_checkpoint_is_named(tmp_path):
    _train(tiny_config(tmp_path / 'r', steps=120))
    newest = latest_checkpoint(str(tmp_path / 'r'))
    with open(newest, 'r+b') as f:
        f.truncate(100)
    cfg = tiny_config(tmp_path / 'r', steps=200)
    out = _cli(*tiny_args(cfg.run_dir, 200, seed=3, eval_every=100), '--resume')
    assert out.returncode == 2
    line = out.stderr.strip()
    assert os.path.basename(newest) in line and 'not a readable checkpoint' in line
    assert 'truncated or damaged' in line and 'weights_only' not in line, line
    previous = list_checkpoints(str(tmp_path / 'r'))[0]
    assert line.endswith(f'the previous checkpoint {previous} is intact: delete {newest} to '
                         'resume from it'), line
    os.unlink(newest)
    out = _cli(*tiny_args(cfg.run_dir, 200, seed=3, eval_every=100), '--resume')
    assert out.returncode == 0, out.stderr           # from the previous one, buffer refilled


def test_a_second_signal_inside_the_stops_checkpoint_write_aborts_as_asked(
        tmp_path, monkeypatch, capfd):
    """Ctrl-C twice: the second lands in the stop's checkpoint write, which torch turns into a
    RuntimeError; the command still ends as an abort (exit 130), no traceback, the last
    checkpoint whole."""
    real_evaluate, real_save = Trainer.evaluate_and_log, Trainer.save

    def evaluate(self):
        row = real_evaluate(self)
        os.kill(os.getpid(), signal.SIGINT)             # the first Ctrl-C
        return row

    def save(self):
        if not self.stopped:
            return real_save(self)
        try:                                            # the second, in the write
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):                       # the handler runs between bytecodes
                sum(range(100))
        except KeyboardInterrupt:
            raise RuntimeError('[enforce fail at inline_container.cc] unexpected pos') from None
        raise AssertionError('the second signal was not delivered')
    monkeypatch.setattr(Trainer, 'evaluate_and_log', evaluate)
    monkeypatch.setattr(Trainer, 'save', save)
    run = tmp_path / 'a'
    assert cli(tiny_args(run, 99999, eval_every=150, checkpoint_every=100)
               + ['--no-progress']) == 130
    err = capfd.readouterr().err
    assert 'SIGINT: writing a checkpoint' in err and 'symphony train: interrupted' in err
    assert 'Traceback' not in err and 'RuntimeError' not in err
    # The periodic checkpoint before the stop is the run's last, and it loads.
    assert [os.path.basename(p) for p in list_checkpoints(str(run))] == ['ckpt_000000104.pt']
    assert load_actor(list_checkpoints(str(run))[0]).step == 104


def test_kill_9_then_resume_completes(tmp_path):
    run = tmp_path / 'k'
    args = tiny_args(run, 2000) + ['--no-progress']
    proc = subprocess.Popen([sys.executable, '-m', 'symphony_ros.cli.main', *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    signal_when(proc, lambda: len(list_checkpoints(str(run))) >= 2, signal.SIGKILL)
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
    out, err = signal_when(proc, (run / 'metrics.csv').exists, signal.SIGINT)
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


def test_training_that_goes_non_finite_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    cfg = tiny_config(tmp_path / 'n', steps=400)
    with Trainer(cfg, progress=False, tensorboard=False) as trainer:
        trainer.run(max_steps=150)                 # checkpoints at 100 (or so) and 150
        good = latest_checkpoint(cfg.run_dir)
        best = torch.load(os.path.join(cfg.run_dir, 'best_actor.pt'), weights_only=True)
        with torch.no_grad():
            next(trainer.agent.actor.parameters()).fill_(float('nan'))
        with pytest.raises(NonFiniteError) as exc:
            trainer.run()
    message = str(exc.value)
    assert message.startswith('step 15') and 'went non-finite' in message, message
    assert 'action' in message and f'the last good checkpoint {good} is kept' in message
    assert latest_checkpoint(cfg.run_dir) == good
    after = torch.load(os.path.join(cfg.run_dir, 'best_actor.pt'), weights_only=True)
    assert after['step'] == best['step'] and math.isfinite(after['test_return'])


def test_a_nan_loss_is_named(tmp_path):
    with Trainer(tiny_config(tmp_path / 'l', steps=400), progress=False,
                 tensorboard=False) as trainer:
        trainer.run(max_steps=120)
        with torch.no_grad():       # the critic alone: actions stay finite, the loss does not
            for value in trainer.agent.critic.parameters():
                value.fill_(float('inf'))
        with pytest.raises(NonFiniteError, match=r'^step 121: loss term \w+ went non-finite'):
            trainer.step()


def _checkpoint_files(run):
    return sorted(os.listdir(os.path.join(run, 'checkpoints')))


def test_checkpoints_hold_the_data_not_the_capacity(tmp_path, capsys):
    """Replay only with the newest checkpoint, sized by what was collected; size logged."""
    run = tmp_path / 'c'
    args = tiny_args(run, 260, eval_every=100, checkpoint_every=50)
    args[args.index('--capacity') + 1] = '200000'          # 200k slots, 260 transitions
    assert cli(args + ['--no-progress']) == 0
    files = _checkpoint_files(run)
    assert [n[:5] for n in files] == ['ckpt_', 'ckpt_', 'repla'], files
    assert files[1:] == ['ckpt_000000260.pt', 'replay_000000260.pt'], files
    full = 200_000 * (4 + 4 + 1 + 1 + 1) * 4                # every slot: 8.8 MB
    assert os.path.getsize(run / 'checkpoints' / 'replay_000000260.pt') < full / 50
    err = capsys.readouterr().err
    assert 'checkpoint step 260: ' in err and ' kB + replay ' in err and ' s\n' in err


def test_exact_resume_false_writes_no_replay_and_a_resume_refills(tmp_path, capsys):
    run = tmp_path / 'x'
    assert cli(tiny_args(run, 160) + ['--no-progress', '--exact-resume', 'false']) == 0
    assert not [n for n in _checkpoint_files(run) if n.startswith('replay_')]
    assert 'no replay: resume re-fills the buffer' in capsys.readouterr().err
    stored = json.loads((run / 'config.json').read_text())['train_config']
    with Trainer(TrainConfig(**{**stored, 'steps': 400}), resume=True, progress=False,
                 tensorboard=False) as trainer:
        assert trainer.step_count == 160 and not trainer.learning
        scale = trainer.buffer.reward_scale
        trainer.run(max_steps=100)                # a fresh warm-up of explore_steps (100)
        assert trainer.learning and trainer.buffer.reward_scale == scale
        assert trainer.updates > 0


def test_progress_bar_shows_nothing_it_does_not_know(tmp_path, capsys):
    """No nan before the first evaluation; no remaining time from warm-up's speed."""
    with Trainer(tiny_config(tmp_path / 'p', steps=400), progress=True,
                 tensorboard=True) as trainer:
        trainer.run(max_steps=60)                  # warm-up only (explore_steps 100)
        warm = capsys.readouterr().err
        trainer.run(max_steps=100)                 # learning, first evaluation at 100
        learn = capsys.readouterr().err
    assert 'phase=warm-up' in warm and 'remaining: after warm-up' in warm, warm
    assert 'nan' not in warm and 'test=' not in warm and 'S=' not in warm
    last = learn.replace('\r', '\n').strip().splitlines()[-1]
    assert 'phase=learn' in last and 'test=' in last and 'after warm-up' not in last, last
    assert 'nan' not in last
    assert trainer.log.title == 'p: s3 on InvertedPendulum-v4, seed 3'


def test_the_out_of_date_env_warning_is_one_note_in_our_words(tmp_path, capsys):
    assert cli(tiny_args(tmp_path / 'w', 30, eval_every=30) + ['--no-progress']) == 0
    err = capsys.readouterr().err
    assert err.count('InvertedPendulum-v4: Gymnasium calls this version out of date') == 1
    assert 'You should consider upgrading' not in err


def test_tensorboard_logs_each_loss_term_and_the_target_value_the_baseline_follows(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    torch.set_num_threads(1)
    cfg = tiny_config(tmp_path / 'run', steps=300)
    with Trainer(cfg, progress=False, tensorboard=True) as trainer:
        trainer.run()
        m = float(trainer.agent.m)
    events = EventAccumulator(str(tmp_path / 'run' / 'tb'))
    events.Reload()
    tags = set(events.Tags()['scalars'])
    assert {f'loss/{k}' for k in ('loss', 'actor', 'critic', 'swaddling', 'mean_S',
                                  'q_t_mean')} <= tags
    last = events.Scalars('loss/q_t_mean')[-1]
    # Logged at step 300, the run's last update: the baseline m took that value.
    assert last.step == 300 and last.value == pytest.approx(m, rel=1e-5)


def test_each_evaluation_line_says_the_training_steps_per_fall_since_the_one_before():
    from symphony_ros.cli.train_cmd import evaluation_lines
    say = evaluation_lines()
    row = dict(step=10_000, test_return_mean=90.0, test_return_std=5.0, episodes=30, falls=25,
               steps_per_s=95.0, wall_s=100.0)
    first = say(row)
    assert '(falls 25)' in first and 'per fall' not in first
    assert '(falls 45; 500 steps per fall since the last test)' in say(
        dict(row, step=20_000, episodes=52, falls=45))
    assert '(falls 45; none since the last test)' in say(dict(row, step=30_000, falls=45))


def test_falls_in_the_deliberate_fall_are_counted_apart_from_the_actors(tmp_path, capsys):
    # fall_steps = the episode limit: once learning, noise alone acts every step, so every
    # fall after warm-up is a deliberate one and the actor's count stays at warm-up's.
    def run(name, steps):
        cfg = tiny_config(tmp_path / name, steps=steps, episode_limit=30)
        cfg.overrides['fall_steps'] = 30
        with Trainer(cfg, progress=False, tensorboard=False) as trainer:
            trainer.run()
            return trainer.falls, trainer.noise_falls
    warm_falls, warm_noise = run('warm', 100)
    falls, noise_falls = run('run', 300)
    assert warm_falls > 0 and warm_noise == 0
    assert falls == warm_falls and noise_falls > 0
    row = list(csv.DictReader(open(tmp_path / 'run' / 'metrics.csv')))[-1]
    assert (int(row['falls']), int(row['noise_falls'])) == (falls, noise_falls)
    assert cli(['inspect', str(tmp_path / 'run')]) == 0
    out = capsys.readouterr().out
    assert f'{falls:,} of them falls' in out
    assert f'{noise_falls:,} more in the deliberate fall before the time limit' in out


def test_keep_checkpoints_keeps_every_one_and_a_copy_rolls_back_to_any(tmp_path):
    torch.set_num_threads(1)
    run = tmp_path / 'run'
    _train(tiny_config(run, keep_checkpoints=True))
    kept = [os.path.basename(p) for p in list_checkpoints(str(run))]
    assert len(kept) >= 5 and kept[-1] == 'ckpt_000000260.pt'   # one per 50 steps or so
    replays = sorted(p for p in os.listdir(run / 'checkpoints') if p.startswith('replay_'))
    assert replays == ['replay_000000260.pt']          # the buffer only with the newest
    # Taken back whole to the third: a copy without the newer checkpoints resumes there.
    back = tmp_path / 'back'
    shutil.copytree(run, back)
    for p in list_checkpoints(str(back))[3:]:
        os.unlink(p)
    os.unlink(back / 'checkpoints' / 'replay_000000260.pt')
    third = int(kept[2][5:14])
    with Trainer(tiny_config(back, steps=third + 40), resume=True, progress=False,
                 tensorboard=False) as trainer:
        assert trainer.step_count == third
        trainer.run()
    # Without it, the newest two stay.
    plain = tmp_path / 'plain'
    _train(tiny_config(plain))
    assert len(list_checkpoints(str(plain))) == 2


def test_a_refill_stopped_midway_saves_nothing_and_one_with_a_replay_is_not_made(tmp_path):
    torch.set_num_threads(1)
    run = tmp_path / 'run'
    _train(tiny_config(run, exact_resume=False), max_steps=120)
    kept = list_checkpoints(str(run))
    heard = []
    with Trainer(tiny_config(run, exact_resume=False, refill_steps=100), resume=True,
                 progress=False, tensorboard=False) as trainer:
        trainer.on_note.append(heard.append)
        assert any('refilled by 100 steps' in n for n in trainer.notes)
        for _ in range(30):
            trainer.step()
        trainer.request_stop()
        trainer.run()
    assert list_checkpoints(str(run)) == kept
    assert any('stopped during the refill: nothing saved' in n for n in heard)
    # A checkpoint with its replay resumes exactly: the refill is not made, and said so.
    full = tmp_path / 'full'
    _train(tiny_config(full), max_steps=120)
    with Trainer(tiny_config(full, refill_steps=100), resume=True, progress=False,
                 tensorboard=False) as trainer:
        assert trainer.learning and trainer._refill_left == 0
        assert any('which the resume takes; no refill' in n for n in trainer.notes)

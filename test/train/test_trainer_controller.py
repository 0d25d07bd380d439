"""TrainingController and trainer_node's parameters, without ROS: pause, checkpoint, export."""

import argparse
import dataclasses
import json
import os
import shutil
import time

import numpy as np
import pytest
import torch

from symphony_ros.cli import train_cmd
from symphony_ros.core.config import TrainConfig
from symphony_ros.core.trainer import Trainer
from symphony_ros.policy.errors import ExportError
from symphony_ros.policy.runtime import OnnxPolicy
from symphony_ros.train.controller import RateMeter, TrainingController
from symphony_ros.train.params import (OVERRIDABLE, TrainerNodeConfig, override_fields,
                                       overrides_from, policy_path, ros_wording, stages_param,
                                       train_config)

TINY = dict(hidden_dim=16, critic_heads=4, batch_size=16, capacity=400, explore_steps=100,
            updates_per_step=1)


def tiny_config(run_dir, steps=260):
    return TrainConfig(env='InvertedPendulum-v4', steps=steps, run_dir=str(run_dir), seed=3,
                       eval_every=100, eval_episodes=1, checkpoint_every=100_000, device='cpu',
                       overrides=dict(TINY))


@pytest.fixture
def make(tmp_path):
    """Build controllers on tiny pendulum runs; each is closed at the end of the test."""
    made = []
    # One thread: on a busy 2-core machine a second one makes tiny updates ~10x slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)

    def build(steps=260, policy=None, resume=False):
        run = tmp_path / 'run'
        trainer = Trainer(tiny_config(run, steps), resume=resume, progress=False,
                          tensorboard=False)
        lines, rows = [], []
        c = TrainingController(trainer, str(policy or run / 'policy.onnx'), log=lines.append,
                               on_evaluation=rows.append)
        made.append(c)
        return c, lines, rows
    yield build
    for c in made:
        c.close()
    torch.set_num_threads(threads)


def wait_until(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_export_before_any_evaluation_is_the_current_actor(make):
    c, _, _ = make()
    for _ in range(10):
        assert c.step()
    done = c.export_policy()
    assert (done.step, done.test_return) == (10, None)
    assert 'no evaluation yet' in done.description
    policy = OnnxPolicy(done.path)
    assert policy.contract.training_steps == 10 and policy.contract.test_return is None
    obs = np.linspace(-1, 1, 4)
    np.testing.assert_allclose(policy.act(obs), c.trainer.policy(obs), atol=1e-5)


def test_new_bests_are_exported_and_once_more_at_the_end(make):
    c, lines, rows = make()
    while c.step():
        pass
    assert [int(r['step']) for r in rows] == [100, 200, 260]
    assert c.finished.is_set() and not c.step()
    best = c.trainer.best_return
    assert c.final_export is not None and c.final_export.test_return == pytest.approx(best)
    contract = OnnxPolicy(c.policy_path).contract
    assert contract.test_return == pytest.approx(best)
    assert sum('new best export: best actor' in line for line in lines) >= 1
    assert any(line.startswith('final export: best actor') for line in lines)
    assert os.path.isfile(os.path.join(c.trainer.run_dir, 'checkpoints', 'ckpt_000000260.pt'))
    s = c.status()
    assert (s['phase'], s['step'], s['policy']) == ('finished', 260, c.policy_path)


def test_a_run_resumed_past_its_end_finishes_at_once(make):
    c, _, _ = make()
    while c.step():
        pass
    c.close()
    os.unlink(c.policy_path)
    again, lines, rows = make(resume=True)
    assert not again.step()
    assert rows == []   # step 260 was evaluated before: no second evaluation
    assert again.final_export is not None and os.path.isfile(again.policy_path)


def test_pause_stops_the_worker_until_resumed(make):
    c, _, _ = make(steps=100_000)
    c.start()
    assert wait_until(lambda: c.trainer.step_count > 5)
    message = c.pause(True)
    held = c.trainer.step_count
    assert message == f'paused at step {held}'
    time.sleep(0.3)
    assert c.trainer.step_count == held
    s = c.status()
    assert s['paused'] and s['phase'] == 'paused'
    assert c.pause(False).startswith('resumed at step')
    assert wait_until(lambda: c.trainer.step_count > held + 5)
    assert c.stop(timeout=30) and c.ended.is_set() and c.error is None


def test_a_paused_worker_stops_when_asked(make):
    c, _, _ = make(steps=100_000)
    c.pause(True)
    c.start()
    assert c.stop(timeout=30)
    assert c.trainer.step_count == 0


def test_save_checkpoint_mid_episode_returns_its_path(make):
    c, _, _ = make()
    for _ in range(7):
        c.step()
    path = c.save_checkpoint()
    assert os.path.basename(path) == 'ckpt_000000007.pt' and os.path.isfile(path)


def test_a_failed_export_is_logged_and_training_goes_on(make, tmp_path):
    folder = tmp_path / 'a_folder'
    folder.mkdir()
    c, lines, _ = make(policy=folder)
    for _ in range(101):
        assert c.step()
    assert c.trainer.step_count == 101
    assert c.export_failures == 1
    assert any(line.startswith('new best export failed:') and 'is a folder' in line
               for line in lines)
    assert c.status()['export_failures'] == 1
    with pytest.raises(ExportError, match='is a folder'):
        c.export_policy()


def test_a_failing_step_ends_the_worker_with_the_error(make):
    c, lines, _ = make()

    def broken():
        raise RuntimeError('simulated failure')
    c.trainer.step = broken
    ended = []
    c.on_end = lambda: ended.append(True)
    c.start()
    assert c.ended.wait(30)
    assert isinstance(c.error, RuntimeError) and ended == [True]
    assert lines[-1] == 'training failed: RuntimeError: simulated failure'


def test_rate_meter_counts_over_its_window_and_decays_when_idle():
    now = [0.0]
    meter = RateMeter(window=5.0, clock=lambda: now[0])
    assert meter.rate() == 0.0
    for i in range(11):
        now[0] = i * 0.1
        meter.mark(i * 10)
    assert meter.rate() == pytest.approx(100.0)
    now[0] = 11.0        # paused since t = 1 s
    meter.mark(100)
    assert meter.rate() < 20.0


# ---- parameters ---------------------------------------------------------------------------

def test_overridable_fields_are_the_cli_flags():
    parser = argparse.ArgumentParser()
    train_cmd.add_arguments(parser)
    assert set(OVERRIDABLE) <= {a.dest for a in parser._actions}
    fields = {name: (typ, doc) for name, typ, doc in override_fields()}
    assert fields['lr'][0] is float and fields['hidden_dim'][0] is int
    assert fields['hidden_dim'][1].startswith('Width h') and "0: the named config's" in \
        fields['hidden_dim'][1]


def test_unset_parameters_mean_what_the_cli_defaults_mean():
    declared = TrainConfig(env='InvertedPendulum-v4', episode_limit=0, obs_spec='')
    cfg = train_config(declared, {'hidden_dim': 32, 'lr': 0.0, 'batch_size': 0})
    assert cfg == TrainConfig(env='InvertedPendulum-v4', overrides={'hidden_dim': 32})
    assert train_config(TrainConfig(episode_limit=7), {}).episode_limit == 7


def test_negative_override_names_the_parameter():
    with pytest.raises(ValueError, match='^batch_size must be positive'):
        overrides_from({'batch_size': -1})


def test_cli_flags_in_messages_become_parameter_names():
    assert ros_wording('runs/x already holds a run; pass --resume to continue it or choose '
                       'another --run-dir') == ('runs/x already holds a run; pass '
                                                'resume:=true to continue it or choose '
                                                'another run_dir')


def test_policy_path_is_inside_the_run_dir_unless_absolute():
    assert policy_path('runs/a', TrainerNodeConfig().policy_file) == 'runs/a/policy.onnx'
    assert policy_path('runs/a', '/models/p.onnx') == '/models/p.onnx'


def test_requests_are_served_between_steps_of_a_busy_worker(make):
    c, _, _ = make(steps=100_000)

    def busy_step():
        # A step that holds the GIL the whole time, as pure-Python env code would.
        end = time.perf_counter() + 0.02
        while time.perf_counter() < end:
            pass
        c.trainer.step_count += 1
    c.trainer.step = busy_step
    c.start()
    assert wait_until(lambda: c.trainer.step_count > 3)
    waits = []
    for _ in range(5):
        t0 = time.perf_counter()
        c.save_checkpoint()
        waits.append(time.perf_counter() - t0)
        assert c.trainer.step_count > 0
    assert c.stop(timeout=30)
    assert max(waits) < 1.0, waits


def test_the_worker_takes_each_stage_at_its_step_and_goes_on_under_it(tmp_path):
    torch.set_num_threads(1)
    cfg = dataclasses.replace(tiny_config(tmp_path / 'run', 260),
                              stages=[{'at': 50, 'min_return': -1e9, 'act_noise_clip': 5.0},
                                      {'at': 150, 'lr': 2e-4}])
    with Trainer(cfg, progress=False, tensorboard=False) as alone:
        with pytest.raises(ValueError, match='a run with stages needs a restage function'):
            TrainingController(alone, 'p.onnx')
    built, lines = [], []

    def restage(cfg):
        built.append(Trainer(cfg, resume=True, progress=False, tensorboard=False))
        return built[-1]
    shutil.rmtree(tmp_path / 'run')
    c = TrainingController(Trainer(cfg, progress=False, tensorboard=False),
                           str(tmp_path / 'p.onnx'), log=lines.append, restage=restage)
    try:
        while c.step():
            pass
    finally:
        c.close()
    assert len(built) == 2 and c.trainer is built[1] and c.trainer.step_count == 260
    assert c.trainer.sym.lr == 2e-4 and c.trainer.sym.act_noise_clip == 5.0
    # a stage waiting for a return, with no test yet at its step: taken at the first (every
    # 100), with the step recorded; the next at its own step
    assert ('stage 1 of 2 at step 50 once a test return reaches -1e+09: act_noise_clip 5.0: '
            'waiting (no test yet); looked at after each test') in lines
    assert any(line.startswith('stage 1 of 2 at step 50, taken at 100 (test return -1e+09 '
                               'reached): act_noise_clip 5.0: checkpoint ')
               and line.endswith('ckpt_000000100.pt, resumed under it') for line in lines)
    assert any(line.startswith('stage 2 of 2 at step 150: lr 0.0002: checkpoint ')
               and line.endswith('ckpt_000000150.pt, resumed under it') for line in lines)
    with open(tmp_path / 'run' / 'config.json') as fh:
        train = json.load(fh)['train_config']
    assert [e['step'] for e in train['curriculum']] == [100, 150]
    assert train['curriculum'][1]['lr'][1] == 2e-4 and train['stages'][0]['taken'] == 100


def test_the_stages_parameter_is_a_file_yaml_text_or_nothing(tmp_path):
    path = tmp_path / 'stages.yaml'
    path.write_text('- at: 10\n  lr: 1e-4\n')
    assert stages_param(str(path)) == [{'at': 10, 'lr': 1e-4}]
    assert stages_param('[{"at": 10, "lr": 0.0001}]') == [{'at': 10, 'lr': 1e-4}]
    assert stages_param('  ') == []
    with pytest.raises(ValueError, match="stages: stage 1: 'hidden_dim' cannot change"):
        stages_param('[{"at": 10, "hidden_dim": 8}]')
    with pytest.raises(ValueError, match=f'{tmp_path}/none.yaml: cannot be read'):
        stages_param(str(tmp_path / 'none.yaml'))

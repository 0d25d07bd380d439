"""A resume may change the randomisation (a curriculum step), and the run records the change."""

import dataclasses
import json
import math
import os

import pytest
import torch

from symphony_ros.cli.main import main
from symphony_ros.core.checkpoint import latest_checkpoint, load_checkpoint
from symphony_ros.core.config import TrainConfig, curriculum_text
from symphony_ros.core.run_dir import (RunDirError, extend_curriculum, identity,
                                       randomize_width, read_run_config,
                                       stored_scale_in_force)

TINY = ['--hidden-dim', '16', '--critic-heads', '4', '--batch-size', '16', '--capacity', '400',
        '--explore-steps', '60']


def _train(run_dir, *flags):
    return main(['train', '--env', 'symphony/Humanoid-v4', '--run-dir', str(run_dir),
                 '--seed', '3', '--eval-every', '1000', '--eval-episodes', '1',
                 '--checkpoint-every', '50', '--threads', '1', '--no-progress', *TINY, *flags])


def _draws(run_dir):
    with open(os.path.join(run_dir, 'randomization.jsonl')) as fh:
        return [json.loads(line) for line in fh]


def _identity(cfg):
    return identity(cfg, cfg.symphony())


def test_width_ramps_from_the_scale_in_force_at_the_change():
    first = TrainConfig(randomize='default', randomize_scale=0.5, randomize_ramp=1000)
    assert randomize_width(first, 0) == 0.0 and randomize_width(first, 500) == 0.5
    assert randomize_width(first, 5000) == 1.0
    stored = _identity(first)
    wider = extend_curriculum(stored, TrainConfig(randomize='default', randomize_scale=1.0,
                                                  randomize_ramp=1000), 4000)
    assert wider.curriculum == [dict(step=4000, scale_before=0.5, randomize_scale=[0.5, 1.0])]
    # From half the new scale (the 0.5 then in force), widening over the next 1,000 steps.
    assert randomize_width(wider, 4000) == 0.5 and randomize_width(wider, 4500) == 0.75
    assert randomize_width(wider, 9000) == 1.0
    # A second change keeps the first in the record; ramping from its own step.
    again = extend_curriculum(_identity(wider), TrainConfig(
        randomize='default', randomize_scale=1.0, randomize_ramp=2000), 6000)
    assert [e['step'] for e in again.curriculum] == [4000, 6000]
    assert again.curriculum[1]['scale_before'] == 1.0 and randomize_width(again, 6000) == 1.0


def test_switching_randomisation_on_widens_from_none():
    cfg = extend_curriculum(_identity(TrainConfig()), TrainConfig(
        randomize='default', randomize_scale=0.5, randomize_ramp=100), 300)
    assert cfg.curriculum == [dict(step=300, scale_before=0.0, randomize=['none', 'default'],
                                   randomize_scale=[1.0, 0.5], randomize_ramp=[0, 100])]
    assert randomize_width(cfg, 300) == 0.0 and randomize_width(cfg, 350) == 0.5


def test_unchanged_resume_records_nothing():
    stored = _identity(TrainConfig(randomize='default'))
    assert extend_curriculum(stored, TrainConfig(randomize='default'), 10).curriculum == []


def test_a_smaller_learning_rate_is_a_recorded_step_too():
    before = TrainConfig(randomize='default', randomize_scale=0.5)
    after = dataclasses.replace(before, overrides=dict(lr=5e-5))
    cfg = extend_curriculum(_identity(before), after, 700)
    assert cfg.curriculum == [dict(step=700, scale_before=0.5, lr=[1e-4, 5e-5])]
    assert randomize_width(cfg, 700) == 1.0
    quieter = dataclasses.replace(before, overrides=dict(noise_clip=10.0))
    assert extend_curriculum(_identity(before), quieter, 700).curriculum == [
        dict(step=700, scale_before=0.5, noise_clip=[math.e, 10.0])]
    assert quieter.symphony().noise_clip == 10.0
    # A run stored before act_noise_clip existed had it at its default: no change to record.
    old = _identity(before)
    del old['symphony_config']['act_noise_clip']
    assert extend_curriculum(old, before, 700).curriculum == []
    acting = dataclasses.replace(before, overrides=dict(act_noise_clip=10.0))
    assert extend_curriculum(old, acting, 700).curriculum == [
        dict(step=700, scale_before=0.5, act_noise_clip=[0.0, 10.0])]


def test_a_fine_tune_may_loosen_its_anchor_as_a_recorded_step():
    before = TrainConfig(env='velocity:g1', anchor_weight=0.5, anchor_floor=0.15)
    after = dataclasses.replace(before, anchor_floor=0.05)
    cfg = extend_curriculum(_identity(before), after, 160_000)
    assert cfg.curriculum == [dict(step=160_000, scale_before=0.0, anchor_floor=[0.15, 0.05])]
    assert cfg.anchor_floor == 0.05 and cfg.anchor_weight == 0.5
    assert curriculum_text(cfg.curriculum[0]) == 'anchor_floor 0.15 -> 0.05'


def test_a_setting_turned_on_from_its_default_reads_as_such():
    stored = _identity(TrainConfig(env='velocity:g1'))
    cfg = extend_curriculum(stored, TrainConfig(env='velocity:g1', stand_gait='step',
                                                commands='standing_fraction=0.4'), 900)
    assert curriculum_text(cfg.curriculum[0]) == (
        'commands (default) -> standing_fraction=0.4, stand_gait (default) -> step')


def test_a_run_that_tests_under_its_randomisation_may_not_change_it():
    stored = _identity(TrainConfig(randomize='default', eval_randomized=True))
    with pytest.raises(RunDirError, match='--randomize-scale: this run tests under'):
        extend_curriculum(stored, TrainConfig(randomize='default', randomize_scale=0.5,
                                              eval_randomized=True), 10)


def test_resume_switches_randomisation_on_and_the_card_says_from_which_step(tmp_path, capsys):
    torch.set_num_threads(1)
    run = tmp_path / 'run'
    assert _train(run, '--steps', '120') == 0
    assert not os.path.exists(run / 'randomization.jsonl')  # nominal so far
    step = read_run_config(str(run))['train_config']
    assert step['curriculum'] == []
    # A non-curriculum setting still has to agree with the run.
    assert _train(run, '--resume', '--steps', '300', '--seed', '4') == 2
    capsys.readouterr()
    assert _train(run, '--resume', '--steps', '300', '--randomize', 'default',
                  '--randomize-scale', '0.5', '--randomize-ramp', '100') == 0
    err = capsys.readouterr().err
    assert 'training changed at step 1' in err and 'randomize none -> default' in err
    assert 'in force before: 0, now 0, widening to 0.5 by step 2' in err
    assert '--randomize-ramp 0 in the same resume' not in err   # nothing narrowed
    tc = read_run_config(str(run))['train_config']
    assert tc['randomize'] == 'default' and tc['randomize_scale'] == 0.5
    [entry] = tc['curriculum']
    assert 100 <= entry['step'] <= 120 and entry['randomize'] == ['none', 'default']
    scales = [d['scale'] for d in _draws(run)]
    assert scales[0] == 0.0 and scales == sorted(scales) and scales[-1] == 0.5
    # Resuming again with the same settings adds nothing; a smaller lr is the next step,
    # while another algorithm setting still has to agree.
    assert _train(run, '--resume', '--steps', '320') == 0
    assert read_run_config(str(run))['train_config']['curriculum'] == tc['curriculum']
    assert _train(run, '--resume', '--steps', '340', '--batch-size', '32') == 2
    assert _train(run, '--resume', '--steps', '340', '--lr', '5e-5') == 0
    stored = read_run_config(str(run))
    assert stored['symphony_config']['lr'] == 5e-5
    assert load_checkpoint(latest_checkpoint(str(run)))['agent']['optimizer']['lr'] == 5e-5
    assert [sorted(e) for e in stored['train_config']['curriculum']] == [
        sorted(entry), ['lr', 'scale_before', 'step']]
    # Less exploration noise is a curriculum step too.
    assert _train(run, '--resume', '--steps', '360', '--noise-clip', '10') == 0
    stored = read_run_config(str(run))
    assert stored['symphony_config']['noise_clip'] == 10.0
    assert stored['train_config']['curriculum'][-1]['noise_clip'] == [math.e, 10.0]
    policy = str(tmp_path / 'p.onnx')
    # The newest checkpoint (best_actor.pt may hold an actor from before the change, whose
    # card rightly says it trained on the nominal robot).
    newest = latest_checkpoint(str(run))
    assert main(['export', newest, '-o', policy, '--samples', '20']) == 0
    capsys.readouterr()
    assert main(['inspect', policy]) == 0
    out = capsys.readouterr().out
    # The randomisation in force, then one line a change.
    assert ('randomization    default x0.5 (training env only), widened from step '
            f'{entry["step"]:,} over 100 steps\n') in out     # and whole by this actor's step
    assert (f'  curriculum       from step {entry["step"]:,}: randomize none -> default, '
            'randomize_scale 1.0 -> 0.5, randomize_ramp 0 -> 100\n') in out
    assert '\n                   from step ' in out and 'lr 0.0001 -> 5e-05' in out


def test_a_fine_tune_widens_from_where_its_source_ended_on_the_same_ranges(tmp_path, capsys):
    torch.set_num_threads(1)
    src = tmp_path / 'src'
    assert _train(src, '--steps', '100', '--randomize', 'default', '--randomize-ramp',
                  '200') == 0        # its last checkpoint at step 100: half the scale
    capsys.readouterr()
    same = tmp_path / 'same'
    assert _train(same, '--steps', '100', '--randomize', 'default', '--randomize-ramp', '100',
                  '--init-from', str(src)) == 0
    assert 'widens from 0.50 of the scale' in capsys.readouterr().err
    record = read_run_config(str(same))['train_config']['init_source']
    assert record['randomize'] == 'default' and record['scale_in_force'] == 0.5
    scales = [d['scale'] for d in _draws(same)]
    assert scales[0] == 0.5 and scales == sorted(scales) and scales[-1] > 0.5
    policy = str(tmp_path / 'p.onnx')
    assert main(['export', latest_checkpoint(str(same)), '-o', policy, '--samples', '20']) == 0
    capsys.readouterr()
    assert main(['inspect', policy]) == 0
    assert 'widened from 0.50 of it (where its source ended) over 100 steps' in (
        capsys.readouterr().out)
    # Under other ranges the source's width says nothing: the widening starts from none.
    ranges = tmp_path / 'delay.yaml'
    ranges.write_text('delay_s: [0.0, 0.02]\n')
    other = tmp_path / 'other'
    assert _train(other, '--steps', '60', '--randomize', str(ranges), '--randomize-ramp',
                  '100', '--init-from', str(src)) == 0
    assert 'widens from' not in capsys.readouterr().err
    assert _draws(other)[0]['scale'] == 0.0


def test_the_scale_read_from_a_sources_stored_config_sets_where_the_ramp_starts():
    assert stored_scale_in_force({'randomize': 'default', 'no_such_field': 1}, 10) == 0.0
    ramped = dataclasses.asdict(TrainConfig(randomize='default', randomize_ramp=400))
    assert stored_scale_in_force(ramped, 100) == 0.25
    cfg = TrainConfig(randomize='default', randomize_scale=0.5, randomize_ramp=100,
                      init_source={'randomize': 'default', 'scale_in_force': 0.25})
    assert randomize_width(cfg, 0) == 0.5 and randomize_width(cfg, 50) == 0.75


def test_a_resume_under_other_ranges_says_its_ramp_starts_again_from_none(tmp_path, capsys):
    torch.set_num_threads(1)
    run, ranges = tmp_path / 'run', tmp_path / 'kicks.yaml'
    ranges.write_text('push_velocity: [0.5, 1.0]\n')
    assert _train(run, '--steps', '100', '--randomize', 'default', '--randomize-ramp',
                  '50') == 0          # the whole scale from step 50 on
    capsys.readouterr()
    assert _train(run, '--resume', '--steps', '130', '--randomize', str(ranges)) == 0
    err = capsys.readouterr().err
    assert ('(randomisation scale in force before: 1, now 0, widening to 1 by step 150 '
            '(--randomize-ramp 0 in the same resume: the whole scale at once))') in err
    after = [d['scale'] for d in _draws(run) if d['step'] > 100]
    assert after and after[0] < 0.5
    # The policy's card says how wide its robot was, not only the ranges' names.
    policy = str(tmp_path / 'p.onnx')
    assert main(['export', latest_checkpoint(str(run)), '-o', policy, '--samples', '20']) == 0
    capsys.readouterr()
    assert main(['inspect', policy]) == 0
    assert ('widened from step 100 over 50 steps; at step 130, this actor\'s, x0.60 '
            '(60% of it)\n') in capsys.readouterr().out
    # Told so, the same change at once keeps the whole scale.
    again = tmp_path / 'again'
    assert _train(again, '--steps', '100', '--randomize', 'default', '--randomize-ramp',
                  '50') == 0
    assert _train(again, '--resume', '--steps', '160', '--randomize', str(ranges),
                  '--randomize-ramp', '0') == 0
    assert 'widening' not in capsys.readouterr().err
    assert all(d['scale'] == 1.0 for d in _draws(again) if d['step'] > 100)


def test_other_ranges_of_the_same_widths_let_the_ramp_go_on(tmp_path, capsys):
    torch.set_num_threads(1)
    run, plain, corner = tmp_path / 'run', tmp_path / 'plain.yaml', tmp_path / 'corner.yaml'
    plain.write_text('push_velocity: [0.5, 1.0]\n')
    corner.write_text('push_velocity: [0.5, 1.0]\nhard_share: 0.5\nhard_depth: 0.5\n')
    assert _train(run, '--steps', '100', '--randomize', str(plain), '--randomize-ramp',
                  '200') == 0
    capsys.readouterr()
    assert _train(run, '--resume', '--steps', '130', '--randomize', str(corner)) == 0
    err = capsys.readouterr().err
    assert '(randomisation scale in force before: 0.5, now 0.5, widening to 1 by step 300)' in err
    cfg = read_run_config(str(run))['train_config']
    assert cfg['curriculum'][-1]['same_widths'] is True
    after = [d['scale'] for d in _draws(run) if d['step'] > 100]
    assert after and min(after) >= 0.5
    assert main(['inspect', str(run)]) == 0
    assert 'widened on from x0.50 from step 100 over 200 steps' in capsys.readouterr().out
    # A file that widens a range is not the same widths: its ramp starts again.
    wider = tmp_path / 'wider.yaml'
    wider.write_text('push_velocity: [0.5, 1.5]\nhard_share: 0.5\nhard_depth: 0.5\n')
    cfg = extend_curriculum(read_run_config(str(run)), TrainConfig(
        env='symphony/Humanoid-v4', randomize=str(wider), randomize_ramp=200), 130)
    assert 'same_widths' not in cfg.curriculum[-1]

"""``symphony train --stages``: a run's curriculum steps, taken by the run at their steps."""

import json
import os

import pytest

from symphony_ros.cli.errors import CliError
from symphony_ros.cli.main import main
from symphony_ros.cli.train_cmd import _json_number
from symphony_ros.core.checkpoint import list_checkpoints
from symphony_ros.core.config import TrainConfig
from symphony_ros.core.stages import (carry_records, in_force, next_stop, parse_stages, passed,
                                      schedule, stage_text, take, taken_between)

TINY = ['--env', 'velocity:g1', '--seed', '1', '--hidden-dim', '16', '--critic-heads', '4',
        '--batch-size', '16', '--capacity', '400', '--explore-steps', '20', '--eval-every',
        '1000', '--eval-episodes', '1', '--checkpoint-every', '1000', '--episode-limit', '30',
        '--threads', '1', '--no-progress', '--privileged-critic', 'true',
        '--keep-checkpoints', 'true']
STAGES = """\
- at: 40
  act-noise-clip: 5
  reward_weights: alive=0.5
- at: 70
  relabel_commands: 0.5
  tracking_sigma: 0.1
"""


def _stored(run):
    with open(os.path.join(run, 'config.json')) as fh:
        return json.load(fh)


def _steps(run):
    return [int(os.path.basename(p)[5:14]) for p in list_checkpoints(run)]


def test_a_run_takes_each_stage_at_its_step_and_a_resume_goes_on_with_them(tmp_path, capsys):
    stages, run = tmp_path / 'stages.yaml', str(tmp_path / 'run')
    stages.write_text(STAGES)
    assert main(['train', *TINY, '--steps', '55', '--stages', str(stages),
                 '--run-dir', run]) == 0
    out, err = capsys.readouterr()
    # the closing line is strict JSON; a return not measured since the reward weights changed
    # (a run stopped by a signal right after a stage) is null, not -Infinity
    closing = json.loads(out.splitlines()[-1], parse_constant=pytest.fail)
    assert closing['step'] == 55 and isinstance(closing['best_test_return'], float)
    assert _json_number(float('-inf')) is None and _json_number(1.23456) == 1.235
    assert ('stage 1 of 2 at step 40: act_noise_clip 5.0, reward_weights alive=0.5: '
            'resuming with it') in err
    assert 'resumed ' + run + ' at step 40' in err
    stored = _stored(run)
    curriculum = stored['train_config']['curriculum']
    assert [e['step'] for e in curriculum] == [40]
    assert curriculum[0]['reward_weights'] == ['', 'alive=0.5']
    assert curriculum[0]['act_noise_clip'][1] == 5.0
    assert stored['symphony_config']['act_noise_clip'] == 5.0
    assert stored['train_config']['relabel_commands'] == 0.0 and _steps(run) == [40, 55]
    assert main(['inspect', run]) == 0
    assert ('stages           1 of 2 taken; next: stage 2 of 2 at step 70: relabel_commands '
            '0.5, tracking_sigma 0.1') in capsys.readouterr().out
    # a plain resume keeps the stages and takes the second at its step
    assert main(['train', '--run-dir', run, '--resume', '--steps', '80', '--no-progress']) == 0
    stored = _stored(run)['train_config']
    assert [e['step'] for e in stored['curriculum']] == [40, 70]
    assert stored['relabel_commands'] == 0.5 and stored['tracking_sigma'] == 0.1
    assert stored['reward_weights'] == 'alive=0.5' and _steps(run) == [40, 55, 70, 80]
    assert main(['train', '--run-dir', run, '--resume', '--steps', '90', '--no-progress',
                 '--stages', 'none']) == 0
    assert _stored(run)['train_config']['stages'] == []


def test_a_waiting_stage_is_taken_at_the_first_test_that_reaches_its_return(tmp_path, capsys):
    run, stages = str(tmp_path / 'run'), tmp_path / 'stages.yaml'
    wait = '- at: 20\n  min_return: {}\n  relabel_commands: 0.5\n- at: 30\n  lr: 5e-5\n'
    stages.write_text(wait.format(1e9))
    tiny = [*TINY, '--eval-every', '10']
    assert main(['train', *tiny, '--steps', '50', '--stages', str(stages), '--run-dir', run]) == 0
    err = capsys.readouterr().err
    assert 'resuming with it' not in err and _steps(run) == [50]
    assert err.count('symphony train: stage 1 of 2 at step 20 once a test return reaches 1e+09: '
                     'relabel_commands 0.5: waiting (newest test return ') == 1, err
    stored = _stored(run)['train_config']
    assert stored['curriculum'] == [] and 'taken' not in stored['stages'][0]
    assert main(['inspect', run]) == 0
    assert ('stages           0 of 2 taken; next: stage 1 of 2 at step 20 once a test return '
            'reaches 1e+09: relabel_commands 0.5') in capsys.readouterr().out
    # a return the run reaches: taken at the first test after the resume, the next one with it
    stages.write_text(wait.format(-1e9))
    assert main(['train', '--run-dir', run, '--resume', '--steps', '70', '--no-progress',
                 '--stages', str(stages)]) == 0
    err = capsys.readouterr().err
    assert ('stage 1 of 2 at step 20, taken at 60 (test return -1e+09 reached): '
            'relabel_commands 0.5; stage 2 of 2 at step 30: lr 5e-05: resuming with it') in err
    stored = _stored(run)['train_config']
    assert [e['step'] for e in stored['curriculum']] == [60] and _steps(run) == [50, 60, 70]
    assert stored['stages'][0]['taken'] == 60 and stored['relabel_commands'] == 0.5
    # the same stages given again keep the record: nothing is taken again
    assert main(['train', '--run-dir', run, '--resume', '--steps', '80', '--no-progress',
                 '--stages', str(stages)]) == 0
    assert 'resuming with it' not in capsys.readouterr().err
    assert _stored(run)['train_config']['stages'][0]['taken'] == 60


def test_a_resume_is_under_the_stages_passed_and_a_flag_given_wins(tmp_path, capsys):
    run = str(tmp_path / 'run')
    assert main(['train', *TINY, '--steps', '50', '--run-dir', run]) == 0
    late = tmp_path / 'late.yaml'   # added after its step: taken at the resume
    late.write_text('- at: 30\n  act_noise_clip: 5\n  relabel_commands: 0.25\n')
    assert main(['train', '--run-dir', run, '--resume', '--steps', '60', '--no-progress',
                 '--stages', str(late), '--relabel-commands', '0.75']) == 0
    stored = _stored(run)
    assert stored['train_config']['curriculum'][0]['step'] == 50
    assert stored['train_config']['relabel_commands'] == 0.75
    assert stored['symphony_config']['act_noise_clip'] == 5.0
    assert stored['train_config']['stages'] == [{'at': 30, 'act_noise_clip': 5.0,
                                                 'relabel_commands': 0.25}]


def test_stages_in_force_and_the_next_stop():
    stages = parse_stages([{'at': 10, 'lr': 5e-5, 'randomize_scale': 0.5},
                           {'at': 20, 'randomize_scale': 1.0}], 'x')
    cfg = TrainConfig(randomize_scale=0.5)
    assert passed(stages, 19) == stages[:1] and passed(stages, 20) == stages
    assert in_force(cfg, passed(stages, 25)) == ({'randomize_scale': 1.0}, {'lr': 5e-5})
    assert in_force(cfg, passed(stages, 15)) == ({}, {'lr': 5e-5})   # 0.5 is the run's own
    assert in_force(cfg, stages, keep={'lr'}) == ({'randomize_scale': 1.0}, {})
    assert [next_stop(stages, s, 100, 7) for s in (0, 10, 19, 20, 150)] == [10, 20, 20, 100, 100]


def test_a_stage_waits_from_its_step_for_the_test_return_and_the_stages_after_it_wait_too():
    stages = parse_stages([{'at': 10, 'lr': 5e-5},
                           {'at': 20, 'min_return': 100, 'relabel_commands': 0.5},
                           {'at': 25, 'lr': 1e-5},
                           {'at': 60, 'tracking_sigma': 0.1}], 'x')
    assert schedule(stages) == [10, None, None, None]
    # evaluations every 10 steps: the waiting stage is looked at from its step, each test
    assert [next_stop(stages, s, 100, 10) for s in (10, 19, 20, 23, 30)] == [20, 20, 30, 30, 40]
    assert next_stop(stages, 95, 100, 10) == 100
    assert take(stages, 20, 99.0) == stages and take(stages, 40, float('nan')) == stages
    assert take(stages, 10, 500.0) == stages            # not before its step
    late = take(stages, 40, 100.0)
    assert late[1]['taken'] == 40 and 'taken' not in stages[1]
    # the stage after it, due at 25, goes with it; the one due at 60 keeps its step
    assert schedule(late) == [10, 40, 40, 60] and taken_between(late, 30, 40) == [2, 3]
    assert taken_between(late, 0, 10) == [1] and taken_between(late, 40, 65) == [4]
    assert passed(late, 39) == late[:1] and passed(late, 40) == late[:3]
    assert [next_stop(late, s, 100, 10) for s in (40, 59)] == [60, 60]
    assert stage_text(stages[1], 2, 4) == ('stage 2 of 4 at step 20 once a test return '
                                           'reaches 100: relabel_commands 0.5')
    assert stage_text(late[1], 2, 4) == ('stage 2 of 4 at step 20, taken at 40 (test return '
                                         '100 reached): relabel_commands 0.5')
    assert in_force(TrainConfig(), late[:2]) == ({'relabel_commands': 0.5}, {'lr': 5e-5})
    # the same stages given again keep their record; a changed one starts afresh
    assert carry_records(stages, late) == late
    changed = [dict(stages[0]), dict(stages[1], min_return=200.0)] + stages[2:]
    assert schedule(carry_records(changed, late)) == [10, None, None, None]


@pytest.mark.parametrize('text, expected', [
    ('at: 5\n', 'expected a list of stages'),
    ('- at: 10\n  lr: 1e-4\n- at: 10\n  lr: 5e-5\n',
     r'stage 2: at: expected a whole env step after 10, got 10'),
    ('- at: 0\n  lr: 1e-4\n', 'stage 1: at: expected a whole env step after 0, got 0'),
    ('- at: 10\n  hidden_dim: 64\n',
     r"stage 1: 'hidden_dim' cannot change during a run; a stage may set randomize, "),
    ('- at: 10\n  relabel_commands: 2\n',
     'stage 1: relabel_commands: expected a number 0 to 1, got 2'),
    ('- at: 10\n', 'stage 1: sets nothing'),
    ('- at: 10\n  min_return: 50\n', 'stage 1: sets nothing'),
    ('- at: 10\n  min_return: high\n  lr: 1e-4\n',
     r"stage 1: min_return: expected a test return \(a finite number\), got 'high'"),
    ('- at: 10\n  taken: 20\n  lr: 1e-4\n', r"stage 1: 'taken' cannot change during a run"),
    ('- [1, 2]\n', 'stage 1: expected a mapping'),
])
def test_bad_stages_are_refused_naming_the_file_stage_and_key(tmp_path, capsys, text,
                                                              expected):
    path = tmp_path / 'stages.yaml'
    path.write_text(text)
    run = tmp_path / 'run'
    with pytest.raises(SystemExit) as exc:
        main(['train', *TINY, '--stages', str(path), '--run-dir', str(run)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f'argument --stages: {path}: ' in err
    assert __import__('re').search(expected, err), err
    assert not run.exists()


def test_a_recipe_holds_its_stages_inline_or_beside_it(tmp_path):
    from symphony_ros.cli.main import build_parser
    from symphony_ros.cli.recipe import apply_recipe
    from symphony_ros.cli.train_cmd import config_from_args
    (tmp_path / 'later.yaml').write_text(STAGES)
    for i, text in enumerate(('stages: later.yaml\n',
                              'stages:\n' + ''.join('  ' + line + '\n'
                                                    for line in STAGES.splitlines()))):
        recipe = tmp_path / f'r{i}.yaml'
        recipe.write_text('robot: g1\n' + text)
        args = build_parser().parse_args(['train', '--recipe', str(recipe)])
        apply_recipe(args)
        cfg = config_from_args(args)
        assert [s['at'] for s in cfg.stages] == [40, 70]
        assert cfg.stages[0]['reward_weights'] == 'alive=0.5'
    bad = tmp_path / 'bad.yaml'
    bad.write_text('robot: g1\nstages:\n  - at: 5\n')
    args = build_parser().parse_args(['train', '--recipe', str(bad)])
    with pytest.raises(CliError, match=f'--recipe {bad}: stages: stage 1: sets nothing'):
        apply_recipe(args)


@pytest.mark.parametrize('stage, expected', [
    ('relabel_commands: 0.5', '--relabel-commands: needs --privileged-critic true'),
    ('reward_weights: alvie=0.5', "alvie"),
])
def test_a_stage_the_run_could_not_take_is_refused_before_it_starts(tmp_path, capsys, stage,
                                                                    expected):
    path = tmp_path / 'stages.yaml'
    path.write_text(f'- at: 40\n  lr: 0.0002\n- at: 5000000\n  {stage}\n')
    run = tmp_path / 'run'
    assert main(['train', *TINY, '--privileged-critic', 'false', '--stages', str(path),
                 '--run-dir', str(run)]) == 2
    err = capsys.readouterr().err
    assert '--stages: stage 2 (at step 5,000,000): ' in err and expected in err, err
    assert not run.exists()

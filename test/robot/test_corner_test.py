"""``hard_tests: N``: the adaptive corner's depth follows the deterministic actor's tests.

At each evaluation N episodes run at the corner (the training env's depth and width) with
the policy alone; their falls move the depth, and the training episodes drawn at the corner
no longer do. The test's seeds are fresh at every evaluation and the same on a resume; the
figures land in metrics.csv and ``symphony inspect``; a bad value is refused naming the file.
"""

import csv

import numpy as np
import pytest
import torch

from symphony_ros.cli.main import main
from symphony_ros.core.checkpoint import latest_checkpoint, load_checkpoint
from symphony_ros.core.config import TrainConfig
from symphony_ros.core.corner_test import CornerTest, corner_seeds
from symphony_ros.core.envs import make_env
from symphony_ros.core.trainer import Trainer
from symphony_ros.robot import get_robot
from symphony_ros.robot.corner_depth import STEP, WINDOW
from symphony_ros.robot.randomize import randomize_env
from symphony_ros.robot.ranges import load_randomization, spec_changes

TESTED = f'hard_share: 0.5\nhard_depth: auto\nhard_tests: {WINDOW}\n'


def _spec(tmp_path, text=TESTED, name='tested.yaml'):
    doc = tmp_path / name
    doc.write_text(text)
    return load_randomization(str(doc), get_robot('g1'))


def _env(spec):
    return randomize_env(make_env('velocity:g1'), spec, get_robot('g1'))


def test_the_ranges_file_sets_the_count_and_bad_values_name_file_and_field(tmp_path):
    spec = _spec(tmp_path)
    assert spec.hard_tests == WINDOW and spec.to_dict()['hard_tests'] == WINDOW
    untested = _spec(tmp_path, TESTED.replace(f'hard_tests: {WINDOW}\n', ''))
    assert spec_changes(untested.to_dict(), spec.to_dict()) == [f'hard_tests 0 -> {WINDOW}']
    for bad in ('-1', '2.5', 'true', 'many'):
        with pytest.raises(ValueError, match='bad.yaml: hard_tests: expected a whole number'):
            _spec(tmp_path, TESTED.replace(f'hard_tests: {WINDOW}', f'hard_tests: {bad}'),
                  'bad.yaml')
    with pytest.raises(ValueError, match='fixed.yaml: hard_tests: only with hard_depth: auto'):
        _spec(tmp_path, TESTED.replace('hard_depth: auto', 'hard_depth: 0.5'), 'fixed.yaml')
    with pytest.raises(ValueError, match='none.yaml: hard_tests: no episode trains at the '
                       'corner it would test'):
        _spec(tmp_path, TESTED.replace('hard_share: 0.5', 'hard_share: 0'), 'none.yaml')


def test_training_episodes_at_the_corner_no_longer_move_it(tmp_path):
    env = _env(_spec(tmp_path))
    env.reset(seed=0)
    for _ in range(4 * WINDOW):         # each cut short, so each would count as stood
        env.reset()
    assert env.corner.depth == 0.0 and env.corner.falls == []
    env.close()


def test_the_policy_alone_at_the_corner_moves_its_depth_both_ways(tmp_path):
    spec = _spec(tmp_path)
    train = _env(spec)
    test = CornerTest.for_run(train, lambda: _env(spec))
    assert test is not None and test.episodes == WINDOW
    stand = (lambda obs: np.zeros(train.action_space.shape))
    row = test.run(stand, seed=3, step=1000, max_steps=20)
    assert row == {'corner_tested': 0.0, 'corner_falls': 0.0, 'corner_episodes': WINDOW,
                   'corner_return': pytest.approx(row['corner_return']),
                   'corner_depth_next': pytest.approx(STEP), 'corner_s': row['corner_s']}
    assert row['corner_s'] > 0
    row = test.run(stand, seed=3, step=2000, max_steps=20)
    assert row['corner_tested'] == pytest.approx(STEP)
    assert row['corner_depth_next'] == pytest.approx(2 * STEP)
    # The tested episodes were drawn at the corner, that deep: a payload of 0.1 x 3 kg.
    _, info = test.env.reset(seed=0)
    assert info['randomization']['hard']
    assert info['randomization']['payload_kg'] == pytest.approx(STEP * 3.0)
    crouch = (lambda obs: -np.ones(train.action_space.shape))    # falls within a few steps
    row = test.run(crouch, seed=3, step=3000, max_steps=20)
    assert row['corner_falls'] == WINDOW and row['corner_depth_next'] == pytest.approx(STEP)
    test.close()
    train.close()


def test_seeds_are_fresh_per_evaluation_and_fixed_per_step():
    assert corner_seeds(1, 1000, 3) == corner_seeds(1, 1000, 3)
    assert not set(corner_seeds(1, 1000, 3)) & set(corner_seeds(1, 2000, 3))
    assert corner_seeds(1, 1000, 3) != corner_seeds(2, 1000, 3)


def test_ranges_without_it_build_no_test(tmp_path):
    spec = _spec(tmp_path, TESTED.replace(f'hard_tests: {WINDOW}\n', ''))
    env = _env(spec)
    assert CornerTest.for_run(env, lambda: pytest.fail('no env is needed')) is None
    env.close()


def _cfg(run_dir, ranges, steps):
    return TrainConfig(env='velocity:g1', steps=steps, run_dir=str(run_dir), seed=1,
                       eval_every=20, eval_episodes=1, checkpoint_every=20, episode_limit=20,
                       randomize=str(ranges), threads=1,
                       overrides=dict(hidden_dim=16, critic_heads=4, batch_size=16,
                                      capacity=400, explore_steps=20))


def _metrics(run):
    with open(run / 'metrics.csv') as f:
        return list(csv.DictReader(f))


def test_a_run_tests_its_corner_at_each_evaluation_and_resumes_exactly(tmp_path, capsys):
    torch.set_num_threads(1)
    ranges = tmp_path / 'tested.yaml'
    ranges.write_text(TESTED)
    run, again = tmp_path / 'run', tmp_path / 'again'
    with Trainer(_cfg(run, ranges, 80), progress=False, tensorboard=False) as trainer:
        trainer.run()
    rows = _metrics(run)
    tested = [float(r['corner_tested']) for r in rows]
    # A 20-step episode (0.4 s) of an untrained actor stands, so each test deepens it.
    assert tested == pytest.approx([i * STEP for i in range(len(rows))]) and len(rows) >= 3
    assert {r['corner_episodes'] for r in rows} == {str(float(WINDOW))}
    depth = float(rows[-1]['corner_depth_next'])
    assert load_checkpoint(latest_checkpoint(str(run)))['corner']['depth'] == (
        pytest.approx(depth))
    with Trainer(_cfg(again, ranges, 40), progress=False, tensorboard=False) as trainer:
        trainer.run()
    with Trainer(_cfg(again, ranges, 80), resume=True, progress=False,
                 tensorboard=False) as trainer:
        trainer.run()
    assert ([r['corner_tested'] for r in _metrics(again)]
            == [r['corner_tested'] for r in rows])
    assert ([r['corner_return'] for r in _metrics(again)]
            == [r['corner_return'] for r in rows])
    assert all(float(r['corner_s']) > 0 for r in rows)
    assert main(['inspect', str(run)]) == 0
    out = capsys.readouterr().out
    assert f'0/{WINDOW} fell' in out and f'depth next {depth:g}' in out

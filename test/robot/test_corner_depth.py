"""``hard_depth: auto``: the hard corner's depth follows how its episodes end.

Deeper after a window in which at most half fell, shallower after one in which nearly all
did, within 0..1; the corner's episodes are drawn at the depth reached, which the log line
records; a run's checkpoint keeps it, so a resumed run goes on from it; the settings it
cannot work with are refused.
"""

import json

import pytest
import torch

from symphony_ros.cli.main import main
from symphony_ros.core.checkpoint import latest_checkpoint, load_checkpoint
from symphony_ros.core.config import TrainConfig
from symphony_ros.core.envs import make_env
from symphony_ros.core.preflight import validate
from symphony_ros.core.trainer import Trainer
from symphony_ros.distributed.config import DistributedConfig
from symphony_ros.distributed.entry import make_trainer
from symphony_ros.robot import get_robot
from symphony_ros.robot.corner_depth import STEP, WINDOW, CornerDepth
from symphony_ros.robot.randomize import randomize_env
from symphony_ros.robot.ranges import load_randomization, spec_changes

AUTO = 'hard_share: 1.0\nhard_depth: auto\npush_first_s: [0.1, 0.1]\n'


def _window(corner, falls):
    moved = [corner.record(i < falls) for i in range(WINDOW)]
    assert moved[:-1] == [None] * (WINDOW - 1)     # judged a whole window at a time
    return moved[-1]


def test_the_depth_rises_while_half_stand_and_falls_back_when_nearly_all_fall():
    corner = CornerDepth()
    assert _window(corner, falls=WINDOW // 2) == pytest.approx(STEP)
    assert _window(corner, falls=WINDOW // 2 + 1) is None          # between: it holds
    assert _window(corner, falls=0) == pytest.approx(2 * STEP)
    assert _window(corner, falls=WINDOW) == pytest.approx(STEP)
    assert _window(corner, falls=WINDOW) == pytest.approx(0.0)
    assert _window(corner, falls=WINDOW) is None                   # never below nominal
    assert corner.moves == 4
    top = CornerDepth(depth=1.0)
    assert _window(top, falls=0) is None and top.depth == 1.0      # nor beyond the hard end


def test_its_state_round_trips_and_a_bad_one_is_refused():
    corner = CornerDepth(depth=0.3)
    corner.record(True)
    again = CornerDepth.from_state(corner.state_dict())
    assert again == corner
    with pytest.raises(ValueError, match='depth 0..1'):
        CornerDepth.from_state({'depth': 1.5})
    with pytest.raises(ValueError, match='pending outcomes'):
        CornerDepth.from_state({'depth': 0.5, 'falls': [True] * WINDOW})


def test_a_ranges_file_asks_for_it_and_bad_values_name_the_choices(tmp_path):
    g1 = get_robot('g1')
    doc = tmp_path / 'auto.yaml'
    doc.write_text(AUTO)
    spec = load_randomization(str(doc), g1)
    assert spec.hard_auto and spec.hard_depth == 0.0
    assert spec.to_dict()['hard_depth'] == 'auto'
    assert spec_changes(load_randomization('default', g1).to_dict(), spec.to_dict())[-2:] == [
        'hard_share 0 -> 1', 'hard_depth 1 -> auto']
    doc.write_text('hard_share: 1.0\nhard_depth: sometimes\n')
    with pytest.raises(ValueError, match=r'auto.yaml: hard_depth: expected a fraction, 0..1, '
                       'or auto'):
        load_randomization(str(doc), g1)


def test_a_branch_may_start_the_corner_partway_in(tmp_path):
    g1 = get_robot('g1')
    doc = tmp_path / 'start.yaml'
    doc.write_text(AUTO + 'hard_depth_start: 0.5\n')
    spec = load_randomization(str(doc), g1)
    assert spec.hard_start == 0.5 and spec.to_dict()['hard_depth_start'] == 0.5
    assert spec_changes(load_randomization('default', g1).to_dict(), spec.to_dict())[-1] == (
        'hard_depth_start 0 -> 0.5')
    env = randomize_env(make_env('velocity:g1'), spec, g1)
    _, info = env.reset(seed=0)
    assert info['randomization']['hard_depth'] == 0.5
    env.load_corner_state(None)          # a checkpoint from before the corner moved
    assert env.corner.depth == 0.5
    env.close()
    doc.write_text('hard_share: 1.0\nhard_depth: 0.5\nhard_depth_start: 0.2\n')
    with pytest.raises(ValueError, match='start.yaml: hard_depth_start: only with hard_depth: '
                       'auto'):
        load_randomization(str(doc), g1)


def test_corner_episodes_are_drawn_at_the_depth_their_predecessors_earned(tmp_path):
    g1 = get_robot('g1')
    doc = tmp_path / 'auto.yaml'
    doc.write_text(AUTO)
    env = randomize_env(make_env('velocity:g1'), load_randomization(str(doc), g1), g1)
    _, info = env.reset(seed=0)
    d = info['randomization']
    # Depth 0: the corner is the nominal robot, and its kicks have no speed.
    assert d['hard'] and d['hard_depth'] == 0.0
    assert (d['payload_kg'], d['friction_scale'], d['delay_s']) == (0.0, 1.0, 0.0)
    for _ in range(WINDOW):             # cut short by a reset: each counts as stood
        _, info = env.reset()
    d = info['randomization']
    assert d['hard_depth'] == pytest.approx(STEP)
    assert d['payload_kg'] == pytest.approx(STEP * 3.0)
    assert d['friction_scale'] == pytest.approx(1.0 - STEP * 0.7)
    state = env.corner_state()
    assert state['depth'] == pytest.approx(STEP) and state['falls'] == []
    env.load_corner_state({'depth': 0.5, 'falls': [True]})
    _, info = env.reset()
    assert info['randomization']['hard_depth'] == 0.5
    assert env.corner_state()['falls'] == [True, False]
    env.close()


def _cfg(run_dir, ranges, **kw):
    return TrainConfig(env='velocity:g1', steps=kw.pop('steps', 60), run_dir=str(run_dir),
                       seed=1, eval_every=1000, eval_episodes=1, checkpoint_every=30,
                       episode_limit=20, randomize=str(ranges),
                       overrides=dict(hidden_dim=16, critic_heads=4, batch_size=16,
                                      capacity=400, explore_steps=20), **kw)


def test_a_resumed_run_goes_on_at_the_depth_it_reached(tmp_path, capsys):
    torch.set_num_threads(1)
    ranges = tmp_path / 'auto.yaml'
    ranges.write_text(AUTO)
    run = tmp_path / 'run'
    with Trainer(_cfg(run, ranges), progress=False, tensorboard=False) as trainer:
        trainer.run()
        # As if its corner episodes had stood: the state a checkpoint must carry on.
        trainer.env.get_wrapper_attr('load_corner_state')({'depth': 0.4, 'falls': [False],
                                                           'moves': 4})
        trainer.save()
    state = load_checkpoint(latest_checkpoint(str(run)))
    assert state['corner'] == {'depth': 0.4, 'falls': [False], 'moves': 4}
    with Trainer(_cfg(run, ranges, steps=90), resume=True, progress=False,
                 tensorboard=False) as trainer:
        assert trainer.env.get_wrapper_attr('corner').depth == 0.4
        assert 'hard corner: its depth goes on from 0.4 (moved 4 times so far)' in trainer.notes
        trainer.run()
    # Too few corner episodes since to move it (a window is 10); each logged at its depth.
    assert load_checkpoint(latest_checkpoint(str(run)))['corner']['depth'] == 0.4
    lines = [json.loads(line) for line in (run / 'randomization.jsonl').read_text().splitlines()]
    assert [line['hard_depth'] for line in lines][-1] == 0.4
    assert all(line['hard'] for line in lines)
    assert main(['inspect', str(run)]) == 0
    assert '; its hard corner now at depth 0.4 (it follows the actor)' in capsys.readouterr().out


def test_settings_it_cannot_work_with_are_refused_before_a_run_starts(tmp_path):
    ranges = tmp_path / 'auto.yaml'
    ranges.write_text(AUTO)
    with pytest.raises(ValueError, match='--eval-randomized: the ranges set hard_depth: auto'):
        validate(_cfg(tmp_path / 'a', ranges, eval_randomized=True))
    with pytest.raises(ValueError, match='hard_depth: auto runs in a single process only'):
        make_trainer(_cfg(tmp_path / 'b', ranges, privileged_critic=False),
                     DistributedConfig(collectors=2))

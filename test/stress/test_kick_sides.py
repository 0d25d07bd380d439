"""One kick from a known side (``kick_<side>``): the side a robot cannot take, told apart."""

import json

import pytest

from symphony_ros.cli.main import main
from symphony_ros.robot import get_robot
from symphony_ros.stress import ros
from symphony_ros.stress.conditions import (DIAGNOSTIC, KICK_SIDES, first_kick_s, joined_error,
                                            kick_side_conditions, kick_side_of, select,
                                            spec_of, within_training)
from symphony_ros.stress.report import kick_sides_text
from shipped_models import G1_FIRST, HUMANOID


def test_each_side_is_one_full_kick_within_the_training_ranges():
    g1, humanoid = get_robot('g1'), get_robot('humanoid')
    for side, bearing in KICK_SIDES.items():
        name = f'kick_{side}'
        assert name in DIAGNOSTIC and first_kick_s(name) == 3.0
        ranges = spec_of(name, g1).to_dict()['ranges']
        assert ranges['push_bearing_deg'] == [bearing, bearing]
        assert ranges['push_velocity'] == [1.0, 1.0]
        assert within_training(name, g1) and within_training(name, humanoid)
    # Joined with a held command: standing, kicked from the left.
    assert joined_error('command_stand+kick_left') is None
    assert select(['command_stand+kick_left'], g1) == ['command_stand+kick_left']
    assert "'push_1.0' and 'kick_left' both set" in joined_error('push_1.0+kick_left')
    with pytest.raises(ValueError, match="'kick_left' cannot run with --ros"):
        ros.select(['kick_left'], g1)


def test_a_kick_condition_kicks_each_episode_once_from_its_side(tmp_path, capsys):
    out = tmp_path / 'kicks'
    rc = main(['stress', G1_FIRST, '--out', str(out), '--episodes', '2', '--max-steps', '320',
               '--workers', '1', '--no-progress', '--conditions',
               'command_stand+kick_left,kick_backward'])
    assert rc in (0, 1)
    with open(out / 'report.json') as fh:
        c = json.load(fh)['conditions']
    for name, side in (('command_stand+kick_left', 'left'), ('kick_backward', 'backward')):
        kicks = c[name]['kicks']
        by = kicks['by_direction']
        assert kicks['given'] == 2
        assert by[side]['survived'] + by[side]['fell'] + kicks['unresolved'] == 2
        assert all(sum(v.values()) == 0 for d, v in by.items() if d != side)
        for row in c[name]['per_episode']:
            assert len(row['kicks']) == 1
            assert abs(row['kicks'][0][0]) == pytest.approx(abs(KICK_SIDES[side]), abs=0.1)
    told = c['command_stand+kick_left']['kicks']['by_command']['stand']
    assert told['survived'] + told['fell'] == 2
    # An episode that ends before the kick is refused by name.
    rc = main(['stress', G1_FIRST, '--out', str(tmp_path / 'short'), '--max-steps', '100',
               '--no-progress', '--conditions', 'kick_left'])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and 'before the first kick of kick_left (after 3 s' in err[-1]


def test_kick_sides_runs_each_side_standing_and_walking_and_says_which_fell():
    assert kick_side_conditions(True) == [
        f'command_{what}+kick_{side}' for what in ('stand', 'forward_0.5')
        for side in ('forward', 'left', 'backward', 'right')]
    assert kick_side_conditions(False) == ['kick_forward', 'kick_left', 'kick_backward',
                                           'kick_right']
    assert kick_side_of('command_stand+kick_left') == ('stand', 'left')
    assert kick_side_of('kick_right') == (None, 'right')
    for other in ('push_1.0', 'command_stand', 'delay_1+kick_left', 'kick_sideways'):
        assert kick_side_of(other) is None
    kicks = {'survived': 1, 'fell': 9, 'unresolved': 0}
    conds = {'command_stand+kick_left': {'kicks': kicks},
             'command_stand+kick_right': {'kicks': {**kicks, 'survived': 4, 'fell': 6}},
             'kick_backward': {'kicks': {**kicks, 'survived': 10, 'fell': 0}},
             'push_1.0': {'kicks': kicks}, 'nominal': {}}
    assert kick_sides_text(conds) == (
        'kick sides (one 1 m/s kick each, ridden out): told to stand still: left 1/10, '
        'right 4/10; no command held: backward 10/10')
    assert kick_sides_text({'push_1.0': {'kicks': kicks}}) is None


def test_kick_sides_on_a_torque_policy_kicks_it_from_each_side(tmp_path, capsys):
    out = tmp_path / 'h'
    rc = main(['stress', HUMANOID, '--out', str(out), '--episodes', '1', '--max-steps', '300',
               '--workers', '1', '--no-progress', '--conditions', 'nominal', '--kick-sides'])
    assert rc in (0, 1)
    with open(out / 'report.json') as fh:
        c = json.load(fh)['conditions']
    assert list(c) == ['nominal', 'kick_forward', 'kick_left', 'kick_backward', 'kick_right']
    printed = capsys.readouterr().out
    assert 'kick sides (one 1 m/s kick each, ridden out): no command held: forward ' in printed
    assert 'Kick sides (one 1 m/s kick each' in (out / 'report.md').read_text()
    rc = main(['stress', HUMANOID, '--ros', '--kick-sides', '--out', str(tmp_path / 'r'),
               '--no-progress'])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and '--kick-sides: in process only' in err[0]

"""One kick from a known side (``kick_<side>``): the side a robot cannot take, told apart."""

import json

import pytest

from symphony_ros.cli.main import main
from symphony_ros.robot import get_robot
from symphony_ros.stress import ros
from symphony_ros.stress.conditions import (DIAGNOSTIC, KICK_SIDES, first_kick_s, joined_error,
                                            select, spec_of, within_training)
from shipped_models import G1_FIRST


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

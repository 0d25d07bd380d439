"""Kick outcomes of the push conditions: which kicks fell the robot, and which way they pushed."""

import math

import numpy as np
import pytest

from symphony_ros.core.envs import make_randomized_env
from symphony_ros.robot import get_robot
from symphony_ros.robot.ranges import RandomizationSpec
from symphony_ros.stress.kicks import (command_class, direction, episode_kicks, outcomes,
                                       summary, text)
from symphony_ros.stress.run import _kick_rows
from shipped_models import HUMANOID


def test_a_fall_is_the_last_kick_s_when_it_comes_within_the_window():
    # Kicks at 1, 4 and 7 s; the robot falls at 8 s: the 7 s kick fell it.
    assert outcomes([1.0, 4.0, 7.0], True, 8.0) == ['survived', 'survived', 'fell']
    # A fall 3 s after the last kick is no kick's.
    assert outcomes([1.0, 4.0], True, 7.0) == ['survived', 'survived']
    # No fall, the episode ending 1 s after a kick: that kick cannot be told.
    assert outcomes([1.0, 9.0], False, 10.0) == ['survived', 'unresolved']
    # Two kicks 1 s apart, then a fall: the later one's, the earlier one cannot be told.
    assert outcomes([5.0, 6.0], True, 6.5) == ['unresolved', 'fell']
    assert outcomes([], True, 3.0) == []


@pytest.mark.parametrize('bearing, side', [
    (0.0, 'forward'), (0.7, 'forward'), (math.pi / 2, 'left'), (-math.pi / 2, 'right'),
    (math.pi, 'backward'), (-3.0, 'backward'), (2.5, 'backward'), (-0.9, 'right')])
def test_the_direction_is_the_quarter_circle_of_the_bearing(bearing, side):
    assert direction(bearing) == side


def test_a_condition_s_kicks_add_up_by_direction():
    rows = [{'kicks': episode_kicks([(2.0, 0.5, 0.1), (6.0, 0.5, math.pi / 2)], True, 7.0)},
            {'kicks': episode_kicks([(3.0, 0.5, math.pi)], False, 4.0)},
            {'kicks': []}]
    assert rows[0]['kicks'] == [[5.7, 'survived'], [90.0, 'fell']]
    s = summary(rows)
    assert (s['given'], s['survived'], s['fell'], s['unresolved']) == (3, 1, 1, 1)
    assert s['by_direction']['forward'] == {'survived': 1, 'fell': 0}
    assert s['by_direction']['left'] == {'survived': 0, 'fell': 1}
    assert text('push_1.0', s) == ('- `push_1.0`: 1 of 2 kicks survived (forward 1/1, left 0/1, '
                                   "backward 0/0, right 0/0); 1 too near an episode's end to "
                                   'tell')
    assert summary([{'kicks': []}, {}]) is None


def test_a_velocity_policy_s_kicks_add_up_by_what_it_was_told_then():
    """Told to stand, a policy may keep its feet down whatever comes: counted apart."""
    assert [command_class(c) for c in ((0, 0, 0), (0.5, 0, 0), (0, 0.2, 0.3), (0, 0, -0.5),
                                       (0.05, 0, 0.05))] == ['stand', 'walk', 'walk', 'turn',
                                                             'stand']
    dt = 0.02
    told = [np.zeros(3)] * 150 + [np.array([0.5, 0.0, 0.0])] * 200   # walking from step 151
    kicks = [(1.0, 1.0, math.pi / 2), (3.02, 1.0, 0.0), (6.0, 1.0, -math.pi / 2)]
    rows = [{'kicks': _kick_rows(kicks, True, 320, dt, told)}]
    # The kick at step 151 came under the standing command still in force then.
    assert rows[0]['kicks'] == [[90.0, 'survived', 'stand'], [0.0, 'survived', 'walk'],
                                [-90.0, 'fell', 'walk']]
    s = summary(rows)
    assert s['by_command'] == {'stand': {'survived': 1, 'fell': 0},
                               'walk': {'survived': 1, 'fell': 1},
                               'turn': {'survived': 0, 'fell': 0}}
    assert text('push_1.0', s) == ('- `push_1.0`: 2 of 3 kicks survived (forward 1/1, left 1/1, '
                                   'backward 0/0, right 0/1; told to stand 1/1, walk 1/2, '
                                   'turn 0/0)')
    # A policy without commands: no such count.
    assert 'by_command' not in summary([{'kicks': _kick_rows(kicks, False, 400, dt, None)}])


def test_a_kick_s_bearing_is_taken_from_the_robot_s_heading():
    robot = get_robot('humanoid')
    spec = RandomizationSpec(name='kick', ranges={'push_velocity': (1.0, 1.0),
                                                  'push_interval_s': (robot.control_dt,) * 2})
    env = make_randomized_env('symphony/Humanoid-v4', None, spec)
    env.reset(seed=0)
    data = env.unwrapped.data
    # Turn the robot to face world +y (yaw 90 degrees) before the kick.
    data.qpos[3:7] = [math.cos(math.pi / 4), 0.0, 0.0, math.sin(math.pi / 4)]
    before = data.qvel[:2].copy()
    env.step(np.zeros(robot.n_joints))
    (t, speed, bearing), = env.kicks
    # The kick's world direction, from the velocity it added (the physics step moves it a
    # little), seen from a robot facing +y.
    dv = data.qvel[:2] - before
    world = math.atan2(dv[1], dv[0])
    assert bearing == pytest.approx(math.remainder(world - math.pi / 2, 2 * math.pi), abs=0.3)
    assert speed == 1.0 and -math.pi <= bearing <= math.pi


def test_the_stress_report_counts_the_kicks_of_push_conditions(tmp_path, capsys):
    import json

    from symphony_ros.cli.main import main
    policy = HUMANOID
    out = tmp_path / 'report'
    # 12 s episodes: the first kick comes 5-10 s in, the humanoid falls to most 1.5 m/s ones.
    assert main(['stress', policy, '--out', str(out), '--episodes', '2', '--max-steps', '800',
                 '--conditions', 'nominal', 'push_1.5', '--max-fall-rate', '1',
                 '--no-progress']) == 0
    report = json.loads((out / 'report.json').read_text())
    kicks = report['conditions']['push_1.5']['kicks']
    assert kicks['given'] == kicks['survived'] + kicks['fell'] + kicks['unresolved'] >= 2
    # Each kick that fell the robot ended an episode.
    assert kicks['fell'] <= report['conditions']['push_1.5']['falls']
    assert report['conditions']['nominal']['kicks'] is None
    told = kicks['survived'] + kicks['fell']
    assert f'- `push_1.5`: {kicks["survived"]} of {told} kicks survived (forward' in \
        (out / 'report.md').read_text()
    printed = capsys.readouterr().out
    assert f'kicks survived {kicks["survived"]}/{told}' in printed

"""The sim's own velocity command: fixed, or drawn as training draws (``cmd_vel random``)."""

import dataclasses

import numpy as np
import pytest

from symphony_ros.robot import get_robot
from symphony_ros.robot.velocity_commands import draw_command, format_commands, parse_commands
from symphony_ros.robot.velocity_env import VelocityTask
from symphony_ros.sim.config import SimConfig
from symphony_ros.sim.own_command import OwnCommand
from symphony_ros.sim.session import SimSession

TASK = VelocityTask(lin_vel_x=(-0.3, 0.8), lin_vel_y=(-0.2, 0.2), yaw_rate=(-0.6, 1.0),
                    standing_fraction=0.2, turning_fraction=0.3, resample_steps=4)


def test_draws_keep_the_tasks_shares_and_ranges():
    rng = np.random.default_rng(0)
    draws = np.array([draw_command(TASK, rng) for _ in range(4000)])
    zero = np.all(draws == 0.0, axis=1)
    turning = ~zero & (draws[:, 0] == 0.0) & (draws[:, 1] == 0.0)
    assert zero.mean() == pytest.approx(0.2, abs=0.03)
    assert turning.mean() == pytest.approx(0.3, abs=0.03)
    # Turning in place: at least half the largest yaw rate, either way the range reaches.
    assert np.all(np.abs(draws[turning, 2]) >= 0.5 - 1e-12)
    assert draws[turning, 2].min() < 0 < draws[turning, 2].max()
    rest = draws[~zero & ~turning]
    for i, (lo, hi) in enumerate((TASK.lin_vel_x, TASK.lin_vel_y, TASK.yaw_rate)):
        assert lo <= rest[:, i].min() and rest[:, i].max() <= hi


def test_a_drawn_command_changes_every_resample_steps_and_replays_per_episode():
    own = OwnCommand(TASK, seed=7)
    seen = []
    for episode in range(3):
        own.start(episode)
        for steps in range(1, 9):
            seen.append((episode, steps, own.value.copy()))
            own.stepped(steps)
    by_episode = {e: [v for ep, _, v in seen if ep == e] for e in range(3)}
    for values in by_episode.values():
        # Steps 1-4 hold the first command, 5-8 the one drawn after step 4.
        assert all(np.array_equal(values[0], v) for v in values[1:4])
        assert all(np.array_equal(values[4], v) for v in values[5:8])
    again = OwnCommand(TASK, seed=7)
    again.start(1)
    assert np.array_equal(again.value, by_episode[1][0])    # episode 1 replays alone
    assert own.draws == 3 * 3      # each start, and after steps 4 and 8
    assert 'every 4 steps' in own.describe() and '20% of them zero' in own.describe()


def test_a_fixed_command_never_changes():
    own = OwnCommand(TASK, seed=7, fixed=(0.4, 0.0, 0.1))
    own.start(3)
    own.stepped(4)
    assert np.array_equal(own.value, [0.4, 0.0, 0.1]) and own.draws == 0
    assert own.describe() == 'command 0.4,0,0.1 on cmd_vel'


def test_the_sim_scores_against_the_command_it_draws_anew_each_episode():
    g1 = get_robot('g1')
    ranges = 'lin_vel_x=0.2:0.6,lin_vel_y=0,yaw_rate=0,standing_fraction=0'
    cfg = SimConfig(robot='g1', command_input='position', cmd_vel='random',
                    cmd_vel_ranges=ranges, episode_steps=3, seed=5)
    runs = []
    for _ in range(2):
        s = SimSession(cfg, lambda: 0.0)
        s.gains = np.concatenate([g1.kp, g1.kd])
        commands = []
        for _ in range(9):
            commands.append(s.own.value.copy())
            assert np.allclose(s.velocity_command(), s.own.value)
            s.take_command(g1.default_pose())
            s.conclude(s.advance(s.current_command())[1])
        runs.append(np.array(commands))
    first, second = runs
    assert np.array_equal(first, second)                     # the seed replays the run
    assert len({tuple(c) for c in first}) == 3               # one command per episode
    assert np.all((first[:, 0] >= 0.2) & (first[:, 0] <= 0.6)) and not first[:, 1:].any()


def test_the_command_parameters_refuse_what_they_cannot_draw():
    assert SimConfig(cmd_vel='random').random_commands
    assert SimConfig(cmd_vel='random').velocity_command() is None
    with pytest.raises(ValueError, match="cmd_vel: expected vx,vy,wz .* or 'random'"):
        SimConfig(cmd_vel='randm').validate()
    with pytest.raises(ValueError, match="cmd_vel_ranges: .* only with cmd_vel 'random'"):
        SimConfig(cmd_vel='0.5,0,0', cmd_vel_ranges='lin_vel_x=0:1').validate()
    with pytest.raises(ValueError, match="cmd_vel_ranges 'lin_vel_x=1:0': inverted range"):
        SimConfig(cmd_vel='random', cmd_vel_ranges='lin_vel_x=1:0').validate()


def test_a_contracts_ranges_read_back_as_the_same_ranges():
    ranges = {'lin_vel_x': [-0.3, 0.8], 'lin_vel_y': [-0.1, 0.1], 'yaw_rate': [-0.8, 0.8]}
    task = dataclasses.replace(VelocityTask(), **parse_commands(format_commands(ranges)))
    assert task.command_ranges() == {k: tuple(v) for k, v in ranges.items()}

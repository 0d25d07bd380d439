"""The sim's closing line: a run stopped by its tick budget reports what it measured."""

import numpy as np
import pytest

from symphony_ros.robot import get_robot
from symphony_ros.robot.reward import HumanoidReward
from symphony_ros.sim.config import SimConfig
from symphony_ros.sim.episodes import EpisodeTracker, run_summary
from symphony_ros.sim.robot_sim import RobotSim


@pytest.fixture(scope='module')
def robot():
    return get_robot('humanoid')


def _run(robot, ticks, limit):
    sim = RobotSim(SimConfig(seed=2))
    tracker = EpisodeTracker(HumanoidReward(robot), limit)
    tracker.start(sim.state())
    zero, episodes, rewards = np.zeros(robot.n_joints), [], []
    for _ in range(ticks):
        r, done = tracker.step(sim.step(zero), zero)
        rewards.append(r.total)
        if done is not None:
            episodes.append(done)
            tracker.start(sim.reset())
    return tracker, episodes, rewards


def test_a_run_ending_inside_its_first_episode_gives_its_return_not_nan(robot):
    tracker, episodes, rewards = _run(robot, 7, limit=1000)
    line = run_summary(7, episodes, tracker)
    assert line == ('done: 7 steps, 0 episodes, no complete episode, episode 0 unfinished '
                    f'after 7 steps: return {sum(rewards):.1f}')
    assert 'nan' not in line


def test_finished_episodes_and_the_unfinished_one_are_told_apart(robot):
    tracker, episodes, rewards = _run(robot, 8, limit=3)
    line = run_summary(8, episodes, tracker, timed_ticks=2, altered_ticks=5)
    mean = np.mean([e.ret for e in episodes])
    assert line.startswith(f'done: 8 steps, 2 episodes, mean return {mean:.1f}, episode 2 '
                           f'unfinished after 2 steps: return {sum(rewards[6:]):.1f}'), line
    assert '2 lockstep ticks stepped on a watchdog output taken by timing' in line
    assert '5 lockstep ticks stepped on the command as a watchdog safety rule altered' in line
    # A run that stops exactly at an episode's end has nothing unfinished to report.
    tracker, episodes, _ = _run(robot, 6, limit=3)
    assert run_summary(6, episodes, tracker).endswith('mean return '
                                                      f'{np.mean([e.ret for e in episodes]):.1f}')


def test_velocity_episodes_add_their_mean_tracking_error(robot):
    from symphony_ros.sim.episodes import EpisodeResult
    tracker, _, _ = _run(robot, 0, limit=3)
    episodes = [EpisodeResult(0, 10.0, 3, False, (0.1, 0.2)),
                EpisodeResult(1, 20.0, 3, True, (0.3, 0.4))]
    assert run_summary(6, episodes, tracker) == (
        'done: 6 steps, 2 episodes, mean return 15.0, mean tracking error RMS 0.200 m/s, '
        '0.300 rad/s')

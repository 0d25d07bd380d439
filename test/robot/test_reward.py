"""The sim's reward and episodes equal Humanoid-v4's, so returns through ROS compare."""

import gymnasium as gym
import numpy as np
import pytest

from symphony_ros.robot import get_robot
from symphony_ros.robot.mujoco_state import MujocoStateReader
from symphony_ros.robot.reward import HumanoidReward
from symphony_ros.sim.config import SimConfig
from symphony_ros.sim.episodes import EpisodeTracker
from symphony_ros.sim.robot_sim import RobotSim


@pytest.fixture(scope='module')
def robot():
    return get_robot('humanoid')


def test_reward_from_measured_state_equals_gymnasium(robot):
    env = gym.make('Humanoid-v4')
    env.reset(seed=3)
    u = env.unwrapped
    reader, reward = MujocoStateReader(u.model, robot), HumanoidReward(robot)
    rng = np.random.default_rng(0)
    before, ours, theirs = reader.read(u.data), [], []
    for _ in range(200):
        action = rng.uniform(-0.4, 0.4, robot.n_joints)
        _, r, terminated, _, _ = env.step(action)
        after = reader.read(u.data)
        step = reward.step(before, after, robot.action_to_torque(action))
        ours.append(step.total)
        theirs.append(r)
        before = after
        assert step.fallen == terminated
        if terminated:
            break
    # Gymnasium reads the centre of mass one physics substep late; over a control step of
    # five substeps that moves the velocity term by well under 0.1%.
    assert np.allclose(ours, theirs, rtol=1e-3, atol=1e-3)
    assert abs(sum(ours) - sum(theirs)) < 1e-3 * abs(sum(theirs))


def test_sim_episode_k_starts_where_gymnasium_reset_seed_plus_k_does():
    env = gym.make('Humanoid-v4').unwrapped
    sim = RobotSim(SimConfig(seed=500))
    for k in range(3):
        if k:
            sim.reset()
        env.reset(seed=500 + k)
        assert np.array_equal(sim.data.qpos, env.data.qpos)
        assert np.array_equal(sim.data.qvel, env.data.qvel)


def test_episode_ends_on_fall_and_at_the_time_limit(robot):
    sim = RobotSim(SimConfig(seed=1))
    tracker = EpisodeTracker(HumanoidReward(robot), limit=5)
    tracker.start(sim.state())
    zero = np.zeros(robot.n_joints)
    results = [tracker.step(sim.step(zero), zero)[1] for _ in range(5)]
    assert results[:4] == [None] * 4
    assert results[4].length == 5 and not results[4].fallen and results[4].index == 0
    assert results[4].ret == pytest.approx(5 * 5.0, abs=1.0)  # healthy bonus dominates
    tracker = EpisodeTracker(HumanoidReward(robot), limit=0)
    tracker.start(sim.reset())
    done = None
    for _ in range(400):        # no torque: the humanoid collapses
        _, done = tracker.step(sim.step(zero), zero)
        if done:
            break
    assert done is not None and done.fallen and sim.fallen()
    with pytest.raises(RuntimeError, match='before start'):
        tracker.step(sim.state(), zero)

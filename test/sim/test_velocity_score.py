"""The sim scores a velocity-task robot with the training env's own reward terms."""

import dataclasses

import mujoco
import numpy as np
import pytest

from symphony_ros.robot import get_robot
from symphony_ros.robot.pd import PDLaw
from symphony_ros.robot.reward import HumanoidReward
from symphony_ros.robot.tracking import WindowTracking, window_steps
from symphony_ros.robot.velocity_env import VelocityEnv, VelocityTask
from symphony_ros.robot.velocity_reward import VelocityScore
from symphony_ros.sim.config import SimConfig
from symphony_ros.sim.episodes import REACHED_PART, EpisodeTracker, episode_line, task_reward
from symphony_ros.sim.robot_sim import RobotSim

G1 = get_robot('g1')
COMMAND = np.array([0.6, -0.1, 0.3])
STEPS = 40


def rollout(with_data: bool, steps: int = STEPS, amplitude: float = 0.3):
    """(env reward terms, sim score) per step: same start, same actions, same command."""
    # The robot file's task (its reward weights), one command for the whole rollout.
    env = VelocityEnv(G1, dataclasses.replace(VelocityTask.for_robot(G1), resample_steps=10_000))
    env.reset(seed=4)
    env.command[:] = COMMAND
    # The sim's score counts the gait clock from its episode's first step; training episodes
    # start the clock at a drawn tick, here the sim's.
    env.clock_start = 0
    sim = RobotSim(SimConfig(robot='g1', command_input='position'))
    sim.data.qpos[:], sim.data.qvel[:] = env.data.qpos, env.data.qvel
    sim.data.ctrl[:] = env.data.ctrl
    mujoco.mj_forward(sim.model, sim.data)
    score = task_reward(G1, sim.healthy_z)
    tracker = EpisodeTracker(score, steps)
    tracker.start(sim.state(), **({'data': sim.data} if with_data else {}))
    law, kp, kd = PDLaw(G1), np.asarray(G1.kp), np.asarray(G1.kd)
    rng = np.random.default_rng(7)
    out, done = [], None
    for _ in range(steps):
        a = rng.uniform(-amplitude, amplitude, G1.n_joints)
        _, _, terminated, _, info = env.step(a)
        v, w = env.robot_state().base_lin_vel, env.robot_state().base_ang_vel
        info['velocity'] = (v[0], v[1], w[2])
        state = sim.step_targets(law.target(a), kp, kd)
        # The action as the sim sees it: recovered from the targets it received.
        step, done = tracker.step(state, sim.data.actuator_force.copy(),
                                  action=law.action(law.target(a)), command=COMMAND,
                                  **({'data': sim.data} if with_data else {}))
        out.append((info['reward_terms'], step, terminated, info['velocity']))
        if done is not None:
            break
    return out, done


def test_a_pd_robot_is_scored_by_the_velocity_task_and_the_humanoid_by_humanoid_v4():
    assert isinstance(task_reward(G1), VelocityScore)
    assert isinstance(task_reward(get_robot('humanoid')), HumanoidReward)


def test_the_sims_score_equals_the_training_envs_reward_term_by_term():
    steps, done = rollout(with_data=True)
    assert done is not None and len(steps) == done.length >= 30
    for env_terms, step, terminated, _ in steps:
        assert set(step.terms) == set(env_terms)
        for name, value in env_terms.items():
            assert step.terms[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
        assert step.fallen == terminated
    assert done.ret == pytest.approx(sum(sum(t.values()) for t, *_ in steps), rel=1e-9)
    # The tracking error is the measured velocity against the command.
    lin = np.sqrt(np.mean([s.lin_vel_error ** 2 for _, s, *_ in steps]))
    assert done.tracking[0] == pytest.approx(lin) and done.tracking[0] > 0.3


def test_scoring_from_recorded_states_alone_is_close_to_the_live_score():
    """A bag has states only: feet and contacts are rebuilt from each state's pose."""
    live = sum(s.total for _, s, *_ in rollout(with_data=True)[0])
    rebuilt = sum(s.total for _, s, *_ in rollout(with_data=False)[0])
    assert rebuilt == pytest.approx(live, rel=0.02)


def test_pd_law_action_inverts_target():
    law = PDLaw(G1)
    a = np.random.default_rng(0).uniform(-1, 1, G1.n_joints)
    held = np.asarray(G1.action_scale) == 0
    expect = np.where(held, 0.0, a)
    np.testing.assert_allclose(law.action(law.target(a)), expect, atol=1e-12)


def test_the_sims_stride_tracking_is_the_one_stress_measures_in_process():
    """Over one gait cycle (40 steps at 50 Hz), from the training env's own velocities."""
    steps, done = rollout(with_data=True, steps=120, amplitude=0.0)   # the limp G1 falls
    assert done is not None and done.length == len(steps) > 45
    window = WindowTracking(window_steps(VelocityTask.for_robot(G1).gait_period,
                                         G1.control_dt))
    for *_, velocity in steps:
        window.add(COMMAND, velocity)
    assert done.stride_tracking == pytest.approx((window.lin_rms, window.yaw_rms), rel=1e-9)
    assert 0 < done.stride_tracking[0] < done.tracking[0]     # the sway averages out
    assert 'per stride' in episode_line(done)
    # The mean velocity reached, which a held-command condition through ROS reads back.
    moved = np.mean([velocity for *_, velocity in steps], axis=0)
    assert done.reached == pytest.approx(tuple(moved), rel=1e-9)
    m = REACHED_PART.search(episode_line(done))
    assert [float(v) for v in m.groups()] == pytest.approx(moved, abs=6e-4)
    _, early = rollout(with_data=True, steps=30)
    assert early.stride_tracking is None and 'per stride' not in episode_line(early)

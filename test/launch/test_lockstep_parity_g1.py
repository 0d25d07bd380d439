"""Sim-to-sim parity for a PD robot: the G1 through ROS in lockstep vs in process.

The lockstep G1 graph runs the position path (the watchdog forwards checked targets and
gains, the sim's servos apply them at every physics step). In process, the same policy
drives the same RobotSim from the same seeded resets with the same velocity command (the
sim publishes it on cmd_vel). Both are scored by the velocity task's own reward terms
(`VelocityScore`, the training env's). The policy is the shipped one, which steps and stays
up through the 150-step episodes, its gait clock and previous action in its observation.
The lockstep run is deterministic: each tick steps on the watchdog output equal to the
policy's answer, the policy's memory moves once per state, however many times a held
state is sent, and starts afresh at each reset of the robot. So lengths, returns and
tracking errors agree up to the rounding of the sim's log line; a gain, joint order, frame,
memory or timing error moves them far more.
"""


import os
import re
import sys

import numpy as np
import pytest
from launch_helpers import parity_watchdog

from symphony_ros import paths
from symphony_ros.robot import get_robot
from symphony_ros.sim.episodes import EPISODE_LINE

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'deploy'))
from g1_policy import export_g1_policy, export_history_student  # noqa: E402

pytestmark = pytest.mark.ros

EPISODES = 2
SEED = 5
CMD_VEL = (0.5, 0.0, 0.2)
EPISODE_STEPS = 150
TRACKING = re.compile(r'episode \d+: return [^\n]*?tracking error RMS ([\d.]+) m/s, '
                      r'([\d.]+) rad/s')


def in_process(policy_path: str, episodes: int, seed: int):
    """EpisodeResult per episode: the policy on RobotSim's servos under CMD_VEL."""
    from symphony_ros.deploy.policy_loop import PolicyLoop
    from symphony_ros.sim.config import SimConfig
    from symphony_ros.sim.episodes import EpisodeTracker, task_reward
    from symphony_ros.sim.robot_sim import RobotSim
    robot = get_robot('g1')
    cfg = SimConfig(robot='g1', command_input='position', seed=seed,
                    episode_steps=EPISODE_STEPS)
    sim = RobotSim(cfg)
    tracker = EpisodeTracker(task_reward(robot, sim.healthy_z), cfg.episode_steps, sim.fallen)
    out = []
    kp, kd = np.asarray(robot.kp), np.asarray(robot.kd)
    command = np.array(CMD_VEL)
    # One loop for all episodes, as policy_node runs it: it answers each episode's last state
    # too, and the sim's reset of the robot starts its memory afresh (policy_node's ~/reset:
    # no previous action, gait clock at 0), as each training episode starts.
    loop = PolicyLoop(policy_path, robot)
    for k in range(episodes):
        state = sim.state() if k == 0 else sim.reset()
        loop.reset()
        tracker.start(state, data=sim.data)
        done = None
        while done is None:
            target, _ = loop.act(state, command)
            state = sim.step_targets(target, kp, kd)
            # Scored on the action the robot received (held joints' entries are 0), as the
            # sim recovers it from the targets.
            _, done = tracker.step(state, sim.data.actuator_force.copy(),
                                   action=loop.pd.action(target), command=command,
                                   data=sim.data)
        loop.act(state, command)
        out.append(done)
    return out


def _lockstep_matches_in_process(launcher, tmp_path, policy: str) -> None:
    la = launcher('deploy', 'robot:=sim', 'robot_model:=g1', 'timing:=lockstep',
                  f'episodes:={EPISODES}', f'seed:={SEED}', f'policy:={policy}',
                  f'episode_steps:={EPISODE_STEPS}',
                  'cmd_vel:=' + ','.join(map(str, CMD_VEL)),
                  f'watchdog_config:={parity_watchdog(tmp_path, "g1")}')
    assert la.finish(timeout=300) == 0, la.text
    assert 'lockstep: no command answered' not in la.text, la.text
    assert 'position commands -> position on /position_controller/commands' in la.text
    ros = [(int(k), float(r), int(n)) for k, r, n, _ in EPISODE_LINE.findall(la.text)]
    assert [k for k, _, _ in ros] == list(range(EPISODES)), la.text
    tracking = [tuple(map(float, t)) for t in TRACKING.findall(la.text)]
    ref = in_process(policy, EPISODES, SEED)
    print(f'\nG1 lockstep parity (velocity task return, tracking RMS): ROS '
          f'{[(r, n) for _, r, n in ros]} {tracking}, in process '
          f'{[(round(e.ret, 1), e.length) for e in ref]} {[e.tracking for e in ref]}')
    assert [n for _, _, n in ros] == [e.length for e in ref], (ros, ref)
    # The log line rounds the return to 0.1 and the tracking errors to 0.001.
    np.testing.assert_allclose([r for _, r, _ in ros], [e.ret for e in ref], rtol=0, atol=0.051)
    assert len(tracking) == EPISODES, la.text
    assert 'mean tracking error RMS' in la.text, la.text
    np.testing.assert_allclose(tracking, [e.tracking for e in ref], rtol=0, atol=0.00051)


def test_g1_lockstep_deploy_matches_the_in_process_run(launcher, tmp_path):
    _lockstep_matches_in_process(launcher, tmp_path, paths.shipped_policy_path('g1'))


def test_a_policy_with_observation_history_deploys_as_it_runs_in_process(launcher, tmp_path):
    """The policy node keeps the last observations as the in-process loop does.

    Two episodes: around the sim's reset the node answers a state again, from the memory
    (frames included) the state first found; with one episode, a node whose memory dropped
    the frames matched too.
    """
    _lockstep_matches_in_process(launcher, tmp_path, export_history_student(str(tmp_path)))


def test_a_policy_reading_odometry_deploys_as_it_runs_in_process(launcher, tmp_path):
    """The base velocity reaches the actor from /odom as the in-process loop builds it.

    An untrained actor (every input weighted): a frame or scale error in the odometry term
    changes its actions, and with them when and how each episode ends.
    """
    policy = export_g1_policy(str(tmp_path), seed=2, obs_spec='velocity_gait_odom')
    _lockstep_matches_in_process(launcher, tmp_path, policy)

"""Sim-to-sim parity for a PD robot: the G1 through ROS in lockstep vs in process.

The lockstep G1 graph runs the position path (the watchdog forwards checked targets and
gains, the sim's servos apply them at every physics step). In process, the same policy
drives the same RobotSim from the same seeded resets with the same velocity command (the
sim publishes it on cmd_vel). Both are scored by the velocity task's own reward terms
(`VelocityScore`, the training env's). An untrained policy falls within about 70 steps: the
episode lengths must agree to one control step, the return to 5 % and the tracking error to
10 % (the sim steps on the watchdog output it holds when the tick is due, which can move the
fall by one step; a gain, joint order or frame error moves them far more).
"""


import re

import numpy as np
import pytest
from launch_helpers import parity_watchdog

from symphony_ros.robot import get_robot
from symphony_ros.sim.episodes import EPISODE_LINE

pytestmark = pytest.mark.ros

EPISODES = 2
SEED = 5
CMD_VEL = (0.5, 0.0, 0.2)
TRACKING = re.compile(r'episode \d+: return [^\n]*?tracking error RMS ([\d.]+) m/s, '
                      r'([\d.]+) rad/s')


def in_process(policy_path: str, episodes: int, seed: int):
    """EpisodeResult per episode: the policy on RobotSim's servos under CMD_VEL."""
    from symphony_ros.deploy.policy_loop import PolicyLoop
    from symphony_ros.sim.config import SimConfig
    from symphony_ros.sim.episodes import EpisodeTracker, task_reward
    from symphony_ros.sim.robot_sim import RobotSim
    robot = get_robot('g1')
    cfg = SimConfig(robot='g1', command_input='position', seed=seed)
    sim = RobotSim(cfg)
    tracker = EpisodeTracker(task_reward(robot, sim.healthy_z), cfg.episode_steps, sim.fallen)
    out = []
    kp, kd = np.asarray(robot.kp), np.asarray(robot.kd)
    command = np.array(CMD_VEL)
    # One loop for all episodes, as policy_node runs it: its previous action and gait clock
    # carry on through the sim's resets.
    loop = PolicyLoop(policy_path, robot)
    for k in range(episodes):
        state = sim.state() if k == 0 else sim.reset()
        tracker.start(state, data=sim.data)
        done = None
        while done is None:
            target, action = loop.act(state, command)
            state = sim.step_targets(target, kp, kd)
            _, done = tracker.step(state, sim.data.actuator_force.copy(), action=action,
                                   command=command, data=sim.data)
        out.append(done)
    return out


def test_g1_lockstep_deploy_matches_the_in_process_run(launcher, g1_policy, tmp_path):
    la = launcher('deploy', 'robot:=sim', 'robot_model:=g1', 'timing:=lockstep',
                  f'episodes:={EPISODES}', f'seed:={SEED}', f'policy:={g1_policy}',
                  'cmd_vel:=' + ','.join(map(str, CMD_VEL)),
                  f'watchdog_config:={parity_watchdog(tmp_path, "g1")}')
    assert la.finish(timeout=300) == 0, la.text
    assert 'lockstep: no command answered' not in la.text, la.text
    assert 'position commands -> position on /position_controller/commands' in la.text
    ros = [(int(k), float(r), int(n)) for k, r, n, _ in EPISODE_LINE.findall(la.text)]
    assert [k for k, _, _ in ros] == list(range(EPISODES)), la.text
    tracking = [tuple(map(float, t)) for t in TRACKING.findall(la.text)]
    ref = in_process(g1_policy, EPISODES, SEED)
    print(f'\nG1 lockstep parity (velocity task return, tracking RMS): ROS '
          f'{[(r, n) for _, r, n in ros]} {tracking}, in process '
          f'{[(round(e.ret, 1), e.length) for e in ref]} {[e.tracking for e in ref]}')
    # In lockstep the sim steps on the watchdog output it holds when the tick is due, which
    # can move an untrained policy's fall by one control step; that step has the largest
    # velocity error of the episode, so its RMS tracking moves by up to about 6 %.
    assert all(abs(n - e.length) <= 1 for (_, _, n), e in zip(ros, ref)), (ros, ref)
    ros_ret, ref_ret = np.mean([r for _, r, _ in ros]), np.mean([e.ret for e in ref])
    assert abs(ros_ret - ref_ret) <= 0.05 * abs(ref_ret), (ros, ref)
    assert len(tracking) == EPISODES, la.text
    assert 'mean tracking error RMS' in la.text, la.text
    np.testing.assert_allclose(tracking, [e.tracking for e in ref], rtol=0.1, atol=0.005)

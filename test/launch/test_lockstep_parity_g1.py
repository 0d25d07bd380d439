"""Sim-to-sim parity for a PD robot: the G1 through ROS in lockstep vs in process.

The lockstep G1 graph runs the position path (the watchdog forwards checked targets and
gains, the sim's servos apply them at every physics step). In process, the same policy
drives the same RobotSim from the same seeded resets with the same (zero) velocity command.
An untrained policy falls within about 70 steps: the episode lengths must agree exactly and
the return (the sim's own scoring, computed alike in process) to >= 95 %.
"""


import numpy as np
import pytest
from launch_helpers import EPISODE_LINE, parity_watchdog

from symphony_ros.robot import get_robot

pytestmark = pytest.mark.ros

EPISODES = 2
SEED = 5


def in_process(policy_path: str, episodes: int, seed: int):
    """(return, length) per episode: the policy on RobotSim's servos, zero command."""
    from symphony_ros.deploy.policy_loop import PolicyLoop
    from symphony_ros.robot.reward import HumanoidReward, RewardWeights
    from symphony_ros.sim.config import SimConfig
    from symphony_ros.sim.episodes import EpisodeTracker
    from symphony_ros.sim.robot_sim import RobotSim
    robot = get_robot('g1')
    cfg = SimConfig(robot='g1', command_input='position', seed=seed)
    sim = RobotSim(cfg)
    tracker = EpisodeTracker(HumanoidReward(robot, RewardWeights(healthy_z=sim.healthy_z)),
                             cfg.episode_steps, sim.fallen)
    out = []
    kp, kd = np.asarray(robot.kp), np.asarray(robot.kd)
    for k in range(episodes):
        state = sim.state() if k == 0 else sim.reset()
        tracker.start(state)
        loop = PolicyLoop(policy_path, robot)
        done = None
        while done is None:
            target, _ = loop.act(state, np.zeros(3))
            state = sim.step_targets(target, kp, kd)
            _, done = tracker.step(state, sim.data.actuator_force.copy())
        out.append((done.ret, done.length))
    return out


def test_g1_lockstep_deploy_matches_the_in_process_run(launcher, g1_policy, tmp_path):
    la = launcher('deploy', 'robot:=sim', 'robot_model:=g1', 'timing:=lockstep',
                  f'episodes:={EPISODES}', f'seed:={SEED}', f'policy:={g1_policy}',
                  f'watchdog_config:={parity_watchdog(tmp_path, "g1")}')
    assert la.finish(timeout=300) == 0, la.text
    assert 'lockstep: no command answered' not in la.text, la.text
    assert 'position commands -> position on /position_controller/commands' in la.text
    ros = [(int(k), float(r), int(n)) for k, r, n in EPISODE_LINE.findall(la.text)]
    assert [k for k, _, _ in ros] == list(range(EPISODES)), la.text
    ref = in_process(g1_policy, EPISODES, SEED)
    print(f'\nG1 lockstep parity: ROS {[(r, n) for _, r, n in ros]}, in process {ref}')
    assert [n for _, _, n in ros] == [n for _, n in ref], (ros, ref)
    assert np.mean([r for _, r, _ in ros]) >= 0.95 * np.mean([r for r, _ in ref]), (ros, ref)

"""PolicyLoop for a pd_position policy: joint position targets out, the command fed in."""

import mujoco
import numpy as np
import pytest

from g1_policy import export_g1_policy
from symphony_ros.deploy.policy_loop import DeployError, PolicyLoop
from symphony_ros.deploy.velocity_command import VelocityCommand
from symphony_ros.robot import get_robot
from symphony_ros.robot.observations import ObservationBuilder
from symphony_ros.robot.pd import PDLaw
from symphony_ros.robot.model import build_model, home_qpos
from symphony_ros.robot.state import MujocoStateReader


@pytest.fixture(scope='module')
def g1_onnx(tmp_path_factory):
    return export_g1_policy(str(tmp_path_factory.mktemp('g1')))


def standing_state(robot):
    """The G1 in MuJoCo at its home pose, read as a robot publishes it."""
    model = build_model(robot)
    data = mujoco.MjData(model)
    data.qpos[:] = home_qpos(model, robot)
    mujoco.mj_forward(model, data)
    return MujocoStateReader(model, robot).read(data)


def test_a_g1_policy_gives_joint_targets_from_the_command_it_is_fed(g1_onnx):
    robot = get_robot('g1')
    loop = PolicyLoop(g1_onnx, robot)
    assert loop.output == 'position' and loop.needs_command
    cmd = VelocityCommand(loop.command_ranges)
    cmd.update(0.7, 0.0, 0.2)
    state = standing_state(robot)
    target, action = loop.act(state, cmd.value())
    np.testing.assert_allclose(target, PDLaw(robot).target(action))
    # The observation the policy saw carries the command (last three entries).
    obs = ObservationBuilder(loop.policy.contract.observation.name, robot).build(
        state, np.zeros(robot.n_joints), command=cmd.value())
    np.testing.assert_allclose(obs[-3:], [0.7, 0.0, 0.2])
    np.testing.assert_allclose(action, loop.policy.act(obs), atol=1e-6)
    # Another command gives another action: the command reaches the network.
    other = PolicyLoop(g1_onnx, robot)
    assert not np.allclose(other.act(state, np.array([-0.5, 0.3, -1.0]))[1], action)


def test_a_pd_policy_refuses_torque_and_a_missing_command(g1_onnx):
    loop = PolicyLoop(g1_onnx, get_robot('g1'))
    state = standing_state(loop.robot)
    with pytest.raises(DeployError, match='pd_position'):
        loop.torque(state)
    with pytest.raises(DeployError, match='velocity command'):
        loop.act(state)
    assert loop.command_ranges['lin_vel_x'] == [-0.5, 1.0]

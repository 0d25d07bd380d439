"""PolicyLoop for a pd_position policy: joint position targets out, the command fed in."""

import mujoco
import numpy as np
import pytest

from g1_policy import export_g1_policy, rewrite_contract
from symphony_ros.deploy.policy_loop import DeployError, PolicyLoop
from symphony_ros.deploy.state_inputs import OncePerState
from symphony_ros.deploy.velocity_command import VelocityCommand
from symphony_ros.robot import get_robot
from symphony_ros.robot.mujoco_state import MujocoStateReader
from symphony_ros.robot.observations import ObservationBuilder
from symphony_ros.robot.pd import PDLaw
from symphony_ros.robot.model import build_model, home_qpos


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
    # A frozen clock: the command must not go stale while a busy machine runs the policy.
    cmd = VelocityCommand(loop.command_ranges, clock=lambda: 0.0)
    cmd.update(0.7, 0.0, 0.2)
    state = standing_state(robot)
    target, action = loop.act(state, cmd.value())
    np.testing.assert_allclose(target, PDLaw(robot).target(action))
    # The observation the policy saw carries the command, then the gait clock at tick 0.
    obs = ObservationBuilder(loop.policy.contract.observation.name, robot).build(
        state, np.zeros(robot.n_joints), command=cmd.value(), gait_phase=np.array([0.0, 1.0]))
    np.testing.assert_allclose(obs[-5:], [0.7, 0.0, 0.2, 0.0, 1.0])
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
    assert loop.command_ranges['lin_vel_x'] == [-0.3, 0.8]


def test_the_gait_clock_ticks_with_each_action_and_reaches_the_network(g1_onnx):
    robot = get_robot('g1')
    loop = PolicyLoop(g1_onnx, robot)
    state, cmd = standing_state(robot), np.array([0.5, 0.0, 0.0])
    assert loop.clock.period == 0.8 and loop.clock.dt == robot.control_dt
    actions = [loop.act(state, cmd)[1] for _ in range(11)]
    assert loop.ticks == 11
    # Tick 10 is 0.2 s into the 0.8 s cycle: a quarter, (sin, cos) = (1, 0).
    obs = ObservationBuilder('velocity_gait', robot).build(
        state, actions[-2], command=cmd, gait_phase=np.array([1.0, 0.0]))
    np.testing.assert_allclose(actions[-1], loop.policy.act(obs), atol=1e-6)
    # Same state, same previous action, another phase: another action.
    obs[-2:] = [0.0, -1.0]
    assert not np.allclose(loop.policy.act(obs), actions[-1], atol=1e-4)


def test_a_gait_policy_without_its_period_is_refused(g1_onnx, tmp_path):
    import json

    def drop_period(text):
        doc = json.loads(text)
        del doc['task']['gait_period']
        return json.dumps(doc)
    bad = str(tmp_path / 'no_period.onnx')
    rewrite_contract(g1_onnx, bad, drop_period)
    with pytest.raises(DeployError, match='gait clock.*no task.gait_period'):
        PolicyLoop(bad, get_robot('g1'))


def test_a_policy_without_the_clock_still_drives_the_g1(tmp_path):
    loop = PolicyLoop(export_g1_policy(str(tmp_path), obs_spec='velocity'), get_robot('g1'))
    assert loop.clock is None and loop.builder.dim == 96
    target, _ = loop.act(standing_state(loop.robot), np.zeros(3))
    assert target.shape == (loop.robot.n_joints,)


def test_inspect_shows_the_gait_clock(g1_onnx, capsys):
    from symphony_ros.cli.main import main
    assert main(['inspect', g1_onnx]) == 0
    out = capsys.readouterr().out
    assert 'gait clock       0.8 s cycle, stance 0.55 (counted by the policy loop)' in out
    assert 'gait_phase' in out


def test_a_held_state_sent_again_is_acted_on_from_the_memory_it_first_found(g1_onnx):
    """Lockstep's rule (OncePerState with PolicyLoop.memory): copies do not move the memory."""
    robot = get_robot('g1')
    state, cmd = standing_state(robot), np.array([0.5, 0.0, 0.0])
    once, loop, ref = OncePerState(), PolicyLoop(g1_onnx, robot), PolicyLoop(g1_onnx, robot)
    for stamp, copies in ((1, 5), (2, 1), (3, 3)):
        for _ in range(copies):
            loop.memory = once.memory(stamp, loop.memory)
            target, _ = loop.act(state, cmd)
        np.testing.assert_array_equal(target, ref.act(state, cmd)[0])
    assert loop.ticks == ref.ticks == 3
    # A later command is still taken in by a copy.
    loop.memory = once.memory(3, loop.memory)
    assert not np.allclose(loop.act(state, np.array([-0.3, 0.0, 0.5]))[0], target)
    # Without the rule, each copy moves the previous action and the gait clock.
    plain = PolicyLoop(g1_onnx, robot)
    for _ in range(5):
        plain.act(state, cmd)
    assert plain.ticks == 5


def test_a_scaled_observation_deploys_scaled_and_other_scales_are_refused(tmp_path, capsys):
    from symphony_ros.cli.main import main
    robot = get_robot('g1')
    scaled = export_g1_policy(str(tmp_path), obs_spec='velocity_gait_scaled')
    assert main(['inspect', scaled]) == 0
    text = capsys.readouterr().out
    assert 'joint_vel                  29  x0.05' in text
    assert 'command                     3  x(2, 2, 0.25)' in text
    assert 'projected_gravity           3\n' in text             # unscaled: no factor
    loop = PolicyLoop(scaled, robot)
    state = standing_state(robot)
    target, action = loop.act(state, np.array([0.5, 0.0, 0.4]))
    obs = ObservationBuilder('velocity_gait_scaled', robot).build(
        state, np.zeros(robot.n_joints), command=np.array([0.5, 0.0, 0.4]),
        gait_phase=np.array([0.0, 1.0]))
    np.testing.assert_allclose(obs[-5:], [1.0, 0.0, 0.1, 0.0, 1.0])   # command x(2, 2, 0.25)
    np.testing.assert_allclose(action, loop.policy.act(obs), atol=1e-6)
    # A contract whose scales differ from this build's: the actor would get the wrong sizes.
    other = str(tmp_path / 'other.onnx')
    rewrite_contract(scaled, other, lambda text: text.replace('[0.05,', '[0.1,', 1))
    with pytest.raises(DeployError, match=r"joint_vel by \[0\.1.* in training, by \[0\.05"):
        PolicyLoop(other, robot)

"""The PD action law in the contract: written at export, read back, checked against a robot."""

import dataclasses

import numpy as np
import pytest

from symphony_ros.policy.contract import PolicyContract
from symphony_ros.policy.errors import ContractError, RobotMismatchError
from symphony_ros.policy.runtime import check_contract_robot, check_description
from symphony_ros.policy.targets import resolve_target
from symphony_ros.robot import get_robot


def _contract(env='velocity:g1', obs=98, act=29):
    t = resolve_target(env, None, obs, act, 'run')
    return PolicyContract(
        env=env, obs_dim=obs, act_dim=act, observation=t.observation, robot=t.robot,
        control_dt=t.control_dt, algorithm='symphony', algorithm_config={}, train_config={},
        training_steps=1, test_return=None, weights_sha256='0' * 64, project_version='0',
        opset=17, exported_at='now', task=t.task).validate('p.onnx')


@pytest.fixture(scope='module')
def g1_contract():
    return PolicyContract.from_json(_contract().to_json(), 'p.onnx')


def test_the_contract_carries_the_pd_law_of_the_g1(g1_contract):
    robot, r = get_robot('g1'), g1_contract.robot
    assert r.action_kind == 'pd_position' and r.pd_dt == 0.005 and r.control_dt == 0.02
    np.testing.assert_array_equal(r.kp, robot.kp)
    np.testing.assert_array_equal(r.kd, robot.kd)
    np.testing.assert_array_equal(r.action_scale, robot.action_scale)
    np.testing.assert_array_equal(r.default_pose, robot.default_pose())
    np.testing.assert_array_equal(r.effort_limits, robot.effort_limits)
    assert g1_contract.task['command_ranges']['lin_vel_x'] == [-0.3, 0.8]
    assert g1_contract.task['gait_period'] == 0.8
    assert g1_contract.observation.terms[-2:] == (('command', 3), ('gait_phase', 2))
    check_description(g1_contract, robot)  # its own robot passes


@pytest.mark.parametrize('table, joint, value', [
    ('kp', 'left_knee_joint', 50.0), ('kd', 'right_hip_pitch_joint', 0.5),
    ('default_pose', 'left_hip_pitch_joint', -0.1), ('action_scale', 'waist_yaw_joint', 0.25),
    ('effort_limits', 'left_elbow_joint', 30.0),
    ('action_scale', 'left_elbow_joint', 0.25)])   # a held arm the robot would drive
def test_another_gain_or_default_pose_is_refused_naming_joint_and_values(
        g1_contract, table, joint, value):
    robot = get_robot('g1')
    i = robot.joint_names.index(joint)
    values = np.array(getattr(g1_contract.robot, table))
    mine = values[i]
    values[i] = value
    with pytest.raises(RobotMismatchError) as info:
        check_contract_robot(g1_contract, robot.joint_names, path='p.onnx', **{table: values})
    assert info.value.field == f'robot.{table}'
    assert f'{table}: {joint} policy {mine} vs robot {value}' in str(info.value)
    assert str(info.value).startswith('p.onnx: robot.')


def test_another_joint_order_and_pd_period_are_refused(g1_contract):
    robot = get_robot('g1')
    names = list(robot.joint_names)
    names[0], names[6] = names[6], names[0]
    with pytest.raises(RobotMismatchError) as info:
        check_contract_robot(g1_contract, names, robot.control_dt, pd_dt=0.002)
    assert info.value.field == 'robot.joint_names, robot.pd_dt'
    assert "#0 policy 'left_hip_pitch_joint' vs robot 'right_hip_pitch_joint'" in str(info.value)
    assert 'PD period: policy trained at 0.005 s, caller runs at 0.002 s' in str(info.value)


def test_a_torque_robot_refuses_a_pd_policy_and_back(g1_contract, tmp_path):
    with pytest.raises(RobotMismatchError, match="action kind: policy 'pd_position' vs robot "
                       "'torque'"):
        check_contract_robot(g1_contract, None, action_kind='torque')
    humanoid = PolicyContract.from_json(_contract('Humanoid-v4', 376, 17).to_json())
    assert humanoid.robot.action_kind == 'torque' and humanoid.robot.kp is None
    check_description(humanoid, get_robot('humanoid'))
    with pytest.raises(RobotMismatchError, match='kp: policy records none'):
        check_contract_robot(humanoid, None, kp=np.ones(17))


def test_a_pd_contract_missing_its_gains_is_malformed(g1_contract):
    broken = dataclasses.replace(g1_contract.robot, kd=None)
    with pytest.raises(ContractError, match='robot.kd: missing'):
        dataclasses.replace(g1_contract, robot=broken).validate()
    short = dataclasses.replace(g1_contract.robot, kp=(1.0,) * 28)
    with pytest.raises(ContractError, match='robot.kp: has 28 entries, but act_dim is 29'):
        dataclasses.replace(g1_contract, robot=short).validate()


def test_a_contract_without_the_new_fields_reads_as_torque(g1_contract):
    doc = _contract('Humanoid-v4', 376, 17).to_dict()
    for key in ('action_kind', 'kp', 'kd', 'action_scale', 'default_pose', 'effort_limits',
                'pd_dt'):
        doc['robot'].pop(key)
    doc.pop('task')
    old = PolicyContract.from_dict(doc)
    assert old.robot.action_kind == 'torque' and old.task is None


def test_inspect_marks_the_held_joints(g1_contract):
    from symphony_ros.cli.inspect_cmd import _joint_table
    lines = _joint_table(g1_contract.robot)
    held = [ln for ln in lines if ln.endswith('  held')]
    assert len(held) == 14 and all('_knee_' not in ln for ln in held)
    assert any('left_elbow_joint' in ln for ln in held)
    assert lines[-1].strip() == ('held: 14 joints keep their default pose under PD (action '
                                 'scale 0); the policy drives the other 15')

"""urdf/humanoid.urdf: current, parseable, same joints, limits and kinematics as the MJCF."""

import os
import xml.etree.ElementTree as ET

import mujoco
import numpy as np
import pytest
import yaml
import yourdfpy
from urdf_checks import assert_fk_matches_mujoco

from symphony_ros import paths
from symphony_ros.robot import get_robot
from symphony_ros.robot.urdf import IMU_INTERFACES, LIGHT_MASS, generate_urdf, main

URDF = paths.urdf_path()


@pytest.fixture(scope='module')
def robot():
    return get_robot()


@pytest.fixture(scope='module')
def model(robot):
    return mujoco.MjModel.from_xml_path(robot.mjcf_path)


@pytest.fixture(scope='module')
def urdf():
    return yourdfpy.URDF.load(URDF, load_meshes=False, build_collision_scene_graph=False)


def _same(a: ET.Element, b: ET.Element, where: str = '') -> None:
    where = f'{where}/{a.tag}[{a.get("name", "")}]'
    assert (a.tag, sorted(a.attrib)) == (b.tag, sorted(b.attrib)), where
    for key in a.attrib:
        _same_text(a.get(key), b.get(key), f'{where}@{key}')
    _same_text(a.text or '', b.text or '', where)
    assert len(a) == len(b), where
    for x, y in zip(a, b):
        _same(x, y, where)


def _same_text(x: str, y: str, where: str) -> None:
    try:  # numbers may differ in the last digits across MuJoCo versions
        np.testing.assert_allclose(np.array(x.split(), float), np.array(y.split(), float),
                                   rtol=1e-6, atol=1e-9, err_msg=where)
    except ValueError:
        assert x.strip() == y.strip(), where


def test_committed_urdf_is_what_the_generator_writes(tmp_path):
    out = tmp_path / 'humanoid.urdf'
    assert main(['-o', str(out)]) == 0
    assert out.read_text() == generate_urdf()
    committed = ET.parse(URDF).getroot()
    _same(committed, ET.fromstring(out.read_text()))
    assert 'do not edit, regenerate' in open(URDF).read(), 'regenerate: python -m ' \
        'symphony_ros.robot.urdf -o urdf/humanoid.urdf'


def test_joints_are_the_mjcf_actuated_joints_and_the_policy_joints(robot, model, urdf,
                                                                   policy_contract):
    mjcf = [model.joint(int(model.actuator_trnid[i, 0])).name for i in range(model.nu)]
    assert mjcf == list(robot.joint_names)
    assert sorted(urdf.actuated_joint_names) == sorted(mjcf)
    assert list(policy_contract.robot.joint_names) == mjcf


def test_limits_equal_the_robot_description(robot, urdf):
    for i, name in enumerate(robot.joint_names):
        joint = urdf.joint_map[name]
        assert joint.type == 'revolute'
        assert joint.limit.lower == pytest.approx(robot.position_limits[i, 0])
        assert joint.limit.upper == pytest.approx(robot.position_limits[i, 1])
        assert joint.limit.effort == pytest.approx(robot.effort_limits[i])
        assert joint.limit.velocity == pytest.approx(robot.velocity_limits[i])
    assert urdf.joint_map['right_hip_y'].limit.effort == 120.0  # gear 300 x ctrl 0.4


def test_forward_kinematics_match_mujoco(robot, model, urdf):
    """Every body frame, at random joint angles, where MuJoCo puts it (base = torso)."""
    assert_fk_matches_mujoco(urdf, model, robot, poses=3)


def test_inertias_match_mujoco(model, urdf):
    links = {link.name: link for link in urdf.robot.links}
    for b in range(1, model.nbody):
        inertial = links[model.body(b).name].inertial
        assert inertial.mass == pytest.approx(model.body_mass[b])
        # Principal moments survive the rotation of the inertia frame.
        assert np.sort(np.linalg.eigvalsh(inertial.inertia)) == pytest.approx(
            np.sort(model.body_inertia[b]))
        np.testing.assert_allclose(inertial.origin[:3, 3], model.body_ipos[b], atol=1e-9)
    light = [link for link in urdf.robot.links if link.name.endswith('_link')
             and link.name != 'base_link']
    assert light and all(link.inertial.mass == LIGHT_MASS for link in light)
    total = sum(link.inertial.mass for link in urdf.robot.links if link.inertial)
    assert total == pytest.approx(model.body_mass.sum() + LIGHT_MASS * len(light))


def test_ros2_control_block(robot):
    root = ET.parse(URDF).getroot()
    block, = root.findall('ros2_control')
    assert block.find('hardware/plugin').text == 'gz_ros2_control/GazeboSimSystem'
    joints = block.findall('joint')
    assert [j.get('name') for j in joints] == list(robot.joint_names)
    for joint, effort in zip(joints, robot.effort_limits):
        command, = joint.findall('command_interface')
        assert command.get('name') == 'effort'
        params = {p.get('name'): float(p.text) for p in command.findall('param')}
        assert params == {'min': -effort, 'max': effort}
        assert [s.get('name') for s in joint.findall('state_interface')] == [
            'position', 'velocity', 'effort']
    sensor, = block.findall('sensor')
    assert [s.get('name') for s in sensor.findall('state_interface')] == IMU_INTERFACES
    plugin = root.find("gazebo/plugin[@name='gz_ros2_control::GazeboSimROS2ControlPlugin']")
    assert plugin.get('filename') == 'gz_ros2_control-system'
    assert plugin.find('parameters').text == '$(find symphony_ros)/config/controllers.yaml'
    gz_sensor = root.find("gazebo[@reference='base_link']/sensor")
    assert (gz_sensor.get('name'), gz_sensor.get('type')) == (sensor.get('name'), 'imu')


def test_controllers_yaml_matches_the_robot(robot):
    with open(paths.config_path('controllers.yaml')) as f:
        cfg = yaml.safe_load(f)
    manager = cfg['controller_manager']['ros__parameters']
    assert {k: v['type'] for k, v in manager.items() if isinstance(v, dict)} == {
        'joint_state_broadcaster': 'joint_state_broadcaster/JointStateBroadcaster',
        'imu_sensor_broadcaster': 'imu_sensor_broadcaster/IMUSensorBroadcaster',
        'effort_controller': 'forward_command_controller/ForwardCommandController'}
    assert manager['update_rate'] * robot.control_dt >= 1  # faster than the policy
    effort = cfg['effort_controller']['ros__parameters']
    assert effort == {'joints': list(robot.joint_names), 'interface_name': 'effort'}
    imu = cfg['imu_sensor_broadcaster']['ros__parameters']
    urdf_sensor = ET.parse(URDF).getroot().find('ros2_control/sensor').get('name')
    assert imu['sensor_name'] == urdf_sensor
    assert imu['frame_id'] in {link.get('name') for link in ET.parse(URDF).getroot().iter(
        'link')}
    assert os.path.isfile(paths.config_path('gazebo_world.sdf'))

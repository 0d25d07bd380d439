"""Robot files: shipped robots agree with their MJCF, bad files are refused by file and field."""

import os

import mujoco
import numpy as np
import pytest

from symphony_ros.core.envs import make_env
from symphony_ros.robot import get_robot
from symphony_ros.robot.description import SOFT_LIMIT_MARGIN, shipped_robots
from symphony_ros.robot.model import build_model, home_qpos
from symphony_ros.robot.mujoco_state import joint_addresses
from symphony_ros.robot.pd import PDLaw, action_reach_note
from symphony_ros.robot.robot_file import RobotFileError, load_robot_file

from user_robot import MJCF, robot_doc, write_robot


def test_g1_and_humanoid_ship():
    assert {'g1', 'humanoid'} <= set(shipped_robots())


@pytest.mark.parametrize('name', shipped_robots())
def test_every_shipped_robot_agrees_with_its_mjcf(name):
    robot = get_robot(name)
    assert get_robot(robot.source) is robot  # by name and by path: one description
    model = build_model(robot)
    assert model.opt.timestep == pytest.approx(robot.physics_dt, abs=1e-15)
    assert model.nu == robot.n_joints
    qpos, dof = joint_addresses(model, robot.joint_names)
    for i, joint in enumerate(robot.joint_names):
        j = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, joint)
        assert int(model.actuator_trnid[i, 0]) == j  # actuator i drives joint i
        assert model.actuator_gear[i, 0] == robot.gear[i]
        if robot.ctrl_range[i, 0] < robot.ctrl_range[i, 1]:
            np.testing.assert_array_equal(model.actuator_ctrlrange[i], robot.servo_range()[i])
        else:   # a held joint: its target is the default pose, its servo unlimited
            assert not model.actuator_ctrllimited[i] and robot.action_scale[i] == 0
        if robot.action_kind == 'pd_position':  # the servo is the robot file's PD
            assert model.actuator_gainprm[i, 0] == robot.kp[i]
            np.testing.assert_array_equal(model.actuator_biasprm[i, :3],
                                          [0.0, -robot.kp[i], -robot.kd[i]])
            np.testing.assert_array_equal(model.actuator_forcerange[i],
                                          [-robot.effort_limits[i], robot.effort_limits[i]])
        if model.jnt_limited[j]:
            np.testing.assert_array_equal(model.jnt_range[j], robot.position_limits[i])
        if robot.armature is not None:
            assert model.dof_armature[dof[i]] == robot.armature[i]
    assert np.all(robot.effort_limits > 0) and np.all(robot.velocity_limits > 0)
    assert np.all(robot.position_limits[:, 0] < robot.position_limits[:, 1])
    if robot.action_kind == 'pd_position':
        assert np.all(robot.kp > 0) and np.all(robot.kd > 0) and np.all(robot.action_scale >= 0)
        d = robot.default_pose()
        assert np.all((robot.position_limits[:, 0] <= d) & (d <= robot.position_limits[:, 1]))


def test_humanoid_is_the_gymnasium_model_unchanged():
    robot = get_robot('humanoid')
    model = mujoco.MjModel.from_xml_path(robot.mjcf_path)
    assert robot.mjcf_path.endswith(os.path.join('gymnasium', 'envs', 'mujoco', 'assets',
                                                 'humanoid.xml'))
    assert robot.action_kind == 'torque' and robot.kp is None
    assert robot.joint_names == tuple(model.joint(int(model.actuator_trnid[i, 0])).name
                                      for i in range(model.nu))
    np.testing.assert_array_equal(robot.gear, model.actuator_gear[:, 0])
    assert robot.control_dt == model.opt.timestep * 5
    np.testing.assert_array_equal(robot.velocity_limits, 30.0)


def test_g1_motor_facts():
    robot = get_robot('g1')
    effort = dict(zip(robot.joint_names, robot.effort_limits))
    assert robot.n_joints == 29 and robot.control_dt == pytest.approx(0.02)
    assert robot.physics_dt == pytest.approx(0.005)
    assert effort['left_knee_joint'] == 139.0 and effort['left_hip_pitch_joint'] == 88.0
    assert effort['left_elbow_joint'] == 25.0 and effort['left_wrist_yaw_joint'] == 5.0


def _pinned_run(robot, model, data, seconds, q0):
    law = PDLaw(robot)
    qa, da = joint_addresses(model, robot.joint_names)
    target = law.target(np.zeros(robot.n_joints))
    data.ctrl[:] = target
    errors = []
    for _ in range(int(round(seconds / robot.physics_dt))):
        data.qpos[:7], data.qvel[:6] = q0[:7], 0.0  # the gantry holds the base
        expected = law.torque(target, data.qpos[qa], data.qvel[da])
        mujoco.mj_step(model, data)
        # MuJoCo's servos computed the pure law of the same state, this physics step.
        np.testing.assert_allclose(data.actuator_force, expected, rtol=1e-9, atol=1e-9)
        errors.append(np.abs(data.qpos[qa] - target))
    return np.array(errors)


def test_the_reach_note_says_when_the_noise_is_correlated_across_steps():
    g1 = get_robot('g1')
    white, pink = action_reach_note(g1, 0.1), action_reach_note(g1, 0.1, noise_color=1.0)
    assert white.endswith('moves them by about 0.14-0.22 rad RMS every control step '
                          '(--act-noise-clip C: std about 1/C)')
    assert pink.endswith('moves them by about 0.14-0.22 rad RMS with a 1/f^1 spectrum '
                         '(--act-noise-color): neighbouring control steps alike '
                         '(--act-noise-clip C: std about 1/C)')


def test_g1_in_a_gantry_reaches_and_holds_its_default_pose():
    robot = get_robot('g1')
    model = build_model(robot)
    data = mujoco.MjData(model)
    q0 = home_qpos(model, robot)
    q0[2] = 2.0  # feet well above the floor
    data.qpos[:] = q0
    data.qpos[joint_addresses(model, robot.joint_names)[0]] = 0.0  # start from the zero pose
    errors = _pinned_run(robot, model, data, 2.0, q0)
    steps_1s = int(round(1.0 / robot.physics_dt))
    assert errors[0].max() > 0.3  # it had somewhere to go
    worst = errors[steps_1s:].max(axis=0)
    assert worst.max() < 0.05, robot.joint_names[int(worst.argmax())]


def test_g1_released_on_the_floor_under_pd_stays_finite_with_sane_contacts():
    robot = get_robot('g1')
    model = build_model(robot)
    data = mujoco.MjData(model)
    data.qpos[:] = home_qpos(model, robot)
    mujoco.mj_forward(model, data)
    law = PDLaw(robot)
    qa, da = joint_addresses(model, robot.joint_names)
    data.ctrl[:] = law.target(np.zeros(robot.n_joints))
    floor = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, 'floor')
    for _ in range(int(round(10.0 / robot.physics_dt))):
        expected = law.torque(data.ctrl, data.qpos[qa], data.qvel[da])
        mujoco.mj_step(model, data)
        np.testing.assert_allclose(data.actuator_force, expected, rtol=1e-9, atol=1e-9)
        assert np.isfinite(data.qpos).all() and np.isfinite(data.qvel).all()
        assert np.all(np.abs(data.actuator_force) <= robot.effort_limits)
        for c in data.contact[:data.ncon]:
            assert floor in (c.geom1, c.geom2)  # floor-only collisions
            assert c.dist > -0.02  # no deep penetration
    assert data.ncon > 0 and data.qpos[2] > 0.0  # resting on the floor, not through it
    assert np.abs(data.qvel).max() < 50.0


def test_a_user_robot_file_loads(tmp_path):
    robot = get_robot(write_robot(str(tmp_path)))
    assert robot.name == 'biped3' and robot.joint_names == ('left_hip', 'left_knee',
                                                            'right_hip', 'right_knee')
    np.testing.assert_array_equal(robot.default_pose(), [-0.2, 0.4, -0.2, 0.4])
    np.testing.assert_array_equal(robot.position_limits[1], [0.0, 2.0])  # from the MJCF


def test_a_held_joint_keeps_its_default_target_whatever_the_action(tmp_path):
    doc = robot_doc(**_joints(*ALL[:3], ('right_knee', {'held': True, 'default': 0.4})))
    robot = get_robot(write_robot(str(tmp_path), doc))
    assert robot.action_scale[3] == 0 and (robot.action_scale[:3] > 0).all()
    law = PDLaw(robot)
    for a in (-1.0, 0.3, 1.0):
        target = law.target(np.full(4, a))
        assert target[3] == 0.4 and target[0] != -0.2
    env = make_env(f'velocity:{robot.source}')
    env.reset(seed=0)
    env.step(np.ones(4))
    assert env.unwrapped.data.ctrl[3] == 0.4   # the servo holds the default pose


def test_only_a_pd_robot_holds_joints(tmp_path):
    names = list(get_robot().joint_names)
    doc = robot_doc(mjcf=get_robot().mjcf_path, action={'kind': 'torque'},
                    timing={'physics_dt': 0.003, 'frame_skip': 5}, base_body='torso',
                    feet=[], motors={}, joints=names[:-1] + [{'name': names[-1], 'held': True}],
                    joint_defaults={'velocity_limit': 30.0})
    with pytest.raises(RobotFileError, match=r'joints\[16\]\.held: only pd_position robots'):
        load_robot_file(write_robot(str(tmp_path), doc))


def _joints(*entries):
    return {'joints': [{'name': n, 'motor': 'm', **extra} for n, extra in entries]}


ALL = [('left_hip', {}), ('left_knee', {}), ('right_hip', {}), ('right_knee', {})]
BAD = [
    ('unknown joint', _joints(*ALL[:3], ('right_ankle', {})), 'joints[3].name',
     "'right_ankle' is not a hinge or slide joint"),
    ('duplicate', _joints(*ALL, ('left_knee', {})), 'joints[4].name',
     "duplicate joint 'left_knee'"),
    ('missing joint', _joints(*ALL[:3]), 'joints', 'missing joint(s) of the MJCF: right_knee'),
    ('negative gain', _joints(*ALL[:3], ('right_knee', {'kd': -1.0})), 'joints[3].kd',
     'negative value -1.0'),
    ('inverted limits', _joints(*ALL[:3], ('right_knee', {'position_limits': [1.0, -1.0]})),
     'joints[3].position_limits', 'inverted limits'),
    ('default outside', _joints(*ALL[:3], ('right_knee', {'default': -0.5})),
     'joints[3].default', 'outside its position limits'),
    ('missing mjcf', {'mjcf': 'nowhere.xml'}, 'mjcf', 'does not exist'),
    ('unknown field', {'base_bdy': 'base'}, 'base_bdy', 'unknown field'),
    ('bad kind', {'action': {'kind': 'velocity'}}, 'action.kind', 'torque or pd_position'),
    ('unknown package', {'mjcf': 'package://no_such_pkg_xyz/robot.xml'}, 'mjcf',
     "package 'no_such_pkg_xyz' is not installed"),
    ('no base', {'base_body': 'left_leg'}, 'base_body', 'has no free joint'),
    ('held not a bool', _joints(*ALL[:3], ('right_knee', {'held': 'yes'})), 'joints[3].held',
     "expected bool, got 'yes'"),
]


@pytest.mark.parametrize('what,changes,field,message', BAD, ids=[b[0] for b in BAD])
def test_a_bad_robot_file_names_file_and_field(tmp_path, what, changes, field, message):
    path = write_robot(str(tmp_path), robot_doc(**changes))
    with pytest.raises(RobotFileError) as err:
        load_robot_file(path)
    assert err.value.field == field
    assert str(err.value).startswith(f'{path}: {field}: ')
    assert message in str(err.value)
    assert '\n' not in str(err.value)


def test_a_key_given_twice_is_refused_naming_it_and_both_lines(tmp_path):
    path = write_robot(str(tmp_path))
    with open(path) as f:
        text = f.read()
    first = text[:text.index('name:')].count('\n') + 1
    with open(path, 'a') as f:
        f.write('name: pasted_below\n')   # PyYAML alone would keep this one silently
    with pytest.raises(RobotFileError) as err:
        load_robot_file(path)
    assert str(err.value).startswith(f'{path}: (file): not valid YAML: ')
    assert f"key 'name' is given twice (first on line {first})" in str(err.value)
    assert '\n' not in str(err.value)


def test_a_missing_mesh_is_named(tmp_path):
    mjcf = MJCF.replace('<worldbody>',
                        '<asset><mesh name="shell" file="shell.stl"/></asset><worldbody>')
    path = write_robot(str(tmp_path), mjcf=mjcf)
    with pytest.raises(RobotFileError) as err:
        load_robot_file(path)
    assert err.value.field == 'mjcf' and "mesh 'shell'" in str(err.value)
    assert os.path.join(str(tmp_path), 'shell.stl') in str(err.value)


def test_torque_robot_joints_must_follow_the_actuator_order(tmp_path):
    doc = robot_doc(mjcf=get_robot().mjcf_path, action={'kind': 'torque'},
                    timing={'physics_dt': 0.003, 'frame_skip': 5}, base_body='torso',
                    feet=[], motors={}, joints=list(get_robot().joint_names[::-1]),
                    joint_defaults={'velocity_limit': 30.0})
    with pytest.raises(RobotFileError, match='joints: expected the MJCF actuator order'):
        load_robot_file(write_robot(str(tmp_path), doc))


def test_unknown_robot_name_lists_the_shipped_ones():
    with pytest.raises(ValueError, match="unknown robot 'h7'; expected one of: g1, humanoid"):
        get_robot('h7')


def test_g1_servos_clamp_targets_where_the_hardware_watchdog_does():
    """A policy cannot train on targets past a joint's stop that the robot would not get."""
    from symphony_ros.safety.config import WatchdogConfig
    robot = get_robot('g1')
    assert WatchdogConfig().soft_limit_margin == SOFT_LIMIT_MARGIN
    soft = robot.position_limits + [SOFT_LIMIT_MARGIN, -SOFT_LIMIT_MARGIN]
    env = make_env('velocity:g1')
    env.reset(seed=0)
    data, law = env.unwrapped.data, PDLaw(robot)
    q, qd = (env.unwrapped.robot_state().joint_positions,
             env.unwrapped.robot_state().joint_velocities)
    wanted = law.target(np.ones(robot.n_joints))   # every target at the top of its reach
    data.ctrl[:] = wanted
    mujoco.mj_forward(env.unwrapped.model, data)
    got = np.minimum(wanted, np.maximum(soft[:, 1], robot.default_pose()))
    np.testing.assert_allclose(data.actuator_force, law.torque(got, q, qd), atol=1e-9)
    roll = robot.joint_names.index('left_ankle_roll_joint')
    assert wanted[roll] > 1.0 and got[roll] == pytest.approx(0.2118, abs=1e-4)
    assert robot.ctrl_range[roll, 1] > 1.0   # the contract's reach itself is unchanged


def test_a_variant_extends_a_shipped_robot_with_what_differs(tmp_path):
    # A reach variant: every 7520-22 motor's action scale x1.5, the arms' targets held as
    # the base holds them, everything else (MJCF, joint order, tasks, ranges) the G1's.
    g1 = get_robot('g1')
    (tmp_path / 'g1_reach.yaml').write_text(
        'extends: g1\nname: g1_reach\n'
        "motors:\n  '7520_22': {action_scale: 2.0}\n"
        'tasks: {velocity: {lin_vel_x: [0.0, 1.0]}}\n')
    reach = load_robot_file(str(tmp_path / 'g1_reach.yaml'))
    assert reach.name == 'g1_reach' and reach.mjcf_path == g1.mjcf_path
    assert reach.joint_names == g1.joint_names
    changed = np.flatnonzero(reach.action_scale != g1.action_scale)
    assert changed.size and np.all(reach.action_scale[changed] == 2.0)
    assert np.array_equal(reach.kp, g1.kp) and np.array_equal(reach.kd, g1.kd)
    # Mappings merge at every depth: the one command range changed, the gait clock kept.
    assert reach.tasks['velocity']['lin_vel_x'] == [0.0, 1.0]
    assert reach.tasks['velocity']['gait_period'] == g1.tasks['velocity']['gait_period']
    assert reach.randomization == g1.randomization


def test_a_variant_of_a_file_beside_it_keeps_that_file_s_mjcf(tmp_path):
    # The base's relative MJCF path is its own, not the variant's (here one folder down).
    base = write_robot(tmp_path / 'base')
    (tmp_path / 'soft.yaml').write_text(f'extends: base/{os.path.basename(base)}\n'
                                        'name: soft\nmotors: {m: {kp: 10.0}}\n')
    soft, stiff = load_robot_file(str(tmp_path / 'soft.yaml')), load_robot_file(base)
    assert soft.mjcf_path == stiff.mjcf_path and soft.name == 'soft'
    assert soft.joint_names == stiff.joint_names
    assert np.all(soft.kp == 10.0) and np.all(stiff.kp == 30.0)
    assert np.array_equal(soft.kd, stiff.kd)        # the motor's other fields kept
    # A list replaces the base's whole: a variant that lists the joints sets their order.
    order = ['right_hip', 'right_knee', 'left_hip', 'left_knee']
    (tmp_path / 'mirrored.yaml').write_text(
        'extends: soft.yaml\nname: mirrored\njoints:\n'
        + ''.join(f'  - {{name: {n}, motor: m}}\n' for n in order))
    mirrored = load_robot_file(str(tmp_path / 'mirrored.yaml'))
    assert list(mirrored.joint_names) == order and np.all(mirrored.kp == 10.0)
    assert np.all(mirrored.default_joint_positions == 0.0)    # the base's defaults went too


@pytest.mark.parametrize('text, field, message', [
    ('extends: g1\nmotors: {}\n', 'name', "a robot that extends 'g1' names itself"),
    ('extends: g9\nname: x\n', 'extends', "unknown robot 'g9'"),
    ('extends: other.yaml\nname: x\n', 'extends', 'other.yaml does not exist'),
    ('extends: loop.yaml\nname: x\n', 'extends', 'extends this file again (a loop)'),
    ('extends: [g1]\nname: x\n', 'extends', 'expected the name of a shipped robot'),
])
def test_a_bad_variant_names_file_and_field(tmp_path, text, field, message):
    path = tmp_path / 'loop.yaml'
    path.write_text(text)
    with pytest.raises(RobotFileError) as err:
        load_robot_file(str(path))
    assert err.value.field == field and message in str(err.value)
    assert str(path) in str(err.value)

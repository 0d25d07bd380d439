"""``symphony doctor`` as a user runs it: real DDS round trip, the policy against the robot."""

import pathlib
import subprocess
import sys

import pytest

from symphony_ros.robot.description import get_robot
from symphony_ros.robot.obs_specs import get_obs_spec

from shipped_models import G1_FIRST

pytestmark = pytest.mark.ros
ROOT = pathlib.Path(__file__).resolve().parents[2]


def doctor(env, *args):
    done = subprocess.run([sys.executable, '-m', 'symphony_ros.cli.main', 'doctor', *args],
                          env=env, capture_output=True, text=True, timeout=300)
    lines = {line[6:21].strip(): line[:4].strip() for line in done.stdout.splitlines()
             if line[:4].strip() in ('OK', 'WARN', 'FAIL')}
    return done, lines


def test_doctor_passes_here_and_checks_everything(ros_env):
    done, lines = doctor(ros_env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert list(lines) == ['rclpy', 'DDS scope', 'DDS round trip', 'policy', 'inputs',
                           'stress gate', 'compute', 'SCHED_FIFO', '/dev/shm', 'rendering'], \
        done.stdout
    # The tests isolate DDS on localhost, and the shipped policy drives the humanoid.
    assert [lines[k] for k in ('rclpy', 'DDS scope', 'DDS round trip', 'policy')] == ['OK'] * 4
    dims = f'({get_obs_spec("humanoid_v4_full").dim}) -> {get_robot("humanoid").n_joints} joints'
    assert f'humanoid_v4_full {dims} of humanoid' in done.stdout
    # The shipped policy's contract carries its failed stress verdict; doctor assumes
    # robot:=real.
    assert lines['stress gate'] == 'WARN' and 'FAILED stress verdict' in done.stdout
    # It observes the base pose: a robot needs a state estimator on odom.
    assert lines['inputs'] == 'WARN' and '-> run a state estimator publishing nav_msgs/Odometry ' \
        'on /odom' in done.stdout
    assert 'estimator:=legs' not in done.stdout     # the humanoid has no feet to stand on


def test_the_inputs_line_names_the_topics_a_policy_reads_and_when_odometry_is_missing(
        tmp_path):
    from symphony_ros import paths
    from symphony_ros.cli.doctor_cmd import check_inputs, OK, WARN
    sys.path.insert(0, str(ROOT / 'test' / 'deploy'))
    from g1_policy import export_g1_policy
    g1 = check_inputs(paths.shipped_policy_path('g1'), 'g1', 'real')
    assert g1.level == OK and g1.detail == (
        'reads /joint_states (sensor_msgs/JointState), /imu/data (sensor_msgs/Imu), /cmd_vel '
        '(geometry_msgs/Twist) (robot:=real)'), g1
    odom = export_g1_policy(str(tmp_path), obs_spec='velocity_gait_odom')
    real, sim = check_inputs(odom, 'g1', 'real'), check_inputs(odom, 'g1', 'sim')
    assert real.level == WARN and '/odom (nav_msgs/Odometry)' in real.detail, real
    assert 'the policy (velocity_gait_odom) needs odometry' in real.detail
    # The G1 has feet: its own leg odometry is one launch argument away.
    assert real.hint.startswith('deploy with estimator:=legs (leg odometry from the joints '
                                "and the IMU, for g1's feet), run a state estimator"), real
    assert sim.level == OK and sim.detail.endswith('/odom (nav_msgs/Odometry), /cmd_vel '
                                                   '(geometry_msgs/Twist) (robot:=sim)'), sim


def test_the_policy_line_says_how_many_frames_a_policy_takes_and_where_it_came_from():
    from symphony_ros.cli.doctor_cmd import OK, check_policy
    frame = get_obs_spec('velocity_gait_scaled', get_robot('g1')).dim
    teacher_path = G1_FIRST
    student = check_policy(teacher_path.replace('.onnx', '_student.onnx'), 'g1')
    assert student.level == OK, student
    # A distilled student has no test return of its own: its teacher is named instead.
    assert f'(4 x {frame}) -> 29 joints of g1' in student.detail, student.detail
    assert student.detail.endswith('distilled from g1_velocity_symphony.onnx'), student.detail
    teacher = check_policy(teacher_path, 'g1')
    assert f'({frame}) -> 29 joints' in teacher.detail, teacher.detail
    assert 'test return 3397.5' in teacher.detail and 'distilled' not in teacher.detail


def test_a_policy_replaced_at_its_path_is_checked_anew(tmp_path):
    import argparse
    import shutil
    from symphony_ros import paths
    from symphony_ros.cli.doctor_cmd import FAIL, OK, check_policy, checks
    path = tmp_path / 'p.onnx'
    shutil.copy(paths.shipped_policy_path('g1'), path)
    assert check_policy(str(path), 'g1').level == OK
    args = argparse.Namespace(policy=str(path), robot='g1', target='sim')
    policy_line, inputs_line = checks(args)[3:5]
    assert policy_line().level == OK
    path.write_bytes(b'not onnx')           # re-exported broken, at the same path
    assert check_policy(str(path), 'g1').level == FAIL
    # Within one doctor run the checks share the load they began with.
    assert inputs_line().level == OK
    assert checks(args)[3]().level == FAIL


def test_doctor_fails_on_a_broken_policy_and_names_it(ros_env, tmp_path):
    bad = tmp_path / 'truncated.onnx'
    bad.write_bytes(b'\x08\x07garbage')
    done, lines = doctor(ros_env, '--policy', str(bad))
    assert done.returncode == 1, done.stdout
    assert lines['policy'] == 'FAIL' and str(bad) in done.stdout
    assert '-> symphony export RUN_DIR -o FILE.onnx' in done.stdout


def test_doctor_checks_a_policy_against_the_robot_its_contract_names(ros_env):
    from symphony_ros import paths
    g1 = paths.shipped_policy_path('g1')
    done, lines = doctor(ros_env, '--policy', g1)
    assert lines['policy'] == 'OK', done.stdout
    assert 'joints of g1' in done.stdout
    # A robot named on the command line is the one checked against.
    done, lines = doctor(ros_env, '--policy', g1, '--robot', 'humanoid')
    assert lines['policy'] == 'FAIL' and 'control period' in done.stdout, done.stdout

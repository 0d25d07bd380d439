"""A user's robot with no code change: robot file + MJCF -> train -> export -> inspect -> run."""

import csv
import os

import numpy as np
import pytest

from symphony_ros.cli.doctor_cmd import OK, _policy_robot, check_policy
from symphony_ros.cli.main import main
from symphony_ros.core.envs import make_env
from symphony_ros.policy.errors import RobotMismatchError
from symphony_ros.policy.runtime import OnnxPolicy
from symphony_ros.robot import get_robot

from user_robot import JOINTS, robot_doc, write_robot

TINY = ['--explore-steps', '120', '--eval-every', '120', '--eval-episodes', '1',
        '--checkpoint-every', '120', '--hidden-dim', '32', '--critic-heads', '8',
        '--batch-size', '32', '--capacity', '1000', '--device', 'cpu', '--no-progress']


def test_a_users_robot_trains_exports_and_runs_its_policy(tmp_path, capsys):
    robot_file = write_robot(str(tmp_path / 'my_robot'))
    run_dir, onnx_path = str(tmp_path / 'run'), str(tmp_path / 'biped3.onnx')
    train = ['train', '--robot', robot_file, '--task', 'velocity', '--run-dir', run_dir] + TINY
    assert main(train + ['--steps', '240']) == 0
    assert main(train + ['--steps', '360', '--resume']) == 0
    with open(os.path.join(run_dir, 'metrics.csv')) as f:
        rows = list(csv.DictReader(f))
    assert [int(r['step']) for r in rows] == [120, 240, 360]
    assert 'reward/track_lin_vel' in rows[0]
    assert main(['export', run_dir, '-o', onnx_path]) == 0
    assert main(['inspect', onnx_path]) == 0
    shown = capsys.readouterr().out
    assert 'action kind      pd_position' in shown and 'PD period        0.005 s' in shown
    assert all(j in shown for j in JOINTS)

    robot = get_robot(robot_file)
    policy = OnnxPolicy(onnx_path)
    policy.check_description(robot)
    assert policy.joint_names == JOINTS and policy.contract.robot.name == 'biped3'
    # symphony doctor checks it against its own robot file, not the default robot.
    assert _policy_robot(onnx_path) == robot_file
    assert check_policy(onnx_path, robot_file).level == OK
    # A variant of the robot with softer motors is refused by the policy's contract.
    with open(tmp_path / 'soft.yaml', 'w') as f:
        f.write(f'extends: {robot_file}\nname: soft\nmotors: {{m: {{kp: 10.0}}}}\n')
    with pytest.raises(RobotMismatchError, match='kp: left_hip policy 30.0 vs robot 10.0'):
        policy.check_description(get_robot(str(tmp_path / 'soft.yaml')))
    env = make_env(policy.contract.env)
    obs, _ = env.reset(seed=0)
    for _ in range(20):
        obs, reward, terminated, truncated, _ = env.step(policy.act(obs))
        assert np.isfinite(obs).all() and np.isfinite(reward)
        if terminated or truncated:
            obs, _ = env.reset()


def test_a_bad_robot_file_stops_training_with_one_line_and_no_run_folder(tmp_path, capsys):
    robot_file = write_robot(str(tmp_path / 'bad'), robot_doc(
        joints=[{'name': 'left_hip', 'motor': 'm', 'kp': -3.0}]))
    run_dir = str(tmp_path / 'run')
    assert main(['train', '--robot', robot_file, '--run-dir', run_dir] + TINY) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f'symphony train: error: {robot_file}: joints[0].kp: negative value -3.0; '
                   'expected >= 0')
    assert not os.path.exists(run_dir)
    assert main(['train', '--robot', 'h7', '--run-dir', run_dir] + TINY) == 2
    assert "unknown robot 'h7'" in capsys.readouterr().err

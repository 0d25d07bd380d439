"""The training hand on the pelvis (--assist): toward the command, capped, training only."""

import math

import numpy as np
import pytest

from symphony_ros.cli.main import main
from symphony_ros.core.config import TrainConfig
from symphony_ros.core.envs import make_env, make_run_env, wrapper_attr
from symphony_ros.robot.assist import MAX_ACCEL, Assisted
from symphony_ros.robot.velocity_commands import parse_commands

FORWARD = parse_commands('lin_vel_x=0.5,lin_vel_y=0,yaw_rate=0,standing_fraction=0')


def _g1(gain):
    env = Assisted(make_env('velocity:g1', None, commands=FORWARD), gain)
    env.reset(seed=1)
    return env


def test_the_pull_is_toward_the_command_in_the_robots_heading():
    env = _g1(2.0)
    u = env.unwrapped
    # Turn the robot to face world +y, standing still: "forward" is then +y.
    u.data.qpos[env.qpos + 3:env.qpos + 7] = [math.cos(math.pi / 4), 0, 0, math.sin(math.pi / 4)]
    u.data.qvel[:] = 0.0
    force = env.pull()
    assert force == pytest.approx([0.0, env.mass * 2.0 * 0.5], abs=1e-6)
    # Moving at the command already: no pull.
    u.data.qvel[env.dof:env.dof + 2] = [0.0, 0.5]
    assert np.allclose(env.pull(), 0.0, atol=1e-9)


def test_the_pull_is_capped_at_a_third_of_g():
    env = _g1(100.0)
    env.unwrapped.data.qvel[:] = 0.0
    assert np.hypot(*env.pull()) == pytest.approx(MAX_ACCEL * env.mass)
    assert 25.0 < env.mass < 45.0                   # the G1 with its arms: about 35 kg


def test_the_hand_moves_the_robot_and_is_gone_after_the_step():
    travelled = {}
    for gain in (0.0, 2.0):
        env = _g1(gain)
        u = env.unwrapped
        x0 = float(u.data.qpos[0])
        for _ in range(20):
            _, _, _, _, info = env.step(np.zeros(env.action_space.shape))
            assert not u.data.xfrc_applied.any()    # nothing left on for another's step
        travelled[gain] = float(u.data.qpos[0]) - x0
        assert (info['assist_force'] > 0) == (gain > 0)
    assert travelled[2.0] > travelled[0.0] + 0.05


def test_only_a_runs_training_env_is_assisted(tmp_path):
    cfg = TrainConfig(env='velocity:g1', run_dir=str(tmp_path / 'r'), assist=2.0)
    train, test = make_run_env(cfg, randomized=True), make_run_env(cfg, randomized=False)
    try:
        assert wrapper_attr(train, 'gain') == 2.0
        assert wrapper_attr(test, 'gain') is None
    finally:
        train.close()
        test.close()


def test_an_env_without_a_command_is_refused(tmp_path, capsys):
    with pytest.raises(ValueError, match='--assist: .* takes no velocity command'):
        Assisted(make_env('InvertedPendulum-v4'), 1.0)
    assert main(['train', '--env', 'InvertedPendulum-v4', '--assist', '1', '--steps', '10',
                 '--run-dir', str(tmp_path / 'r')]) == 2
    assert '--assist' in capsys.readouterr().err
    assert not (tmp_path / 'r').exists()
    with pytest.raises(ValueError, match='--assist: gain -1.0 must be a finite value >= 0'):
        Assisted(make_env('velocity:g1'), -1.0)

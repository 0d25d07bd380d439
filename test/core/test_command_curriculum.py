"""--commands: the velocity commands a run draws, a curriculum step on --resume.

A run may narrow (or widen) its env's command ranges, to learn forward walking before
turning; the exported contract records what the policy learned, which policy_node clips
cmd_vel to and `symphony stress` draws from.
"""

import json

import numpy as np
import pytest
import torch

from symphony_ros.cli.main import main
from symphony_ros.core.envs import make_env
from symphony_ros.core.run_dir import read_run_config
from symphony_ros.robot.velocity_commands import parse_commands

TINY = ['--hidden-dim', '16', '--critic-heads', '4', '--batch-size', '16', '--capacity', '400',
        '--explore-steps', '40']
FORWARD = 'lin_vel_x=0.2:0.8,lin_vel_y=0,yaw_rate=0,standing_fraction=0'


def _train(run_dir, *flags):
    return main(['train', '--robot', 'g1', '--run-dir', str(run_dir), '--seed', '2',
                 '--eval-every', '1000', '--eval-episodes', '1', '--episode-limit', '30',
                 '--checkpoint-every', '40', '--threads', '1', '--no-progress', *TINY, *flags])


def test_commands_parse_to_task_ranges():
    assert parse_commands(FORWARD) == {'lin_vel_x': (0.2, 0.8), 'lin_vel_y': (0.0, 0.0),
                                       'yaw_rate': (0.0, 0.0), 'standing_fraction': 0.0}
    assert parse_commands(' yaw_rate = -0.5:0.5 ,') == {'yaw_rate': (-0.5, 0.5)}
    assert parse_commands('') == {}


@pytest.mark.parametrize('text, expected', [
    ('yaw=0', "'yaw=0': expected setting=value with a setting of lin_vel_x"),
    ('lin_vel_x', 'expected setting=value'),
    ('lin_vel_x=0.8:0.2', 'inverted range'),
    ('lin_vel_x=fast', 'expected a number or lo:hi'),
    ('lin_vel_x=0:1:2', 'expected a number or lo:hi'),
    ('lin_vel_x=nan', 'expected a number or lo:hi'),
    ('standing_fraction=1.5', 'expected a share of 0..1'),
    ('standing_fraction=0:1', 'expected a share of 0..1'),
    ('turning_fraction=-0.1', 'expected a share of 0..1'),
    ('standing_fraction=0.6,turning_fraction=0.5', 'add up to more than 1'),
])
def test_a_bad_command_setting_is_named(text, expected):
    with pytest.raises(ValueError, match='^--commands ') as err:
        parse_commands(text)
    assert expected in str(err.value)


def test_the_env_draws_only_the_commands_given():
    env = make_env('velocity:g1', commands=parse_commands(FORWARD))
    drawn = []
    for seed in range(40):
        _, info = env.reset(seed=seed)
        drawn.append(info['command'])
    drawn = np.array(drawn)
    assert np.all((drawn[:, 0] >= 0.2) & (drawn[:, 0] <= 0.8)) and np.ptp(drawn[:, 0]) > 0.3
    assert np.all(drawn[:, 1:] == 0.0)
    standing = make_env('velocity:g1', commands={'standing_fraction': 1.0})
    assert all(np.all(standing.reset(seed=s)[1]['command'] == 0.0) for s in range(5))


def test_commands_for_an_env_without_them_exit_2_before_any_file(tmp_path, capsys):
    run = tmp_path / 'run'
    assert main(['train', '--env', 'symphony/Humanoid-v4', '--commands', 'lin_vel_x=0:1',
                 '--run-dir', str(run), '--no-progress']) == 2
    assert "--commands: env 'symphony/Humanoid-v4' takes no velocity command" in \
        capsys.readouterr().err
    assert not run.exists()
    assert _train(run, '--commands', 'lin_vel_x=1:0') == 2
    assert 'inverted range' in capsys.readouterr().err and not run.exists()


def test_new_commands_on_resume_are_a_recorded_step_in_the_contract(tmp_path, capsys):
    torch.set_num_threads(1)
    run = tmp_path / 'run'
    assert _train(run, '--steps', '80', '--commands', FORWARD) == 0
    assert ('commands drawn: lin_vel_x 0.2..0.8, lin_vel_y 0..0, yaw_rate 0..0, 0% of them '
            'zero') in capsys.readouterr().err
    wider = 'lin_vel_x=-0.3:0.8,lin_vel_y=-0.3:0.3,yaw_rate=-0.8:0.8'
    assert _train(run, '--resume', '--steps', '120', '--commands', wider) == 0
    err = capsys.readouterr().err
    assert f'commands {FORWARD} -> {wider}' in err and 'best test return starts over' in err
    tc = read_run_config(str(run))['train_config']
    [entry] = tc['curriculum']
    assert entry['commands'] == [FORWARD, wider] and tc['commands'] == wider
    # The same ranges in another order or spelling are no change.
    assert _train(run, '--resume', '--steps', '130', '--commands',
                  'yaw_rate=-0.8:0.8, lin_vel_y=-0.3:0.3, lin_vel_x=-0.30:0.8') == 0
    assert len(read_run_config(str(run))['train_config']['curriculum']) == 1

    policy = str(tmp_path / 'g1.onnx')
    assert main(['export', str(run), '-o', policy, '--samples', '20']) == 0
    capsys.readouterr()
    assert main(['inspect', policy, '--json']) == 0
    task = json.loads(capsys.readouterr().out)['task']
    assert task['command_ranges'] == {'lin_vel_x': [-0.3, 0.8], 'lin_vel_y': [-0.3, 0.3],
                                      'yaw_rate': [-0.8, 0.8]}


def test_a_forward_policy_is_exported_and_stressed_on_its_own_commands(tmp_path, capsys):
    torch.set_num_threads(1)
    run = tmp_path / 'run'
    assert _train(run, '--steps', '60', '--commands', FORWARD) == 0
    policy = str(tmp_path / 'g1.onnx')
    assert main(['export', str(run), '-o', policy, '--samples', '20']) == 0
    capsys.readouterr()
    assert main(['inspect', policy, '--json']) == 0
    ranges = json.loads(capsys.readouterr().out)['task']['command_ranges']
    # What the run drew; what it did not set (nothing here) stays the robot file's.
    assert ranges == {'lin_vel_x': [0.2, 0.8], 'lin_vel_y': [0.0, 0.0], 'yaw_rate': [0.0, 0.0]}
    from symphony_ros.stress import run as stress_run
    job = stress_run.Job(policy, 'velocity:g1', 'velocity_gait', 'g1', 0, 5,
                         {k: tuple(v) for k, v in ranges.items()})
    stress_run._setup(job)
    task = stress_run._env('nominal').unwrapped.task
    assert task.lin_vel_x == (0.2, 0.8) and task.yaw_rate == (0.0, 0.0)


def test_turning_commands_turn_in_place_at_a_decisive_rate():
    env = make_env('velocity:g1',
                   commands=parse_commands('standing_fraction=0,turning_fraction=1'))
    drawn = np.array([env.reset(seed=seed)[1]['command'] for seed in range(40)])
    top = max(abs(v) for v in env.unwrapped.task.yaw_rate)
    assert np.all(drawn[:, :2] == 0.0)
    assert np.all((np.abs(drawn[:, 2]) >= top / 2) & (np.abs(drawn[:, 2]) <= top))
    assert (drawn[:, 2] > 0).any() and (drawn[:, 2] < 0).any()      # both ways
    # With the robot file's 15 % standing, a share that leaves no room is refused.
    with pytest.raises(ValueError, match='standing_fraction 0.15 \\+ turning_fraction 0.9'):
        make_env('velocity:g1', commands=parse_commands('turning_fraction=0.9'))
    mixed = make_env('velocity:g1', commands=parse_commands('turning_fraction=0.4'))
    kinds = [tuple(mixed.reset(seed=seed)[1]['command'][:2] == 0.0) for seed in range(200)]
    in_place = sum(k == (True, True) for k in kinds) / len(kinds)
    assert 0.4 < in_place < 0.7         # 40 % turning plus the file's 15 % standing

"""Joined stress conditions (``A+B``): both perturbations at once, refused where they clash."""

import json
import os

import numpy as np
import pytest

from symphony_ros.cli.main import main
from symphony_ros.core.envs import make_randomized_env
from symphony_ros.robot import get_robot
from symphony_ros.stress.conditions import (describe, held_command, joined_error, knobs,
                                            select, spec_of, within_training)
from shipped_models import G1_FIRST, HUMANOID


def test_a_joined_condition_moves_what_each_part_moves():
    g1 = get_robot('g1')
    joined = spec_of('delay_1+push_0.5', g1).to_dict()['ranges']
    parts = {**spec_of('delay_1', g1).to_dict()['ranges'],
             **spec_of('push_0.5', g1).to_dict()['ranges']}
    assert joined == parts and 'delay_s' in joined and 'push_velocity' in joined
    assert describe('delay_1+push_0.5') == ('action delay of 1 control step; 0.5 m/s base '
                                            'kick every 5-10 s')
    assert knobs('command_turn_0.5+obs_noise_1')['obs_noise_scale'] == 1.0
    assert held_command('command_turn_0.5+obs_noise_1')['yaw_rate'] == (0.5, 0.5)
    # Judged by the default verdict when every part lies in the training ranges.
    assert within_training('delay_1+push_0.5', g1)
    assert not within_training('delay_1+push_1.5', g1)
    assert select(['delay_1+push_0.5', 'nominal'], g1) == ['delay_1+push_0.5', 'nominal']


def test_a_held_command_under_noise_sees_the_noise():
    g1 = get_robot('g1')
    obs = {}
    for name in ('command_forward_0.5', 'command_forward_0.5+obs_noise_1'):
        env = make_randomized_env('velocity:g1', 'velocity_gait', spec_of(name, g1))
        env.reset(seed=5)
        obs[name] = env.step(np.zeros(env.action_space.shape))[0]
    assert not np.allclose(obs['command_forward_0.5'], obs['command_forward_0.5+obs_noise_1'])


@pytest.mark.parametrize('name, expected', [
    ('delay_1+delay_2', "'delay_1' and 'delay_2' both set the action delay"),
    ('delay_1+latency_5ms', "'delay_1' and 'latency_5ms' both set the action delay"),
    ('push_0.5+push_1.0', "'push_0.5' and 'push_1.0' both set push_velocity"),
    ('obs_noise_1+noise_joint_vel', "'obs_noise_1' and 'noise_joint_vel' both set sensor "
                                    'noise'),
    ('delay_1+delay_1', 'names each part once'),
    ('training_mix+delay_1', "none of them 'training_mix'"),
    ('delay_1+gusts', "unknown condition 'gusts'"),
])
def test_joined_conditions_that_clash_are_refused(name, expected):
    assert expected in joined_error(name)
    assert joined_error('worst+command_forward_0.5') is None
    assert joined_error('worst+delay_1') is None       # the same delay, set twice


@pytest.mark.parametrize('args, expected', [
    (['--conditions', 'delay_1+delay_2'], "'delay_1' and 'delay_2' both set the action delay"),
    (['--conditions', 'kp_0.8+delay_1'], 'needs a pd_position robot'),
    (['--ros', '--conditions', 'delay_1+mass_1.2'], "'delay_1+mass_1.2' cannot run with --ros"),
])
def test_a_bad_joined_condition_is_one_line_exit_2(tmp_path, capsys, args, expected):
    rc = main(['stress', HUMANOID, '--out', str(tmp_path / 'r'), '--no-progress', *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and expected in err[0]
    assert not os.path.exists(tmp_path / 'r')


def test_screen_refuses_a_bad_joined_condition(tmp_path, capsys):
    rc = main(['screen', str(tmp_path), '--conditions', 'nominal,push_0.5+push_1.0'])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and 'both set push_velocity' in err[0]


def test_stress_runs_a_held_command_under_noise_and_reports_it(tmp_path):
    out = tmp_path / 'joined'
    main(['stress', G1_FIRST, '--out', str(out), '--episodes', '2', '--max-steps', '150',
          '--workers', '1', '--no-progress', '--conditions',
          'command_forward_0.5,command_forward_0.5+obs_noise_1'])
    with open(out / 'report.json') as fh:
        c = json.load(fh)['conditions']
    joined = c['command_forward_0.5+obs_noise_1']
    assert joined['knobs']['obs_noise_scale'] == 1.0 and joined['within_training']
    assert joined['reached'] is not None
    # The same seeds, the same command: the noise alone changes what the robot did.
    assert joined['reached'] != c['command_forward_0.5']['reached']
    assert '| `command_forward_0.5+obs_noise_1` | 0.5, 0, 0 |' in (out / 'report.md').read_text()

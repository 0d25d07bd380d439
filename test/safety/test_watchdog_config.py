"""WatchdogConfig: derived defaults, validation errors, parameter declaration, YAML file."""

import dataclasses
import os

import numpy as np
import pytest
import yaml

from symphony_ros.robot.description import get_robot
from symphony_ros.safety import WatchdogConfig
from symphony_ros.safety.params import (
    declare_all, field_docs, markdown_table, NODE_NAME, render_yaml, to_ros_parameters)

YAML_PATH = os.path.join(os.path.dirname(__file__), '..', '..', 'config', 'watchdog.yaml')


def test_robot_facts_and_timeouts_are_derived_from_the_description():
    robot = get_robot('humanoid')
    cfg = WatchdogConfig().resolved()
    assert cfg.joint_names == robot.joint_names
    np.testing.assert_allclose(cfg.effort_limits, robot.effort_limits)
    np.testing.assert_allclose(cfg.position_lower, robot.position_limits[:, 0])
    np.testing.assert_allclose(cfg.position_upper, robot.position_limits[:, 1])
    np.testing.assert_allclose(cfg.velocity_limits, robot.velocity_limits)
    assert cfg.policy_period == robot.control_dt
    assert cfg.command_timeout == pytest.approx(3 * robot.control_dt)
    assert cfg.state_timeout == pytest.approx(3 * robot.control_dt)
    assert cfg.max_stamp_future == pytest.approx(robot.control_dt)
    np.testing.assert_allclose(cfg.max_torque_rate, robot.effort_limits / robot.control_dt)
    np.testing.assert_allclose(cfg.damping_kd, 0.1 * robot.effort_limits)


def test_explicit_values_win_over_derived_ones():
    cfg = WatchdogConfig(policy_period=0.02, command_timeout=0.1).resolved()
    assert cfg.command_timeout == 0.1
    assert cfg.state_timeout == pytest.approx(0.06)


@pytest.mark.parametrize('field,value,message', [
    ('effort_limits', (1.0, 2.0), 'effort_limits has 2 values; expected 17'),
    ('velocity_limits', (0.0,) * 17, 'velocity_limits must be finite and > 0'),
    ('safe_mode', 'limp', "safe_mode must be one of ('damping', 'zero')"),
    ('rate_hz', 0.0, 'rate_hz must be finite and > 0'),
    ('max_rejections', 0, 'max_rejections must be >= 1'),
    ('realtime_priority', 120, 'realtime_priority must be 0-99'),
    ('joint_names', ('a', 'a'), 'joint_names must be 2 distinct names'),
])
def test_bad_values_name_the_parameter(field, value, message):
    with pytest.raises(ValueError, match=message.replace('(', r'\(').replace(')', r'\)')):
        dataclasses.replace(WatchdogConfig(), **{field: value}).resolved()


def test_no_robot_means_every_joint_fact_must_be_given():
    with pytest.raises(ValueError, match='joint_names, effort_limits'):
        WatchdogConfig(robot='').resolved()
    full = WatchdogConfig(robot='', joint_names=('a', 'b'), effort_limits=(1.0, 2.0),
                          position_lower=(-1.0, -1.0), position_upper=(1.0, 1.0),
                          velocity_limits=(5.0, 5.0), policy_period=0.01).resolved()
    assert full.max_torque_rate == (100.0, 200.0)


def test_from_params_coerces_ros_types_and_rejects_unknown_or_wrong_types():
    cfg = WatchdogConfig.from_params({'rate_hz': 250, 'effort_limits': [1, 2], 'auto_arm': True})
    assert cfg.rate_hz == 250.0 and isinstance(cfg.rate_hz, float)
    assert cfg.effort_limits == (1.0, 2.0)
    with pytest.raises(ValueError, match='unknown watchdog parameters: bogus'):
        WatchdogConfig.from_params({'bogus': 1})
    with pytest.raises(ValueError, match='parameter max_tilt must be float'):
        WatchdogConfig.from_params({'max_tilt': 'steep'})
    with pytest.raises(ValueError, match='parameter auto_arm must be bool'):
        WatchdogConfig.from_params({'auto_arm': 1})
    with pytest.raises(ValueError, match='parameter joint_names must be a list of str'):
        WatchdogConfig.from_params({'joint_names': 'abdomen_y'})


def test_declare_all_declares_every_field_with_derived_defaults_following_overrides():
    declared = {}
    overrides = {'policy_period': 0.02}

    def declare(name, default, doc):
        declared[name] = (default, doc)
        return overrides.get(name, default)
    cfg = declare_all(declare)
    assert list(declared) == [f.name for f in dataclasses.fields(WatchdogConfig)]
    assert all(doc for _, doc in declared.values()), 'every parameter has a description'
    assert declared['command_timeout'][0] == pytest.approx(0.06), 'follows the override'
    assert cfg.command_timeout == pytest.approx(0.06)
    assert declared['effort_limits'][0] == list(cfg.effort_limits)


def test_declare_all_reports_bad_override_by_name():
    def declare(name, default, doc):
        return [1.0, 2.0] if name == 'effort_limits' else default
    with pytest.raises(ValueError, match='effort_limits has 2 values; expected 17'):
        declare_all(declare)


def test_shipped_yaml_matches_the_dataclass_defaults():
    with open(YAML_PATH) as f:
        text = f.read()
    assert text == render_yaml(), 'regenerate: python -m symphony_ros.safety.params'
    params = yaml.safe_load(text)[NODE_NAME]['ros__parameters']
    expected = to_ros_parameters(WatchdogConfig().resolved())
    assert params.keys() == expected.keys()
    for k, v in expected.items():
        if isinstance(v, list) and v and isinstance(v[0], float):
            np.testing.assert_allclose(params[k], v, rtol=1e-9, err_msg=k)
        else:
            assert params[k] == pytest.approx(v), k


def test_markdown_table_documents_every_field():
    table = markdown_table()
    for f in dataclasses.fields(WatchdogConfig):
        assert f'`{f.name}`' in table
        assert field_docs()[f.name] in table

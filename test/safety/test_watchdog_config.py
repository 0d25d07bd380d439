"""WatchdogConfig: derived defaults, validation errors, parameter declaration, YAML file."""

import dataclasses
import os

import numpy as np
import pytest
import yaml

from symphony_ros import paths
from symphony_ros.robot.description import get_robot
from symphony_ros.safety import WatchdogConfig
from symphony_ros.sim.config import SimConfig
from symphony_ros.safety.params import (
    declare_all, field_docs, from_params, markdown_table, NODE_KEY, render_yaml,
    to_ros_parameters)

YAML_PATH = os.path.join(os.path.dirname(__file__), '..', '..', 'config', 'watchdog.yaml')
N_JOINTS = len(get_robot('humanoid').joint_names)


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
    ('effort_limits', (1.0, 2.0), f'effort_limits has 2 values; expected {N_JOINTS}'),
    ('velocity_limits', (0.0,) * N_JOINTS, 'velocity_limits must be finite and > 0'),
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
    facts = dict(robot='', joint_names=('a', 'b'), effort_limits=(1.0, 2.0),
                 position_lower=(-1.0, -1.0), position_upper=(1.0, 1.0),
                 velocity_limits=(5.0, 5.0), policy_period=0.01)
    # No robot, no fall height: another robot's (the humanoid's 1.0 m) would be wrong.
    with pytest.raises(ValueError, match='parameters min_height have no value'):
        WatchdogConfig(**facts).resolved()
    full = WatchdogConfig(min_height=0.5, **facts).resolved()
    assert full.max_torque_rate == (100.0, 200.0)
    assert (full.max_tilt, full.command_input) == (0.8, 'effort')


def test_from_params_coerces_ros_types_and_rejects_unknown_or_wrong_types():
    cfg = from_params({'rate_hz': 250, 'effort_limits': [1, 2], 'auto_arm': True})
    assert cfg.rate_hz == 250.0 and isinstance(cfg.rate_hz, float)
    assert cfg.effort_limits == (1.0, 2.0)
    with pytest.raises(ValueError, match='unknown watchdog parameters: bogus'):
        from_params({'bogus': 1})
    with pytest.raises(ValueError, match='parameter max_tilt must be float'):
        from_params({'max_tilt': 'steep'})
    with pytest.raises(ValueError, match='parameter auto_arm must be bool'):
        from_params({'auto_arm': 1})
    with pytest.raises(ValueError, match='parameter joint_names must be a list of str'):
        from_params({'joint_names': 'abdomen_y'})


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
    with pytest.raises(ValueError, match=f'effort_limits has 2 values; expected {N_JOINTS}'):
        declare_all(declare)


def _profile(name):
    with open(paths.config_path(name), encoding='utf-8') as f:
        return yaml.safe_load(f)[NODE_KEY]['ros__parameters']


def test_shipped_yaml_matches_the_dataclass_defaults_and_leaves_robot_facts_unset():
    with open(YAML_PATH) as f:
        text = f.read()
    assert text == render_yaml(), 'regenerate: python -m symphony_ros.safety.params'
    params = _profile('watchdog.yaml')
    derived = {f.name for f in dataclasses.fields(WatchdogConfig) if f.default in (None, ())}
    assert {'joint_names', 'effort_limits', 'policy_period', 'command_timeout'} <= derived
    assert params.keys() == set(to_ros_parameters(WatchdogConfig())) - derived
    assert from_params(params).resolved() == WatchdogConfig().resolved()


@pytest.mark.parametrize('profile', ['watchdog_sim.yaml', 'watchdog_lockstep.yaml'])
def test_profiles_are_valid_watchdog_parameters(profile):
    params = {**_profile('watchdog.yaml'), **_profile(profile)}
    from_params(params).resolved()


def test_lockstep_profile_outwaits_the_sim_and_lifts_the_rate_limit():
    # The lockstep sim waits lockstep_timeout for each answer: no watchdog timeout may be
    # shorter. The slew limit is per steady-clock tick, so in lockstep it must never bind.
    cfg = from_params({**_profile('watchdog.yaml'),
                       **_profile('watchdog_lockstep.yaml')}).resolved()
    wait = SimConfig().lockstep_timeout
    assert min(cfg.command_timeout, cfg.state_timeout, cfg.max_stamp_future) > wait
    assert all(r >= 1e9 * e for r, e in zip(cfg.max_torque_rate, cfg.effort_limits))


def test_declare_all_derives_once_and_again_only_after_an_override(monkeypatch):
    calls = []
    original = WatchdogConfig.partially_resolved

    def counted(self):
        calls.append(1)
        return original(self)
    monkeypatch.setattr(WatchdogConfig, 'partially_resolved', counted)
    declare_all(lambda name, default, doc: default)
    assert len(calls) == 2, 'one derivation for the defaults, one inside resolved()'
    calls.clear()
    declare_all(lambda name, default, doc: 0.02 if name == 'policy_period' else default)
    assert len(calls) == 3


def test_markdown_table_documents_every_field():
    table = markdown_table()
    for f in dataclasses.fields(WatchdogConfig):
        assert f'`{f.name}`' in table
        assert field_docs()[f.name] in table

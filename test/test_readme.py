"""The README's parameter tables are the dataclasses' own (one source of truth)."""

import os

import pytest

from symphony_ros.util.fields import settings_table
from symphony_ros.deploy.config import PolicyNodeConfig
from symphony_ros.deploy.state_estimator import StateEstimatorConfig
from symphony_ros.distill.config import DistillConfig
from symphony_ros.distributed.config import DistributedConfig
from symphony_ros.robot.leg_odometry import LegOdometryConfig
from symphony_ros.safety.params import markdown_table
from symphony_ros.sim.config import SimConfig

README = os.path.join(os.path.dirname(__file__), '..', 'README.md')


@pytest.mark.parametrize('table', [settings_table(PolicyNodeConfig), settings_table(SimConfig),
                                   markdown_table(), settings_table(DistributedConfig),
                                   settings_table(DistillConfig),
                                   settings_table(StateEstimatorConfig),
                                   settings_table(LegOdometryConfig)],
                         ids=['policy_node', 'mujoco_sim_node', 'watchdog_node', 'distributed',
                              'distill', 'state_estimator_node', 'leg_odometry'])
def test_readme_holds_the_generated_parameter_table(table):
    with open(README, encoding='utf-8') as f:
        text = f.read()
    assert table in text, f'README table out of date; regenerate it:\n{table}'

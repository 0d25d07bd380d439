"""Every shipped policy loads against its robot and its card's stress report is its own."""

import json
import os

import numpy as np
import pytest

from symphony_ros import paths
from symphony_ros.deploy.policy_loop import PolicyLoop
from symphony_ros.robot import get_robot


MODELS = os.path.dirname(paths.shipped_policy_path('g1'))
EVERY_FILE = sorted(f for f in os.listdir(MODELS) if f.endswith('.onnx'))


@pytest.mark.parametrize('robot', sorted(paths.SHIPPED_POLICIES))
def test_a_shipped_policy_drives_its_robot_and_carries_its_stress_report(robot):
    path = paths.shipped_policy_path(robot)
    loop = PolicyLoop(path, get_robot(robot))   # the deploy side's checks, as demo runs them
    assert os.path.basename(path) in EVERY_FILE    # its report: the test below
    assert loop.needs_command is (robot == 'g1')


@pytest.mark.parametrize('name', EVERY_FILE)
def test_every_policy_in_models_loads_for_its_robot_and_its_report_is_its_own(name):
    # The defaults above, and the alternatives a card offers (a student, a robust actor).
    path = os.path.join(MODELS, name)
    with open(os.path.join(os.path.splitext(path)[0] + '_stress', 'report.json')) as f:
        report = json.load(f)
    loop = PolicyLoop(path, get_robot(report['robot']))
    stress = loop.policy.contract.stress
    weights = loop.policy.contract.weights_sha256
    assert stress['weights_sha256'] == report['policy']['weights_sha256'] == weights
    assert (stress['verdict'] == 'PASS') is report['verdict']['passed']
    assert stress['failed'] == report['verdict']['failed']


def test_the_g1_policy_holds_its_arms():
    contract = PolicyLoop(paths.shipped_policy_path('g1'), get_robot('g1')).policy.contract
    scale = np.asarray(contract.robot.action_scale)
    assert (scale[15:] == 0).all() and (scale[:15] > 0).all()


def test_a_robot_without_a_shipped_policy_has_none():
    assert paths.shipped_policy_path('biped3') is None

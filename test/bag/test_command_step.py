"""A recording's command step is the stress report's, over the same commands and ranges."""

import numpy as np
import pytest

from symphony_ros.bag.metrics import command_step
from symphony_ros.core.envs import make_env
from symphony_ros.robot.description import get_robot
from symphony_ros.stress.run import CommandJitter


def test_the_figure_from_a_recording_equals_the_stress_runs_on_the_same_commands():
    env = make_env('velocity:g1')
    model, robot = env.unwrapped.model, get_robot('g1')
    # The bag measures against the robot file's servo ranges, the stress run against the
    # model's ctrl ranges: the same widths (a held joint's is none in both).
    spans = np.diff(robot.servo_range(), axis=1)[:, 0]
    np.testing.assert_allclose(spans, np.diff(model.actuator_ctrlrange, axis=1)[:, 0])
    rng = np.random.default_rng(0)
    told = robot.default_pose() + rng.uniform(-0.1, 0.1, (50, robot.n_joints))
    told[:, 20:] = robot.default_pose()[20:]          # held joints do not count
    live = CommandJitter(model)
    for row in told:
        live.add(row)
    assert command_step(told, spans) == pytest.approx(live.value())
    assert command_step(told[:1], spans) is None


def test_a_step_across_an_episode_start_does_not_count():
    spans = np.array([2.0, 2.0])
    told = np.array([[0.0, 0.0], [0.2, 0.0], [0.0, 0.0], [1.0, 1.0], [1.2, 1.0]])
    # Steps of 0.1 of the range on one motor, then the reset's jump of 0.5 on both.
    assert command_step(told, spans, breaks=[3]) == pytest.approx(0.1)
    assert command_step(told, spans) > 0.2
    assert command_step(np.zeros((4, 2)), spans) == 0.0

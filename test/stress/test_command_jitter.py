"""The stress report's command step: how far a policy moves its motors' commands per step."""

import mujoco
import numpy as np
import pytest

from symphony_ros.core.envs import make_env
from symphony_ros.stress.run import CommandJitter


def _model(ranges):
    xml = '<mujoco><worldbody><body><joint name="j0"/><joint name="j1" axis="0 1 0"/>' \
          '<joint name="j2" axis="0 0 1"/><geom size=".1"/></body></worldbody><actuator>' + \
          ''.join(f'<motor joint="j{i}" ctrlrange="{lo} {hi}"/>'
                  for i, (lo, hi) in enumerate(ranges)) + '</actuator></mujoco>'
    return mujoco.MjModel.from_xml_string(xml)


def test_the_step_is_an_rms_share_of_each_range_over_the_actuators_that_moved():
    jitter = CommandJitter(_model([(-1, 1), (-0.2, 0.2), (-5, 5)]))
    assert jitter.value() is None
    jitter.add(np.array([0.9, 0.0, 3.0]))     # the first command: no step yet
    assert jitter.value() is None
    # Actuator 0 flips across half its range each step; actuator 1 across all of its;
    # actuator 2 is held (a PD robot's held joint) and does not count.
    for k in range(4):
        jitter.add(np.array([0.5 if k % 2 == 0 else -0.5, 0.2 if k % 2 == 0 else -0.2, 3.0]))
    steps0 = [(0.5 - 0.9) / 2] + [0.5] * 3
    steps1 = [0.5] + [1.0] * 3
    expected = np.sqrt((np.sum(np.square(steps0)) + np.sum(np.square(steps1))) / 8)
    assert jitter.value() == pytest.approx(expected)


def test_a_steady_command_is_zero_and_a_pd_robot_is_measured_in_joint_travel():
    env = make_env('velocity:g1')
    jitter = CommandJitter(env.unwrapped.model)
    env.reset(seed=0)
    for _ in range(3):
        env.step(np.zeros(env.action_space.shape))
        jitter.add(env.unwrapped.data.ctrl)
    assert jitter.value() == 0.0
    env.step(np.full(env.action_space.shape, 0.2))
    jitter.add(env.unwrapped.data.ctrl)
    # The G1's command range is each joint's travel (its servo clamp): a 0.2 action moves a
    # target 0.28-0.44 rad, 6-10 % of a hip's 4.4 rad, half of an ankle roll's 0.42.
    assert 0.05 < jitter.value() < 0.5

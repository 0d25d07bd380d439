"""cmd_vel -> the velocity command a policy sees: clipped, NaN refused, zero when stale."""

import math

import numpy as np
import pytest

from symphony_ros.deploy.velocity_command import VelocityCommand

RANGES = {'lin_vel_x': [-0.5, 1.0], 'lin_vel_y': [-0.3, 0.3], 'yaw_rate': [-1.0, 1.0]}


class Clock:
    def __init__(self):
        self.t = 10.0

    def __call__(self):
        return self.t


def test_a_command_inside_the_ranges_passes_unchanged():
    cmd = VelocityCommand(RANGES, clock=Clock())
    assert cmd.update(0.4, -0.1, 0.5) == ''
    np.testing.assert_array_equal(cmd.value(), [0.4, -0.1, 0.5])


def test_out_of_range_values_are_clipped_and_named():
    cmd = VelocityCommand(RANGES, clock=Clock(), topic='/robot/cmd_vel')
    problem = cmd.update(3.0, -0.1, -2.0)
    np.testing.assert_array_equal(cmd.value(), [1.0, -0.1, -1.0])
    assert problem == ('/robot/cmd_vel: linear.x 3 outside [-0.5, 1]; angular.z -2 outside '
                       '[-1, 1]: clipped to the trained range')
    assert cmd.clipped == 1


@pytest.mark.parametrize('bad', [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_rejected_named_and_the_command_drops_to_zero(bad):
    cmd = VelocityCommand(RANGES, clock=Clock())
    cmd.update(0.5, 0.0, 0.0)
    problem = cmd.update(0.5, bad, 0.0)
    assert problem.startswith('cmd_vel: linear.y not finite')
    assert 'command set to zero' in problem
    np.testing.assert_array_equal(cmd.value(), [0.0, 0.0, 0.0])
    assert cmd.rejected == 1 and not cmd.live()


def test_the_command_falls_back_to_zero_after_the_timeout():
    clock = Clock()
    cmd = VelocityCommand(RANGES, timeout=0.5, clock=clock)
    assert not cmd.value().any()          # nothing received yet
    cmd.update(0.8, 0.0, 0.3)
    clock.t += 0.5
    np.testing.assert_array_equal(cmd.value(), [0.8, 0.0, 0.3])
    clock.t += 0.01
    np.testing.assert_array_equal(cmd.value(), [0.0, 0.0, 0.0])
    cmd.update(0.1, 0.0, 0.0)             # a new message revives it
    np.testing.assert_array_equal(cmd.value(), [0.1, 0.0, 0.0])


def test_missing_or_inverted_ranges_and_bad_timeout_are_refused():
    with pytest.raises(ValueError, match=r"lacks \['yaw_rate'\]"):
        VelocityCommand({'lin_vel_x': [0, 1], 'lin_vel_y': [0, 1]})
    with pytest.raises(ValueError, match='inverted'):
        VelocityCommand(dict(RANGES, lin_vel_y=[0.3, -0.3]))
    with pytest.raises(ValueError, match='timeout'):
        VelocityCommand(RANGES, timeout=0.0)

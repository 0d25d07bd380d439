"""A robot file's ``randomization`` mapping: overrides the default ranges, refused when wrong."""

import glob
import os

import pytest

from symphony_ros.robot import get_robot
from symphony_ros.robot.ranges import DEFAULTS, load_randomization
from symphony_ros.robot.robot_file import RobotFileError
from user_robot import robot_doc, write_robot


def test_robot_file_overrides_the_default_ranges(tmp_path):
    path = write_robot(str(tmp_path), robot_doc(randomization={
        'push_velocity': [0.0, 0.5], 'obs_noise': {'joint_vel': 0.5}}))
    spec = load_randomization('default', get_robot(path))
    assert spec.range('push_velocity') == (0.0, 0.5)
    assert spec.range('mass_scale') == DEFAULTS['mass_scale']   # the rest stays default
    assert spec.obs_noise['joint_vel'] == 0.5
    half = load_randomization('default', get_robot(path), scale=0.5)
    assert half.range('push_velocity') == (0.0, 0.25)
    assert half.range('mass_scale') == pytest.approx((0.95, 1.05))


@pytest.mark.parametrize('value, expected', [
    ({'mass_scale': [1.1, 0.9]}, 'inverted range'),
    ({'friction_scale': [-1.0, 1.0]}, 'negative range'),
    ({'wind': [0, 1]}, 'wind: unknown knob'),
])
def test_robot_file_with_a_wrong_randomization_is_refused(tmp_path, value, expected):
    path = write_robot(str(tmp_path), robot_doc(randomization=value))
    with pytest.raises(RobotFileError, match=expected) as err:
        get_robot(path)
    assert 'biped3.yaml: randomization' in str(err.value)


SHIPPED = sorted(glob.glob(os.path.join(os.path.dirname(__file__), '..', '..', 'config',
                                        'randomize_*.yaml')))


@pytest.mark.parametrize('path', SHIPPED, ids=os.path.basename)
def test_shipped_randomization_files_load_over_the_robots_ranges(path):
    for robot in ('g1', 'humanoid'):
        spec = load_randomization(path, get_robot(robot))
        default = load_randomization('default', get_robot(robot))
        assert spec.name == os.path.abspath(path)
        # Each file changes something: ranges, or how they are drawn.
        assert (spec.ranges, spec.robot_wide, spec.hard_share) != (
            default.ranges, default.robot_wide, default.hard_share)

"""FrameStack: the last observations, newest first, the first one filling the history."""

import numpy as np
import pytest

from symphony_ros.robot.frame_stack import FrameStack


def test_the_first_frame_fills_the_history_and_newer_ones_go_first():
    s = FrameStack(3, 2)
    np.testing.assert_array_equal(s.push([1, 2]), [1, 2, 1, 2, 1, 2])
    np.testing.assert_array_equal(s.push([3, 4]), [3, 4, 1, 2, 1, 2])
    out = s.push([5, 6])
    np.testing.assert_array_equal(out, [5, 6, 3, 4, 1, 2])
    out[:] = 0       # the caller's copy: the history is not touched
    np.testing.assert_array_equal(s.push([7, 8]), [7, 8, 5, 6, 3, 4])
    s.reset()
    np.testing.assert_array_equal(s.push([9, 9]), [9, 9, 9, 9, 9, 9])


def test_one_frame_is_the_observation_itself():
    s = FrameStack(1, 3)
    np.testing.assert_array_equal(s.push([1, 2, 3]), [1, 2, 3])
    np.testing.assert_array_equal(s.push([4, 5, 6]), [4, 5, 6])


def test_state_round_trips_including_an_empty_history():
    s = FrameStack(2, 2)
    assert s.state.size == 0
    s.push([1, 1])
    kept = s.state
    s.push([2, 2])
    s.state = kept
    np.testing.assert_array_equal(s.push([3, 3]), [3, 3, 1, 1])
    s.state = np.zeros(0)
    np.testing.assert_array_equal(s.push([4, 4]), [4, 4, 4, 4])


@pytest.mark.parametrize('call, message', [
    (lambda: FrameStack(0, 2), 'expected frames >= 1 and dim >= 1, got 0 and 2'),
    (lambda: FrameStack(2, 2).push([1, 2, 3]), 'expected a frame of 2 values, got 3'),
    (lambda: setattr(FrameStack(2, 2), 'state', np.ones(3)), 'expected 4 values, got 3'),
])
def test_bad_sizes_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()

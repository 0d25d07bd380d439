"""The lookahead labels: the teacher's actions over the stretch a delayed command covers."""

import numpy as np
import pytest

from symphony_ros.distill.labels import lookahead_labels

T = np.arange(10, dtype=np.float64)[:, None] * np.array([[1.0, -2.0]])


def test_no_delay_labels_each_step_with_the_teachers_own_action():
    labels, index = lookahead_labels(T, np.zeros(10), 4)
    assert index.tolist() == list(range(10))
    assert np.array_equal(labels, T)


def test_one_control_step_of_delay_labels_with_the_next_steps_action():
    labels, index = lookahead_labels(T, np.full(10, 4), 4)
    # The last command would reach the motors after the episode: no label.
    assert index.tolist() == list(range(9))
    assert np.array_equal(labels, T[1:])


def test_a_part_step_delay_blends_the_two_periods_it_covers():
    # 6 physics steps of 4: the command reaches period t+1 half-way, and holds into t+2.
    labels, index = lookahead_labels(T, np.full(10, 6), 4)
    assert index.tolist() == list(range(8))
    assert np.allclose(labels, 0.5 * T[1:9] + 0.5 * T[2:10])
    labels, _ = lookahead_labels(T, np.full(10, 1), 4)
    assert np.allclose(labels[0], 0.75 * T[0] + 0.25 * T[1])


def test_each_step_takes_its_own_delay():
    delays = np.array([0, 4, 0, 8, 0, 0])
    labels, index = lookahead_labels(T[:6], delays, 4)
    assert index.tolist() == [0, 1, 2, 3, 4, 5]
    assert np.array_equal(labels, T[[0, 2, 2, 5, 4, 5]])


def test_an_episode_shorter_than_the_delay_has_no_labels():
    labels, index = lookahead_labels(T[:2], np.full(2, 8), 4)
    assert len(index) == 0 and labels.shape == (0, 2)


@pytest.mark.parametrize('delays, fs, match', [
    (np.full(10, -1), 4, 'delays: expected >= 0'),
    (np.zeros(9), 4, r'teacher actions \(10, 2\) and delays \(9,\)'),
    (np.zeros(10), 0, 'frame_skip: expected >= 1')])
def test_bad_input_is_refused_by_name(delays, fs, match):
    with pytest.raises(ValueError, match=match):
        lookahead_labels(T, delays, fs)

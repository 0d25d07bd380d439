"""Stride tracking: the sway within each gait cycle cancels; drift and misses do not."""

import math

import numpy as np
import pytest

from symphony_ros.robot.tracking import WindowTracking, window_steps

DT = 0.02
PERIOD = 0.8


def _sway(steps, vx, drift=0.0, amp=0.2):
    """(vx, vy, yaw rate) of a base swaying sideways and twisting once per gait cycle."""
    t = np.arange(steps) * DT
    phase = np.sin(2 * math.pi * t / PERIOD)
    return [(vx, drift + amp * p, 3 * amp * p) for p in phase]


def test_window_is_one_gait_cycle_or_one_second():
    assert window_steps(PERIOD, DT) == 40
    assert window_steps(0.0, DT) == 50
    with pytest.raises(ValueError, match='at least 1 step'):
        WindowTracking(0)


def test_sway_cancels_over_a_stride_where_the_per_step_error_sees_it():
    track = WindowTracking(window_steps(PERIOD, DT))
    vel = _sway(400, 0.5)
    for v in vel:
        track.add((0.5, 0.0, 0.0), v)
    per_step = math.sqrt(np.mean([v[1] ** 2 for v in vel]))
    assert per_step > 0.1
    assert track.lin_rms < 1e-9 and track.yaw_rms < 1e-9


def test_a_slow_robot_and_a_drifting_one_are_both_off_by_what_they_miss():
    slow, drift = WindowTracking(40), WindowTracking(40)
    for a, b in zip(_sway(200, 0.3), _sway(200, 0.5, drift=0.1)):
        slow.add((0.5, 0.0, 0.0), a)
        drift.add((0.5, 0.0, 0.0), b)
    assert slow.lin_rms == pytest.approx(0.2, abs=1e-9)
    assert drift.lin_rms == pytest.approx(0.1, abs=1e-9)


def test_nothing_counts_before_a_full_window_and_a_new_command_restarts_it():
    track = WindowTracking(40)
    for v in _sway(39, 0.0):
        track.add((0.0, 0.0, 0.0), v)
    assert track.lin_rms is None and track.yaw_rms is None
    # The robot keeps standing; the command turns to 0.5 m/s: the stride before the change
    # is judged against neither command until a whole window has run under the new one.
    for v in _sway(39, 0.0):
        track.add((0.5, 0.0, 0.0), v)
    assert track.lin_rms is None
    track.add((0.5, 0.0, 0.0), (0.0, 0.0, 0.0))
    assert track.lin_rms == pytest.approx(0.5, abs=0.01)


def test_restart_begins_a_new_episode_and_keeps_the_errors_so_far():
    track = WindowTracking(40)
    for v in _sway(80, 0.3):
        track.add((0.5, 0.0, 0.0), v)
    before = track.lin_rms
    track.restart()
    for v in _sway(39, 0.5):
        track.add((0.5, 0.0, 0.0), v)
    assert track.lin_rms == pytest.approx(before)


def test_a_bag_s_episodes_are_each_judged_over_their_own_strides():
    from symphony_ros.bag.evaluate import _tracking
    from symphony_ros.robot import get_robot
    from symphony_ros.robot.velocity_reward import VelocityStep

    def episode(vx, steps):
        return [VelocityStep({}, False, abs(0.5 - v[0]), 0.0, (0.5, 0.0, 0.0), v)
                for v in _sway(steps, vx)]
    # A full stride at 0.3 m/s, then an episode too short for one: it adds nothing, and
    # its steps are not joined to the first episode's last window.
    out = _tracking([episode(0.3, 40), episode(0.5, 39)], get_robot('g1'))
    assert out['stride_lin_vel'] == pytest.approx(0.2, abs=1e-9)
    assert out['stride_yaw_rate'] == pytest.approx(0.0, abs=1e-9)
    assert out['lin_vel'] == pytest.approx(math.sqrt((40 * 0.2 ** 2) / 79))
    assert _tracking([], get_robot('g1'))['stride_lin_vel'] is None

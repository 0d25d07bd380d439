"""Joint remapping, checks and timing statistics of the watchdog core."""

import numpy as np
import pytest

from symphony_ros.safety import Rejected
from symphony_ros.safety.checks import check_stamp, SaturationTimer, slew, soft_limit_cut
from symphony_ros.safety.joint_order import JointOrder
from symphony_ros.safety.timing import PeriodStats

NAMES = ('a', 'b', 'c')


def test_command_remapped_by_name_and_identity_fast_path():
    order = JointOrder(NAMES)
    np.testing.assert_array_equal(order.command(['c', 'a', 'b'], [3.0, 1.0, 2.0]), [1, 2, 3])
    np.testing.assert_array_equal(order.command(list(NAMES), [1.0, 2.0, 3.0]), [1, 2, 3])


@pytest.mark.parametrize('names,effort,why', [
    (['a', 'b'], [1.0, 2.0], '2 efforts for 3 joints'),
    (['a', 'b', 'c'], [1.0, 2.0], '2 efforts for 3 joints'),
    (['a', 'b'], [1.0, 2.0, 3.0], '2 joint names for 3 joints'),
    (['a', 'b', 'x'], [1.0, 2.0, 3.0], "unknown ['x']"),
    (['a', 'b', 'b'], [1.0, 2.0, 3.0], 'duplicates'),
    (['a', 'b', 'c'], [1.0, np.inf, 3.0], 'non-finite effort for b'),
])
def test_bad_commands_rejected_whole(names, effort, why):
    with pytest.raises(Rejected, match=why.replace('[', r'\[').replace(']', r'\]')):
        JointOrder(NAMES).command(names, effort)


def test_permutation_cache_is_bounded():
    order = JointOrder([f'j{i}' for i in range(5)])
    rng = np.random.default_rng(1)
    for _ in range(100):
        perm = rng.permutation(5)
        names = [f'j{i}' for i in perm]
        out = order.command(names, perm.astype(float))
        np.testing.assert_array_equal(out, np.arange(5))
    assert len(order._commands) <= 8


def test_duplicate_controller_names_refused():
    with pytest.raises(ValueError, match='duplicate'):
        JointOrder(['a', 'a'])


def test_check_stamp_bounds():
    check_stamp(10.0, 10.01, max_age=0.05, max_future=0.01)
    check_stamp(10.009, 10.0, max_age=0.05, max_future=0.01)
    for stamp, why in ((0.0, 'zero'), (10.02, 'future'), (9.9, 'old')):
        with pytest.raises(Rejected, match=why):
            check_stamp(stamp, 10.0, max_age=0.05, max_future=0.01)


def test_soft_limit_cut_only_outward_torque():
    tau = np.array([1.0, -1.0, 1.0, -1.0])
    q = np.array([0.95, 0.95, -0.95, -0.95])
    out = soft_limit_cut(tau, q, np.full(4, -0.9), np.full(4, 0.9))
    np.testing.assert_array_equal(out, [0.0, -1.0, 1.0, 0.0])


def test_slew_moves_at_most_max_step():
    np.testing.assert_array_equal(slew(np.zeros(3), np.array([5.0, -5.0, 0.5]), np.ones(3)),
                                  [1.0, -1.0, 0.5])


def test_slew_within_reach_gives_the_target_bit_for_bit():
    # 0.7 + (0.1 - 0.7) is 0.09999999999999998: the output would depend on the one before.
    previous, target = np.array([0.1, 0.7, -3.0]), np.array([0.3, 0.1, 2.9])
    assert not np.array_equal(previous + (target - previous), target)
    np.testing.assert_array_equal(slew(previous, target, np.full(3, 10.0)), target)
    np.testing.assert_allclose(slew(previous, target, np.full(3, 0.5)), [0.3, 0.2, -2.5])


def test_saturation_timer_tracks_continuous_runs():
    timer = SaturationTimer(np.array([1.0, 1.0]))
    timer.update(np.array([2.0, 0.0]), 1.0)
    timer.update(np.array([2.0, 3.0]), 1.5)
    assert timer.longest(2.0) == (0, 1.0)
    timer.update(np.array([0.0, 3.0]), 2.0)
    assert timer.longest(2.0) == (1, 0.5)
    timer.reset()
    assert timer.longest(3.0) == (None, 0.0)


def test_period_stats_percentiles():
    stats = PeriodStats(0.002)
    t = 0.0
    for i in range(1000):
        t += 0.002 + (0.0005 if i % 50 == 1 else 0.0)
        stats.record(t)
    s = stats.summary()
    assert s['periods'] == 999
    assert s['jitter_p50_us'] <= 10.0
    assert 10.0 < s['jitter_p99_us'] <= 510.0
    assert s['jitter_max_us'] == pytest.approx(500.0, abs=1e-3)

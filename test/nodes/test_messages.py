"""Message conversions of the nodes: stamps."""

import pytest

from symphony_ros.nodes.messages import from_time, to_time


@pytest.mark.parametrize('seconds, expected', [
    (1.0, (1, 0)), (1.015, (1, 15_000_000)), (0.0, (0, 0)),
    # Sums of 0.015 s steps land just below whole seconds; the stamp must not fall back a
    # whole second (rounding the fraction alone gives (3, 0) for 3.9999999999).
    (sum([0.015] * 200) + 1.0, (4, 0)), (3.9999999999, (4, 0)), (2.9999999994, (2, 999_999_999)),
])
def test_to_time_rounds_to_the_nanosecond(seconds, expected):
    t = to_time(seconds)
    assert (t.sec, t.nanosec) == expected
    assert from_time(t) == pytest.approx(seconds, abs=1e-9)


def test_stamps_of_consecutive_control_steps_increase():
    stamps = [to_time(1.0 + k * 0.015) for k in range(5000)]
    ns = [t.sec * 10**9 + t.nanosec for t in stamps]
    assert all(b - a == 15_000_000 for a, b in zip(ns, ns[1:]))

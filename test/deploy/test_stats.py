"""Loop statistics: a running loop's p99 leaves its start out."""

import math

from symphony_ros.deploy.stats import Percentiles, SteadyPercentiles


def test_the_start_does_not_count_toward_the_running_loops_p99():
    steady, everything = SteadyPercentiles(warmup=10, min_samples=50), Percentiles()
    # A slow start (first inferences, discovery), then a loop of 1 ms with a 2 ms tail.
    ages = [0.030] * 10 + [0.001] * 98 + [0.002] * 2
    for i, age in enumerate(ages):
        steady.add(age)
        everything.add(age)
        assert steady.ready == (i + 1 >= 10 + 50)
    assert everything.summary()['p99'] > 20_000          # us: the start's 30 ms
    assert steady.count == 100 and steady.summary()['p99'] <= 2_000
    assert math.isnan(SteadyPercentiles(5, 1).summary()['p99'])   # nothing after warm-up yet

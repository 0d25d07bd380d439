"""The sim's command delay line, on a fake clock."""

import math

import pytest

from symphony_ros.sim.config import SimConfig
from symphony_ros.sim.delay import APPLIED_LINE, DelayLine


class FakeClock:
    """Seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_no_delay_applies_each_command_at_once():
    clock = FakeClock()
    line = DelayLine(0.0, clock)
    assert line.current() == (None, -math.inf)
    line.push('a')
    assert line.current() == ('a', 100.0)
    clock.t += 0.01
    line.push('b')
    assert line.current() == ('b', 100.01)


def test_a_command_takes_effect_only_after_the_delay_and_in_order():
    clock = FakeClock()
    line = DelayLine(0.015, clock)
    line.push('a')
    clock.t += 0.010
    line.push('b')
    assert line.current()[0] is None           # 10 ms: 'a' is still on its way
    clock.t += 0.005
    assert line.current() == ('a', pytest.approx(100.015))
    clock.t += 0.0099
    assert line.current()[0] == 'a'            # 'b' is due at 100.025
    clock.t += 0.0002
    assert line.current() == ('b', pytest.approx(100.025))
    clock.t += 1.0
    assert line.current()[0] == 'b'            # nothing newer: the last one stays


def test_several_due_at_once_leave_the_latest():
    clock = FakeClock()
    line = DelayLine(0.02, clock)
    for c in 'abc':
        line.push(c)
        clock.t += 0.001
    clock.t += 0.05
    assert line.current()[0] == 'c'


def test_ages_of_the_applied_commands_include_the_delay():
    clock = FakeClock()
    line = DelayLine(0.03, clock)
    for _ in range(10):                        # one command and one step every 10 ms
        line.push('u')
        clock.t += 0.01
        if line.current()[0] is not None:
            line.applied()
    s = line.summary()
    assert s['steps'] == 8 and s['median_ms'] == pytest.approx(30.0)
    m = APPLIED_LINE.search('done: 12 steps; ' + line.describe())
    assert m and float(m.group(1)) == 30.0 and int(m.group(2)) == 8
    assert float(m.group(3)) == 0.03
    assert 'nan' not in DelayLine(0.0, clock).describe()   # a run without any command


def test_bad_delays_are_refused():
    with pytest.raises(ValueError, match='command_delay: expected a number >= 0'):
        DelayLine(-0.01, FakeClock())
    with pytest.raises(ValueError, match='command_delay: expected a number 0 to 1'):
        SimConfig(command_delay=-0.01)
    with pytest.raises(ValueError, match='command_delay: 0.01 s needs timing realtime'):
        SimConfig(command_delay=0.01, timing='lockstep').validate()

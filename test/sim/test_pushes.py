"""Base kicks of the sim (push_velocity): when, how hard, replayed per episode."""

import math

import numpy as np
import pytest

from symphony_ros.sim.config import SimConfig
from symphony_ros.sim.pushes import PUSH_LINE, Pushes
from symphony_ros.sim.session import SimSession


def _kicks(p, until, dt=0.015):
    out, t = [], 0.0
    while t < until:
        k = p.due(t)
        if k is not None:
            out.append((round(t, 6), k))
        t += dt
    return out


def test_kicks_come_at_the_drawn_intervals_with_the_given_size():
    p = Pushes(1.5, (2.0, 3.0), seed=4)
    p.start(0)
    kicks = _kicks(p, 30.0)
    times = [t for t, _ in kicks]
    assert 2.0 <= times[0] <= 3.0 + 0.015
    gaps = np.diff(times)
    assert np.all(gaps >= 2.0 - 1e-9) and np.all(gaps <= 3.0 + 0.015)
    assert all(math.hypot(*k) == pytest.approx(1.5) for _, k in kicks)
    headings = {round(math.atan2(k[1], k[0]), 3) for _, k in kicks}
    assert len(headings) == len(kicks)          # a heading drawn per kick
    assert p.kicks == len(kicks)
    m = PUSH_LINE.search('run finished; ' + p.describe())
    assert m and int(m.group(1)) == len(kicks) and float(m.group(2)) == 1.5


def test_an_episode_replays_its_kicks_and_differs_from_the_next():
    p = Pushes(1.0, (1.0, 2.0), seed=7)
    p.start(3)
    first = _kicks(p, 10.0)
    p.start(4)
    other = _kicks(p, 10.0)
    p.start(3)
    assert _kicks(p, 10.0) == first and first != other
    p.start(3, t0=100.0)                # an episode that began at 100 s (no reset)
    assert p.due(100.5) is None and p.due(first[0][0] + 100.0) == first[0][1]


def test_a_fixed_interval_and_bad_settings():
    p = Pushes(0.5, (1.0, 1.0), seed=0)
    p.start(0)
    assert [t for t, _ in _kicks(p, 3.5, dt=0.5)] == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match='push_velocity'):
        Pushes(0.0, (1.0, 2.0), 0)
    with pytest.raises(ValueError, match='push_interval_min: 3.0 s is above push_interval_max'):
        SimConfig(push_velocity=1.0, push_interval_min=3.0, push_interval_max=2.0).validate()
    with pytest.raises(ValueError, match='push_velocity'):
        SimConfig(push_velocity=-1.0)


def _base_xy_vel(session):
    return session.sim.data.qvel[:2].copy()


def test_the_session_kicks_the_base_when_due_and_only_then():
    kw = dict(push_interval_min=0.15, push_interval_max=0.15, episode_steps=0, seed=2)
    pushed = SimSession(SimConfig(push_velocity=1.0, **kw), lambda: 0.0)
    plain = SimSession(SimConfig(**kw), lambda: 0.0)
    expected = Pushes(1.0, (0.15, 0.15), 2)
    expected.start(0)                   # the session's first episode draws this stream
    kicked_at = None
    for i in range(20):
        kick = expected.due(plain.sim.time)
        pushed.advance(None)
        plain.advance(None)
        change = _base_xy_vel(pushed) - _base_xy_vel(plain)
        if kicked_at is None and kick is None:
            assert np.array_equal(change, np.zeros(2))      # the same robot until the kick
        elif kicked_at is None:
            kicked_at = i
            assert change == pytest.approx(np.array(kick), abs=0.15)   # one step after it
    assert kicked_at == round(0.15 / pushed.sim.robot.control_dt)
    assert pushed.pushes.kicks == 1 and plain.pushes is None


def test_each_kick_is_recorded_from_the_robots_heading_and_reaches_the_episode_line():
    p = Pushes(1.0, (1.0, 1.0), seed=3)
    p.start(0, t0=10.0)
    kick = p.due(11.0, yaw=math.pi / 2)             # the robot faces +y
    heading = math.atan2(kick[1], kick[0])
    assert p.given == [(1.0, pytest.approx(math.remainder(heading - math.pi / 2, 2 * math.pi)))]
    p.start(1)
    assert p.given == []                            # a new episode's own list

    cfg = SimConfig(push_velocity=1.0, push_interval_min=0.15, push_interval_max=0.15,
                    episode_steps=30, seed=2)
    session = SimSession(cfg, lambda: 0.0)
    finished, headings = None, []
    while finished is None:
        headings.append(session.sim.heading())
        _, finished = session.advance(None)
    dt = session.sim.robot.control_dt
    times = [t for t, _ in finished.kicks]
    assert len(times) == session.pushes.kicks >= 2
    assert times == pytest.approx([0.15 * (k + 1) for k in range(len(times))], abs=dt)
    replay = Pushes(1.0, (0.15, 0.15), 2)
    replay.start(0)
    for t, bearing in finished.kicks:               # bearing = kick heading - robot yaw
        vx, vy = replay.due(t + 1e-9)
        yaw = headings[round(t / dt)]
        assert bearing == pytest.approx(math.remainder(math.atan2(vy, vx) - yaw, 2 * math.pi))
    from symphony_ros.sim.episodes import KICK_PART, episode_line
    line = episode_line(finished)
    assert [float(t) for t, _ in KICK_PART.findall(line)] == pytest.approx(times, abs=0.005)

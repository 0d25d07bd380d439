"""SimSession: the sim node's stepping, scoring and episode rules, on an injected clock."""

import numpy as np
import pytest

from symphony_ros.robot import get_robot
from symphony_ros.sim.config import SimConfig
from symphony_ros.sim.session import EPOCH, SimSession


class FakeClock:
    """Steady seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _session(**kw):
    clock = FakeClock()
    return SimSession(SimConfig(**kw), clock), clock


def test_a_delayed_command_reaches_the_motors_when_due_and_none_once_stale():
    s, clock = _session(command_delay=0.02, command_timeout=0.05)
    torque = np.full(len(s.names), 0.5)
    s.take_command(torque)
    assert s.current_command() is None              # not due yet: nothing applied
    clock.t += 0.021
    assert np.array_equal(s.current_command(), torque)
    clock.t += 0.04
    assert np.array_equal(s.current_command(), torque)   # its age counts from when due
    clock.t += 0.02
    assert s.current_command() is None              # stale: zero torque, never the old one
    assert s.commands.summary()['steps'] == 2


def test_stamps_start_after_zero_and_never_go_back_across_resets():
    s, _ = _session(episode_steps=3)
    first = s.stamp()
    assert first == pytest.approx(EPOCH)
    stamps = [first]
    for _ in range(7):
        _, finished = s.advance(None)
        stamps.append(s.stamp())
        s.conclude(finished)
        stamps.append(s.stamp())
    assert all(b > a for a, b in zip(stamps[::2], stamps[2::2]))
    assert s.sim.resets >= 2
    before = s.stamp()
    s.reset_robot()                                 # ~/reset: one period on, not back
    assert s.stamp() == pytest.approx(before + s.sim.robot.control_dt)


def test_a_time_limit_ends_the_episode_resets_the_robot_and_counts_toward_the_budget():
    s, _ = _session(episode_steps=2, max_episodes=2)
    ends = []
    for _ in range(4):
        reward, finished = s.advance(None)
        assert np.isfinite(reward)
        ends.append(s.conclude(finished))
    assert [e.ended is not None for e in ends] == [False, True, False, True]
    assert [e.reset for e in ends] == [False, True, False, True]
    assert not any(e.fall_reset for e in ends)
    assert [e.done for e in ends] == [False, False, False, True]
    assert [ep.length for ep in s.episodes] == [2, 2] and s.ticks == 4


def test_without_auto_reset_a_fall_ends_the_episode_and_the_robot_lies_where_it_fell():
    # A base height range no standing humanoid is in: the first step counts as a fall.
    s, _ = _session(auto_reset=False, healthy_z_min=5.0, healthy_z_max=6.0)
    _, finished = s.advance(None)
    end = s.conclude(finished)
    assert end.ended is not None and end.ended.fallen
    assert not end.reset and s.sim.resets == 1      # the reset at start-up only
    assert s.tracker.steps == 0                     # a new episode began where it lies


def test_the_gantry_holds_only_before_an_episodes_first_step():
    s, _ = _session(wait_for_active=True, episode_steps=2)
    assert s.held()
    s.conclude(s.advance(None)[1])
    assert not s.held()
    s.conclude(s.advance(None)[1])                  # the time limit: reset, held again
    assert s.held()
    assert not _session(wait_for_active=False)[0].held()


def test_a_velocity_robot_is_scored_against_its_own_command_clipped_to_the_task():
    g1 = get_robot('g1')
    s, _ = _session(robot='g1', command_input='position', cmd_vel='5.0,0.0,0.2')
    high = s.cmd_vel.high
    assert 'clip' in s.cmd_problem
    assert np.allclose(s.velocity_command(), [high[0], 0.0, 0.2])
    s.gains = np.concatenate([g1.kp, g1.kd])
    s.take_policy_targets(g1.default_pose())
    assert np.allclose(s.action, 0.0)
    s.take_command(g1.default_pose())
    reward, finished = s.advance(s.current_command())
    assert np.isfinite(reward) and finished is None
    assert np.abs(s.sim.data.actuator_force).max() > 0     # the servos pushed
    s.take_policy_targets(None)
    assert s.action is None


def test_the_start_up_line_says_robot_timing_inputs_kicks_and_commands():
    assert _session()[0].describe() == 'humanoid: 17 joints, dt 0.0150 s, timing realtime'
    g1, _ = _session(robot='g1', push_velocity=0.5, cmd_vel='random')
    line = g1.describe(substeps=4)
    assert line.startswith('g1: 29 joints, dt 0.0200 s, timing realtime, effort commands, '
                           'state at 200 Hz, base kicks of 0.5 m/s every 5-10 s; commands '
                           'drawn on cmd_vel')
    fixed, _ = _session(robot='g1', command_input='position', cmd_vel='0.5,0,0')
    assert fixed.describe() == ('g1: 29 joints, dt 0.0200 s, timing realtime, position '
                                'commands; command 0.5,0,0 on cmd_vel')

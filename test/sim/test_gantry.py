"""Gantry: the sim's hold-until-ACTIVE and re-arm rules on a fake steady clock."""

import pytest

from symphony_ros.sim.gantry import Gantry, REARM_GIVE_UP, SETTLE


class Clock:
    def __init__(self):
        self.t = 50.0

    def __call__(self):
        return self.t


@pytest.fixture
def clock():
    return Clock()


def test_an_episode_waits_for_active_and_for_no_pending_rearm(clock):
    g = Gantry(clock)
    for state in ('', 'DISARMED', 'ARMED', 'RAMP 0.3'):
        g.on_state(state)
        assert not g.armed(), state
    g.on_state('ACTIVE')
    assert g.armed()
    g.robot_reset()   # the robot fell and was reset: the old ACTIVE does not count
    assert not g.armed()


def test_after_a_fall_the_sim_asks_for_the_watchdog_reset_until_it_rearms(clock):
    g = Gantry(clock)
    g.on_state('ACTIVE')
    g.robot_reset()
    g.on_state('FAULT tilt: base tilt 0.9 rad beyond max_tilt 0.8')
    for _ in range(3):
        clock.t += 0.05
        assert g.poll(held=True).request_reset
    g.on_state('DISARMED')   # the reset took; auto_arm arms it
    clock.t += 0.05
    assert not g.poll(held=True).request_reset
    g.on_state('RAMP 0.1')
    assert not g.pending
    g.on_state('ACTIVE')
    assert g.armed()


def test_a_fault_seen_within_settle_of_the_reset_is_still_the_falls(clock):
    # The watchdog sees the fallen state a tick after the sim: a DISARMED shortly after the
    # reset may still turn into the fall's FAULT, so the re-arm stays pending for SETTLE.
    g = Gantry(clock)
    g.robot_reset()
    g.on_state('DISARMED')
    clock.t += SETTLE / 2
    g.poll(held=True)
    assert g.pending
    g.on_state('FAULT tilt')
    assert g.poll(held=True).request_reset
    g.on_state('DISARMED')
    clock.t += SETTLE * 2
    g.poll(held=True)
    assert not g.pending


def test_a_fault_the_reset_does_not_clear_is_left_to_the_operator(clock):
    g = Gantry(clock)
    g.robot_reset()
    g.on_state('FAULT estop: pressed')
    clock.t += REARM_GIVE_UP / 2
    assert g.poll(held=False).request_reset
    clock.t += REARM_GIVE_UP
    poll = g.poll(held=False)
    assert not poll.request_reset and 'leaves it to you' in poll.warning
    assert not g.pending
    clock.t += 1.0
    assert g.poll(held=False) == (False, '', ''), 'and it does not ask again'


def test_a_fault_while_held_is_reset_once_per_fault(clock):
    g = Gantry(clock)
    g.on_state('FAULT joint_states_stale: no joint_states for 60 ms')
    assert g.poll(held=False) == (False, '', ''), 'a robot that moves had its chance'
    poll = g.poll(held=True)
    assert poll.request_reset and 'while the robot is held' in poll.info
    clock.t += REARM_GIVE_UP + 0.1   # the watchdog refuses: give up on this one
    assert g.poll(held=True).warning
    assert not g.poll(held=True).request_reset, 'the same FAULT is not asked about again'
    g.on_state('FAULT command_stale: last valid command 50 ms ago')
    assert g.poll(held=True).request_reset, 'a new FAULT is'


def test_the_same_fault_text_again_after_a_ramp_is_a_new_fault(clock):
    # Seen under load: FAULT command_stale, reset, RAMP, the same FAULT again: the robot stayed
    # held for good, since the second FAULT read as the first.
    g = Gantry(clock)
    stale = 'FAULT command_stale: last valid command 60 ms ago (timeout 60 ms)'
    g.on_state(stale)
    assert g.poll(held=True).request_reset
    g.on_state('RAMP')
    clock.t += 0.2
    assert not g.poll(held=True).request_reset and not g.pending
    g.on_state(stale)
    assert g.poll(held=True).request_reset, 'the second entry into FAULT is asked about'
    g.on_state(stale)   # the state repeated, no new entry
    g.on_state('DISARMED')
    g.on_state('RAMP')
    g.on_state('ACTIVE')
    assert g.armed()


def test_without_a_watchdog_the_sim_never_asks(clock):
    g = Gantry(clock, rearm=False)
    g.on_state('ACTIVE')
    g.robot_reset()
    assert g.armed() and not g.pending

"""The lockstep gate steps the sim only on the command that answers the published state."""

import numpy as np

from symphony_ros.sim.lockstep import (
    FALLBACK_OUTPUTS, LockstepGate, passed_through, passed_through_target)


def test_waits_for_the_answer_then_for_the_watchdog_to_pass_it_on():
    gate = LockstepGate()
    old, new = np.zeros(3), np.ones(3)
    gate.hardware(old)
    gate.state_published()
    assert not gate.ready('t1', policy_present=True)
    gate.hardware(old)                   # the watchdog still sends the previous torque
    assert not gate.ready('t1', True)
    gate.policy('t1')                    # the policy's answer to this state arrives
    assert not gate.ready('t1', True)
    gate.hardware(old)                   # output that left before the watchdog took it in
    assert not gate.ready('t1', True)
    gate.hardware(new)                   # the answer, passed on
    assert gate.ready('t1', True) and np.array_equal(gate.torque, new)
    assert not gate.ready('t2', True)    # an answer is for one state only


def test_an_answer_that_changes_nothing_shows_after_the_fallback_outputs():
    gate = LockstepGate(fallback_outputs=4)
    same = np.full(3, 2.0)
    gate.hardware(same)
    gate.state_published()
    gate.policy('t1')
    for _ in range(3):
        gate.hardware(same)
        assert not gate.ready('t1', True)
    gate.hardware(same)
    assert gate.ready('t1', True)


def test_first_output_counts_as_a_change_and_malformed_ones_do_not():
    gate = LockstepGate()
    gate.state_published()
    gate.policy('t1')
    gate.hardware(None)                  # a malformed command: no torque
    assert not gate.ready('t1', True)
    gate.hardware(np.ones(3))
    assert gate.ready('t1', True)


def test_without_a_policy_two_outputs_after_the_state_will_do():
    gate = LockstepGate()
    gate.hardware(np.zeros(3))
    gate.state_published()
    gate.hardware(np.zeros(3))
    assert not gate.ready('t1', policy_present=False)
    gate.hardware(np.zeros(3))
    assert gate.ready('t1', policy_present=False)


def test_an_answer_from_before_the_publication_does_not_count():
    # A held state is republished with the same stamp; while the watchdog ramps in, its
    # outputs change after every answer. Only an answer to this publication counts.
    gate = LockstepGate(fallback_outputs=3)
    gate.policy('t1')                    # answer to the previous publication of t1
    gate.hardware(np.full(3, 0.5))       # a ramp output: changed, but not the answer
    gate.state_published()
    assert not gate.ready('t1', True)
    gate.policy('t1')
    gate.hardware(np.full(3, 0.5))
    assert not gate.ready('t1', True)
    gate.hardware(np.ones(3))
    assert gate.ready('t1', True)


def test_an_active_watchdog_lagging_the_answer_is_waited_for_not_taken_by_count():
    # The watchdog's executor takes the command in late; meanwhile its output thread keeps
    # sending the previous torque. Counting outputs would step with that torque (the source
    # of lockstep runs that differed from run to run); the answer is recognised by value.
    gate = LockstepGate(fallback_outputs=3)
    limits = np.full(3, 1.0)
    old, command = np.zeros(3), np.array([0.5, -2.0, 0.25])
    gate.hardware(old)
    gate.state_published()
    gate.policy('t1', passed_through(command, limits))
    for _ in range(200):
        gate.hardware(old)
        assert not gate.ready('t1', True, active=True)
    gate.hardware(np.array([0.5, -1.0, 0.25]))   # the command, clamped as the watchdog does
    assert gate.ready('t1', True, active=True)
    np.testing.assert_array_equal(gate.torque, [0.5, -1.0, 0.25])
    assert gate.timed == 0


def test_an_answer_equal_to_the_previous_torque_steps_at_once():
    gate = LockstepGate()
    same = np.full(3, 0.5)
    gate.hardware(same)
    gate.state_published()
    gate.policy('t1', same.copy())
    assert gate.ready('t1', True, active=True) and gate.timed == 0


def test_an_answer_the_watchdog_altered_is_taken_at_once_and_counted():
    # A soft-limit cut or a FAULT's safe output: no output equals the command, but one that
    # differs from the output before the state is the watchdog's answer.
    gate = LockstepGate()
    gate.hardware(np.zeros(3))
    gate.state_published()
    gate.policy('t1', np.ones(3))
    gate.hardware(np.zeros(3))
    assert not gate.ready('t1', True, active=True)
    gate.hardware(np.array([1.0, 0.0, 1.0]))
    assert gate.ready('t1', True, active=True) and (gate.altered, gate.timed) == (1, 0)
    # Not ACTIVE (ramp, FAULT): the first changed output, as without an expected value.
    gate.state_published()
    gate.policy('t2', np.ones(3))
    gate.hardware(np.zeros(3))
    assert gate.ready('t2', True, active=False) and (gate.altered, gate.timed) == (1, 1)


def test_a_position_target_is_predicted_as_it_came_and_a_lagging_watchdog_waited_for():
    # The position path: the watchdog forwards the target (clamped only where a soft limit
    # binds), so the gate waits for it however many outputs of the old one come first.
    gate = LockstepGate()
    old, target = np.array([0.1, -0.2]), [0.3, -0.25]
    gate.hardware(old)
    gate.state_published()
    gate.policy('t1', passed_through_target(target))
    for _ in range(3 * FALLBACK_OUTPUTS):
        gate.hardware(old.copy())
        assert not gate.ready('t1', True, active=True)
    gate.hardware(np.array(target))
    assert gate.ready('t1', True, active=True) and gate.timed == 0


def test_answered_tells_the_policy_command_for_a_state_apart_from_the_hardware():
    gate = LockstepGate()
    gate.state_published()
    assert not gate.answered('t1')
    gate.policy('t0', None)
    assert not gate.answered('t1')
    gate.policy('t1', None)
    assert gate.answered('t1') and not gate.ready('t1', True, active=True)


def test_a_clamped_target_repeating_the_previous_answer_is_taken_from_the_output_before():
    # A held state answered again with the same target, which the watchdog clamps: the output
    # before the state already is that answer, and no other will come.
    gate = LockstepGate(targets=True)
    target, clamped = np.array([0.3, -0.9]), np.array([0.3, -0.5])
    gate.state_published()
    gate.policy('t0', passed_through_target(target))
    gate.hardware(clamped)
    assert gate.ready('t0', True, active=True) and gate.altered == 1
    gate.state_published()
    gate.policy('t1', passed_through_target(target.copy()))
    assert gate.ready('t1', True, active=True) and (gate.altered, gate.timed) == (2, 0)
    # A new target: the old output is not its answer, whatever it is clamped to.
    gate.state_published()
    gate.policy('t2', passed_through_target([0.2, -0.9]))
    assert not gate.ready('t2', True, active=True)
    gate.hardware(np.array([0.2, -0.5]))
    assert gate.ready('t2', True, active=True) and gate.altered == 3
    # A torque's alteration depends on the joint state too: a repeated torque is waited for.
    gate = LockstepGate()
    gate.state_published()
    gate.policy('t3', passed_through([0.2, -0.5], np.ones(2)))
    gate.state_published()
    gate.policy('t4', passed_through([0.2, -0.5], np.ones(2)))
    gate.hardware(np.array([0.2, -0.5]))
    assert gate.ready('t4', True, active=True)      # equal to the expected: no rule bound
    gate.state_published()
    gate.policy('t5', np.array([0.2, -0.9]))
    gate.hardware(np.array([0.2, -0.5]))
    gate.state_published()
    gate.policy('t6', np.array([0.2, -0.9]))
    assert not gate.ready('t6', True, active=True)

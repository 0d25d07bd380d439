"""When a lockstep tick may step: the command that answers the published state has arrived.

In lockstep the sim publishes a state and waits. The policy answers with a command stamped
with that state's stamp; the watchdog passes it on at its next output (500 Hz, steady
clock, from a thread of its own), which the sim receives as the hardware command. That
output carries no stamp, so the gate recognises it by value: an ACTIVE watchdog passes a
torque command on as :func:`passed_through` says (clamped to the effort limits, bit for
bit) and a position target as it came (:func:`passed_through_target`), and the first
hardware output equal to that is the answer, however late the watchdog takes the command
in. Waiting for the output to merely *change*, or for a few outputs, is not enough: a
watchdog whose executor lags the policy's answer keeps sending the previous command, and
the sim would step with it, a different command from one run to the next.

While the output still equals the one sent before the state was published, an ACTIVE
watchdog has not taken the answer in: the gate waits (up to the sim's lockstep_timeout).
An output that differs from both is the answer as a safety rule altered it (a target
clamped into the soft limits, which depends on the target alone; the soft-limit cut of a
torque, which depends on the joint state the watchdog holds; a FAULT's safe output) and is
taken at once, counted in :attr:`LockstepGate.altered`. An altered position target equal
to the previous state's answer leaves the output as it was (the clamp depends on the target
alone): the output from before the state is then the answer, taken at once as well; waiting
for a change that never comes would step the tick on zero torque after lockstep_timeout.
A watchdog that is not ACTIVE (ramp, FAULT), or a command whose joints are not in the sim's
order, falls back on timing: the first output that differs from the one before the
answer, or ``fallback_outputs`` outputs after it. Ticks decided without the predicted value
are counted in :attr:`LockstepGate.timed`: which output answered them can depend on timing.
Without a policy on the graph (someone drives the hardware topic directly), two outputs
after the state will do.
"""

from __future__ import annotations

from typing import Hashable, Optional, Sequence

import numpy as np

from ..safety.checks import clamp

FALLBACK_OUTPUTS = 6
"""Hardware outputs after the policy's answer that show it when its value is not predicted."""
PLAIN_OUTPUTS = 2
"""Hardware outputs after the state when no policy publishes on the graph."""


def passed_through(command: Sequence[float], effort_limits: np.ndarray) -> np.ndarray:
    """Return the hardware command an ACTIVE watchdog sends for ``command`` (N*m).

    Its output is the command clamped to the effort limits; the soft-limit cut and the rate
    limit (lifted in lockstep) only act where a rule binds. The evaluator pairs recorded
    outputs with commands by the same rule.
    """
    return clamp(np.asarray(command, dtype=np.float64), effort_limits)


def passed_through_target(target: Sequence[float]) -> np.ndarray:
    """Return the position output an ACTIVE watchdog sends for ``target`` (rad).

    The target itself: the watchdog clamps it into soft limits the sim does not know, and
    a clamped target reads as an answer a safety rule altered.
    """
    return np.asarray(target, dtype=np.float64)


class LockstepGate:
    """Track hardware and policy commands; tell when the current state has been answered."""

    def __init__(self, fallback_outputs: int = FALLBACK_OUTPUTS,
                 plain_outputs: int = PLAIN_OUTPUTS, targets: bool = False) -> None:
        """Set how many outputs count as an answer when its value is not predicted.

        :param targets: the commands are position targets, which a safety rule alters by
            their value alone (a torque's soft-limit cut also depends on the joint state).
        """
        self.fallback_outputs, self.plain_outputs = fallback_outputs, plain_outputs
        self.targets = targets
        self.outputs = 0
        self.torque: Optional[np.ndarray] = None
        """The newest hardware command (None: none yet, or a malformed one)."""
        self.timed = 0
        """Ticks answered by timing (the watchdog not ACTIVE, or no prediction)."""
        self.altered = 0
        """Ticks answered by the command as an ACTIVE watchdog's safety rule altered it."""
        self._policy_stamp: Optional[Hashable] = None
        self._expected: Optional[np.ndarray] = None
        self._previous: Optional[np.ndarray] = None
        """The previous state's answer, as expected (None: none, or not predicted)."""
        self._outputs_at_answer = 0
        self._torque_at_answer: Optional[np.ndarray] = None
        self._outputs_at_state = 0
        self._torque_at_state: Optional[np.ndarray] = None

    def hardware(self, torque: Optional[np.ndarray]) -> None:
        """Record one hardware command (the watchdog's output)."""
        self.torque = torque
        self.outputs += 1

    def policy(self, stamp: Hashable, expected: Optional[np.ndarray] = None) -> None:
        """Record the policy's command for the state stamped ``stamp``.

        :param expected: the hardware command it becomes when passed on unaltered
            (:func:`passed_through`, :func:`passed_through_target`); None when unknown.
        """
        self._policy_stamp = stamp
        self._expected = expected
        self._outputs_at_answer = self.outputs
        self._torque_at_answer = self.torque

    def state_published(self) -> None:
        """Mark the publication of a new state: only answers that come after it count.

        A state held and republished (episode start, while the watchdog arms) keeps its
        stamp, so an answer from before this publication would match it, and the
        watchdog's ramp outputs that followed would pass for the answer.
        """
        self._outputs_at_state = self.outputs
        self._torque_at_state = self.torque
        self._policy_stamp = None
        self._previous, self._expected = self._expected, None

    def answered(self, stamp: Hashable) -> bool:
        """Tell whether the policy has answered the state stamped ``stamp`` (its command)."""
        return self._policy_stamp == stamp

    def ready(self, stamp: Hashable, policy_present: bool, active: bool = False) -> bool:
        """Tell whether the hardware command now answers the state stamped ``stamp``.

        :param active: the watchdog reports ACTIVE, so it passes commands on unaltered
            unless a safety rule binds.
        """
        if not policy_present:
            return self.outputs >= self._outputs_at_state + self.plain_outputs
        if not self.answered(stamp):
            return False
        if (self._expected is not None and self.torque is not None
                and np.array_equal(self.torque, self._expected)):
            return True
        if active and self._expected is not None:
            # Still the output from before the state: the watchdog has not taken the answer
            # in yet, so wait. Another one: the answer as a safety rule altered it.
            altered = self._output_differs_from(self._torque_at_state) or (
                self.targets and self.torque is not None and self._previous is not None
                and np.array_equal(self._expected, self._previous))
            self.altered += altered
            return altered
        n = self.outputs - self._outputs_at_answer
        changed = self._output_differs_from(self._torque_at_answer)
        timed = (n >= 1 and changed) or n >= self.fallback_outputs
        self.timed += timed
        return timed

    def _output_differs_from(self, earlier: Optional[np.ndarray]) -> bool:
        """Whether the newest (well-formed) output differs from ``earlier`` (None: any)."""
        return self.torque is not None and (
            earlier is None or not np.array_equal(self.torque, earlier))

    def describe(self) -> str:
        """Say what the gate has seen, for the log line of a lockstep timeout."""
        return (f'{self.outputs - self._outputs_at_state} hardware outputs since the state, '
                f'policy answer stamped {self._policy_stamp}, '
                f'{self.outputs - self._outputs_at_answer} outputs since it')

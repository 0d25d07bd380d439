"""When a lockstep tick may step: the command that answers the published state has arrived.

In lockstep the sim publishes a state and waits. The policy answers with a command stamped
with that state's stamp; the watchdog passes it on at its next output (500 Hz, steady
clock), which the sim receives as the hardware command. The watchdog's next output or two
may already have left before it took the answer in, so the gate waits for the output to
*change* after the answer; an answer that changes nothing (same torque, or cut by the
watchdog) shows after ``fallback_outputs`` outputs. Without a policy on the graph (someone
drives the hardware topic directly), two outputs after the state will do.
"""

from __future__ import annotations

from typing import Hashable, Optional

import numpy as np

FALLBACK_OUTPUTS = 6
"""Hardware outputs after the policy's answer that show it even when it changed nothing."""
PLAIN_OUTPUTS = 2
"""Hardware outputs after the state when no policy publishes on the graph."""


class LockstepGate:
    """Track hardware and policy commands; tell when the current state has been answered."""

    def __init__(self, fallback_outputs: int = FALLBACK_OUTPUTS,
                 plain_outputs: int = PLAIN_OUTPUTS) -> None:
        """Set how many outputs count as an answer when nothing changes."""
        self.fallback_outputs, self.plain_outputs = fallback_outputs, plain_outputs
        self.outputs = 0
        self.torque: Optional[np.ndarray] = None
        """The newest hardware command (None: none yet, or a malformed one)."""
        self._policy_stamp: Optional[Hashable] = None
        self._outputs_at_answer = 0
        self._torque_at_answer: Optional[np.ndarray] = None
        self._outputs_at_state = 0

    def hardware(self, torque: Optional[np.ndarray]) -> None:
        """Record one hardware command (the watchdog's output)."""
        self.torque = torque
        self.outputs += 1

    def policy(self, stamp: Hashable) -> None:
        """Record the policy's command for the state stamped ``stamp``."""
        self._policy_stamp = stamp
        self._outputs_at_answer = self.outputs
        self._torque_at_answer = self.torque

    def state_published(self) -> None:
        """Mark the publication of a new state: only answers that come after it count.

        A state held and republished (episode start, while the watchdog arms) keeps its
        stamp, so an answer from before this publication would match it, and the
        watchdog's ramp outputs that followed would pass for the answer.
        """
        self._outputs_at_state = self.outputs
        self._policy_stamp = None

    def ready(self, stamp: Hashable, policy_present: bool) -> bool:
        """Tell whether the hardware command now answers the state stamped ``stamp``."""
        if not policy_present:
            return self.outputs >= self._outputs_at_state + self.plain_outputs
        if self._policy_stamp != stamp:
            return False
        n = self.outputs - self._outputs_at_answer
        changed = self.torque is not None and (
            self._torque_at_answer is None
            or not np.array_equal(self.torque, self._torque_at_answer))
        return (n >= 1 and changed) or n >= self.fallback_outputs

    def describe(self) -> str:
        """Say what the gate has seen, for the log line of a lockstep timeout."""
        return (f'{self.outputs - self._outputs_at_state} hardware outputs since the state, '
                f'policy answer stamped {self._policy_stamp}, '
                f'{self.outputs - self._outputs_at_answer} outputs since it')

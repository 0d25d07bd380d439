"""The sim's side of the watchdog hand-over: hold the robot until ACTIVE, re-arm after a fall.

Pure rules on the watchdog's state text and an injected steady clock; mujoco_sim_node only
delivers the state messages, polls every :data:`REARM_PERIOD` and makes the service call.

* A robot on its gantry (no step of the episode taken yet) stays frozen until the watchdog
  reports ACTIVE, so no episode starts under the safe output or the ramp.
* After the sim resets a fallen robot, the watchdog's latched FAULT (tilt, mostly) no longer
  has a cause: ask for its reset until it takes; auto_arm does the rest.
* A FAULT raised while the robot is held (a state a few ms late while the graph starts on a
  loaded machine) would hold it there for good, since no fall comes to reset it: ask for the
  watchdog's reset once per FAULT, a FAULT being each entry into it (two in a row may read
  alike: the same stale input after the same ramp). The watchdog refuses while a cause
  persists (an e-stop), so this clears transients only.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

REARM_PERIOD = 0.05
"""s between polls, so between reset requests while one is pending."""
SETTLE = 0.15
"""s after a reset in which a FAULT the watchdog reports is still the fall's: it sees the
fallen state a tick after the sim does. Later FAULTs are not the sim's to clear."""
REARM_GIVE_UP = 2.0
"""s after a reset after which a FAULT the reset requests do not clear is left to the
operator: it is not the fall's (an e-stop, a second publisher)."""
SETTLE_OUTPUTS = 10
"""Watchdog outputs the lockstep sim lets pass after ACTIVE before an episode's first tick:
the state message saying ACTIVE can overtake the last ramp outputs (another topic), and one
of those read as the first tick's command would scale its torque."""


class Poll(NamedTuple):
    """What the node does after a poll."""

    request_reset: bool = False
    """Call the watchdog's ~/reset (unless a call is still in flight)."""
    info: str = ''
    """A line to log at info level ('' = none)."""
    warning: str = ''
    """A line to log at warning level ('' = none)."""


class Gantry:
    """Hand-over state between the sim and the watchdog it resets."""

    def __init__(self, clock: Callable[[], float], rearm: bool = True) -> None:
        """Start with no watchdog state seen.

        :param clock: steady clock in seconds.
        :param rearm: whether there is a watchdog to reset (False: the sim never asks).
        """
        self.clock = clock
        self.rearm = rearm
        self.watchdog_state = ''
        self.pending = False
        """A reset of the watchdog is wanted (after a fall, or a FAULT while held)."""
        self._reset_time = -float('inf')
        self._held_fault = ''

    def on_state(self, text: str) -> None:
        """Take the watchdog's state message; RAMP or ACTIVE ends a pending re-arm."""
        self.watchdog_state = text
        if not text.startswith('FAULT'):
            self._held_fault = ''   # the next FAULT is a new one, whatever its text
        if text.startswith(('RAMP', 'ACTIVE')):
            self.pending = False

    def robot_reset(self) -> None:
        """Note that the sim reset the robot: the FAULT of the fall is now to be reset."""
        self._reset_time = self.clock()
        self.pending = self.rearm

    def active(self) -> bool:
        """Whether the watchdog's last reported state is ACTIVE (it passes commands on)."""
        return self.watchdog_state.startswith('ACTIVE')

    def armed(self) -> bool:
        """Whether an episode may start: the watchdog is ACTIVE and no re-arm is pending."""
        return not self.pending and self.active()

    def poll(self, held: bool) -> Poll:
        """Decide what to do now; ``held``: the robot is on its gantry."""
        fault = self.watchdog_state
        info = ''
        if (held and not self.pending and fault.startswith('FAULT')
                and fault != self._held_fault):
            self._held_fault = fault
            info = f'watchdog {fault!r} while the robot is held: asking for its reset'
            self._reset_time, self.pending = self.clock(), True
        if not self.pending:
            return Poll(info=info)
        since = self.clock() - self._reset_time
        if not fault.startswith('FAULT'):
            self.pending = since <= SETTLE
            return Poll(info=info)
        if since > REARM_GIVE_UP:
            self.pending = False
            return Poll(info=info, warning=(
                f'watchdog still {fault!r} {REARM_GIVE_UP:g} s after the reset: not the '
                'fall\'s FAULT, so the sim leaves it to you (~/reset)'))
        return Poll(request_reset=True, info=info)

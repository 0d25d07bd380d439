"""SCHED_FIFO for a node's threads: what a control loop on a robot computer runs under.

Needs root or CAP_SYS_NICE (and an rtprio limit); without them the node says why, once,
and runs on normal scheduling.
"""

from __future__ import annotations

import os
from typing import Optional


def set_thread_priority(tid: int, priority: int) -> Optional[str]:
    """Put one thread on SCHED_FIFO (priority 0: back to normal); return an error or None."""
    policy = os.SCHED_FIFO if priority else os.SCHED_OTHER
    try:
        os.sched_setscheduler(tid, policy, os.sched_param(priority))
    except ProcessLookupError:
        return None     # the thread ended meanwhile: nothing to schedule
    except (OSError, AttributeError) as exc:
        return f'realtime_priority {priority} not applied: {exc}'
    return None


def apply_realtime_priority(priority: int) -> Optional[str]:
    """Put every thread of this process (DDS's included) on SCHED_FIFO; error text or None.

    Priority 0 puts them back on normal scheduling.
    """
    for tid in os.listdir('/proc/self/task'):
        problem = set_thread_priority(int(tid), priority)
        if problem:
            return problem
    return None

"""Waiting at a node's end for reliable subscribers to acknowledge what it published."""

from __future__ import annotations

import time
from typing import Iterable

from rclpy.duration import Duration
from rclpy.publisher import Publisher


def wait_for_acks(pubs: Iterable[Publisher], seconds: float) -> None:
    """Wait for every publisher's acknowledgements, all within one ``seconds`` deadline.

    One deadline, not one per publisher: a subscriber that has gone away bounds the whole
    wait, however many topics it read. Best-effort publishers answer at once.
    """
    deadline = time.monotonic() + seconds
    for pub in pubs:
        left = max(0.0, deadline - time.monotonic())
        pub.wait_for_all_acked(Duration(nanoseconds=int(left * 1e9)))

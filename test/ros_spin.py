"""Spinning a test's probe node until what it listens for has come."""

import time
from typing import Callable, Iterable


def spin_until(node, until: Callable[[], object], seconds: float,
               watch: Iterable = ()) -> bool:
    """Spin ``node`` until ``until()`` holds or ``seconds`` pass; return ``until()``'s truth.

    Each process in ``watch`` (a ChildProcess or launch handle with ``.proc`` and ``.text``,
    or a Popen) must still run at every spin: one that died fails the test at once with its
    output, not with a timeout and an empty list later.
    """
    import rclpy

    watched = list(watch)
    end = time.monotonic() + seconds
    while time.monotonic() < end and not until():
        rclpy.spin_once(node, timeout_sec=0.05)
        for child in watched:
            proc = getattr(child, 'proc', child)
            assert proc.poll() is None, getattr(child, 'text', f'process {proc.pid} ended')
    return bool(until())

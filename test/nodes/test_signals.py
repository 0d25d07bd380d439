"""A stop asked while a node starts up is kept for its loop, not lost to the default action."""

import os
import signal

from symphony_ros.nodes.signals import keep_signals


def test_a_stop_asked_before_the_node_exists_is_kept():
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    got = []
    try:
        keep_signals(got.append)
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
        # Python runs a handler in the main thread before the next bytecode after delivery.
        assert sorted(got) == sorted([signal.SIGTERM, signal.SIGINT])
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)

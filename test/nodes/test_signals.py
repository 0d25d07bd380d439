"""A stop asked while a node starts up is kept for its loop, not lost to the default action."""

import faulthandler
import os
import signal
import subprocess
import sys
import textwrap

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
        faulthandler.cancel_dump_traceback_later()
        for s, handler in before.items():
            signal.signal(s, handler)


STUCK = textwrap.dedent('''
    import os, signal, sys, threading, time
    from symphony_ros.nodes.signals import keep_signals
    def teardown_that_hangs():
        threading.Event().wait()
    keep_signals(lambda _: None, stuck_after=float(sys.argv[1]))
    os.kill(os.getpid(), signal.SIGINT)
    threading.Thread(target=teardown_that_hangs, daemon=True).start()
    time.sleep(float(sys.argv[2]))
    print('exited')
''')


def test_a_node_still_alive_after_a_stop_signal_says_where_it_is_stuck():
    hung = subprocess.run([sys.executable, '-c', STUCK, '0.2', '3'], capture_output=True,
                          text=True, timeout=60)
    assert 'exited' in hung.stdout
    assert 'Timeout (0:00:00.200000)!' in hung.stderr, hung.stderr
    assert 'in teardown_that_hangs' in hung.stderr, hung.stderr
    prompt = subprocess.run([sys.executable, '-c', STUCK, '3', '0'], capture_output=True,
                            text=True, timeout=60)
    assert 'exited' in prompt.stdout and prompt.stderr == '', prompt.stderr

"""StopFlag: what signal handlers set, where a threading.Event could hang the process."""

import signal
import subprocess
import sys
import textwrap
import time

from symphony_ros.util.stop_flag import StopFlag

# A handler fired every 0.5 ms sets the flag while the main thread waits on it in short
# slices: with threading.Event in its place this hangs within a second (the handler blocks
# on the lock Event.wait holds in the same thread), the cause of a `symphony launch` that
# ignored Ctrl-C in CI.
STRESS = textwrap.dedent('''
    import signal, sys, time
    from symphony_ros.util.stop_flag import StopFlag
    flag, fired = StopFlag(), [0]
    def handler(signum, frame):
        fired[0] += 1
        flag.set()
    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.0005, 0.0005)
    end = time.monotonic() + 1.5
    while time.monotonic() < end:
        flag.wait(0.00001)
        flag._set = False
    signal.setitimer(signal.ITIMER_REAL, 0)
    print(fired[0])
''')


def test_a_signal_handler_setting_it_never_blocks_the_waiting_thread():
    done = subprocess.run([sys.executable, '-c', STRESS], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 300


def test_wait_ends_early_when_a_signal_handler_sets_it():
    flag = StopFlag()
    old = signal.signal(signal.SIGALRM, lambda *_: flag.set())
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        t0 = time.monotonic()
        assert flag.wait(5.0) is True
        assert time.monotonic() - t0 < 1.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_wait_times_out_false_and_set_is_sticky():
    flag = StopFlag()
    t0 = time.monotonic()
    assert flag.wait(0.05) is False and not flag.is_set()
    assert 0.05 <= time.monotonic() - t0 < 1.0
    flag.set()
    assert flag.is_set() and flag.wait(10.0) is True

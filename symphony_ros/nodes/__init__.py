"""Thin rclpy nodes: parameters in, messages <-> numpy, timers; logic lives in the core.

A node started as a program and stopped while it is still importing (rclpy, onnxruntime,
torch take seconds) exits quietly with 130 instead of printing a KeyboardInterrupt
traceback: a graph stopped during start-up is not an error of any node.
"""

import os
import signal
import sys


def _stop_during_start_up(signum, frame):
    """SIGINT before the program's ``main()`` runs: exit quietly; after: as Python does."""
    while frame is not None:
        if frame.f_code.co_name == 'main' and frame.f_globals.get('__name__') == '__main__':
            raise KeyboardInterrupt
        frame = frame.f_back
    # os._exit, not SystemExit: an exception raised at an arbitrary point of an import can
    # be wrapped (e.g. by __set_name__) and printed as a traceback after all.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(128 + signum)


# Only in a node's own process (python -m ... or a ros2 run entry point), never in a
# program that merely imports this package (tests, the CLI).
if (sys.argv[:1] == ['-m'] or os.path.basename(sys.argv[0] if sys.argv else '').endswith(
        '_node')) and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    signal.signal(signal.SIGINT, _stop_during_start_up)

"""SIGINT/SIGTERM for nodes that shut down on their own terms.

rclpy's handlers shut the context down at once, under a callback that may be mid-write (a
bag chunk, a checkpoint) or before the watchdog has slewed its output to zero. These nodes
start rclpy with ``SignalHandlerOptions.NO`` and install this instead: the signal is
recorded and the executor woken, and the node's own loop decides how to stop.
"""

from __future__ import annotations

import faulthandler
import signal
import sys
from typing import Any, Callable, Optional, Tuple, Type

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

SPIN_TIMEOUT = 0.1
"""Longest idle wait (s) of an executor whose loop ends on a signal's flag: the flag is seen
within it even when no guard condition or message wakes the wait."""

STUCK_STOP = 4.0
"""Seconds after a stop signal at which a node still running writes every thread's stack to
stderr: less than ``symphony launch``'s 5 s before SIGTERM, so a node hung in its teardown
says where in the launcher's log before it is killed."""


def keep_signals(on_signal: Callable[[int], None],
                 stuck_after: Optional[float] = STUCK_STOP) -> None:
    """On SIGINT or SIGTERM call ``on_signal(signum)``, in place of any earlier handler.

    Installed before the node is built, a stop asked during start-up is kept for the node's
    loop, which ends at once through its usual shutdown, where the default action would end
    the process without it; `stop_on_signals` then installs one that also wakes the executor.
    A process still alive ``stuck_after`` s after the signal dumps its threads' stacks to
    stderr (None: never, for nodes whose stop may legitimately take long, e.g. a checkpoint).
    """
    def request_stop(signum: int, frame: Any) -> None:
        if stuck_after is not None:
            faulthandler.dump_traceback_later(stuck_after)
        on_signal(signum)
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)


def stop_on_signals(node: Node, on_signal: Callable[[int], None],
                    stuck_after: Optional[float] = STUCK_STOP) -> Callable[[], None]:
    """On SIGINT or SIGTERM call ``on_signal(signum)``, then wake ``node``'s executor.

    ``stuck_after`` as for `keep_signals`.

    Return the wake-up, for other events that must end a ``spin_once`` wait.
    """
    wake = node.create_guard_condition(lambda: None)

    def stop_and_wake(signum: int) -> None:
        on_signal(signum)
        try:
            wake.trigger()
        except Exception:  # noqa: BLE001 - rclpy's InvalidHandle is not public
            pass    # a second signal during destroy_node(): the stop is already under way
    keep_signals(stop_and_wake, stuck_after)
    return wake.trigger


def run_node(name: str, make: Callable[[], Node], refused: Tuple[Type[BaseException], ...],
             priority: Callable[[Node], int], args: Optional[list] = None) -> int:
    """Build a node with ``make``, spin it until SIGINT or SIGTERM, shut down; return the code.

    rclpy starts without its own signal handlers (module docstring): the handler only sets
    a flag, which the loop sees within one spin, so no KeyboardInterrupt lands inside
    rclpy's locks and hangs the shutdown. An exception of ``refused`` (bad parameters, a
    policy that does not fit) is said in one line, ``<name>: refusing to start: ...``, and
    gives exit code 2. ``priority(node)`` is its SCHED_FIFO priority (0: none); ``args``
    go to ``rclpy.init``.
    """
    from ..util.stop_flag import StopFlag
    from .realtime import apply_realtime_priority
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = StopFlag()
    keep_signals(lambda _: stop.set())
    node = None
    code = 0
    try:
        node = make()
        stop_on_signals(node, lambda _: stop.set())
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        if priority(node):
            problem = apply_realtime_priority(priority(node))
            if problem:
                node.get_logger().warning(problem)
        while not stop.is_set():
            executor.spin_once(timeout_sec=SPIN_TIMEOUT)
    except refused as exc:
        print(f'{name}: refusing to start: {exc}', file=sys.stderr)
        code = 2
    except ExternalShutdownException:
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return code

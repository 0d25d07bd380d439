"""The node behind ``symphony teleop``: key presses in, ``cmd_vel`` (geometry_msgs/Twist) out.

The command is published at a steady rate whether or not a key was pressed: policy_node
takes a command older than its ``cmd_vel_timeout`` as zero, so a teleop that only sent on
change would have a walking robot stop. Quitting (x, Ctrl-C, SIGTERM, the input's end) sends
a zero command before the node goes, so the robot is told to stand at once, not after the
timeout.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, List, Optional

import rclpy
from geometry_msgs.msg import Twist
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from ..deploy.teleop import HELP, KeyTeleop
from ..graph import topics
from ..util.keys import KeyReader
from .messages import COMMAND_QOS
from .signals import keep_signals

FINAL_ZEROS = 3
"""Zero commands sent on quitting, a period apart (one may be lost to a busy reader)."""


def _twist(command: tuple) -> Twist:
    msg = Twist()
    msg.linear.x, msg.linear.y, msg.angular.z = (float(v) for v in command)
    return msg


def run_teleop(teleop: KeyTeleop, reader: KeyReader, rate: float, namespace: str = '',
               say: Callable[[str], None] = print) -> None:
    """Publish ``teleop``'s command on cmd_vel at ``rate`` Hz as keys arrive, until told to quit.

    :param namespace: the deploy graph's namespace (cmd_vel is relative, as every node's).
    """
    stop = threading.Event()
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    keep_signals(lambda _: stop.set())
    node = Node('symphony_teleop', namespace=namespace or None)
    try:
        pub = node.create_publisher(Twist, topics.CMD_VEL, COMMAND_QOS)
        say(f'publishing on {pub.topic_name} at {rate:g} Hz, {teleop.ranges_line()}')
        say(HELP)
        period, due = 1.0 / rate, time.monotonic()
        why = 'a signal'
        while not stop.is_set():
            for key in reader.keys(timeout=max(0.0, due - time.monotonic())):
                what = teleop.press(key)
                if what == 'quit':
                    why = 'quit key'
                    stop.set()
                    break
                if what:
                    say(teleop.line() + ('  (the range ends here)' if what == 'limit' else ''))
            if reader.ended and not stop.is_set():
                why = 'end of input'
                stop.set()
            if time.monotonic() >= due:
                pub.publish(_twist(teleop.command))
                due = max(due + period, time.monotonic())
        teleop.press('x')
        for _ in range(FINAL_ZEROS):
            pub.publish(_twist(teleop.command))
            time.sleep(period)
        say(f'stopped ({why}): sent a zero command')
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


def main(argv: Optional[List[str]] = None) -> int:
    """``ros2 run symphony_ros teleop_node [--policy FILE] ...``: ``symphony teleop``'s flags."""
    from ..cli.teleop_cmd import main as teleop_main
    return teleop_main(argv)


__all__ = ['main', 'run_teleop']

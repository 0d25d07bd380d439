"""A stand-in policy process for the fault-injection suite: publishes valid commands.

usage: python watchdog_publisher_proc.py TOPIC HZ [SECONDS]
Publishes zero-torque JointState commands (names in controller order, stamped now) at HZ
until killed, or for SECONDS; prints 'ready' once publishing and, at the end, the rate made.
"""

import sys
import time

import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState

from symphony_ros.robot.description import get_robot


def main() -> None:
    """Publish until killed or for the given time."""
    topic, hz = sys.argv[1], float(sys.argv[2])
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else float('inf')
    rclpy.init()
    node = rclpy.create_node('fake_policy')
    pub = node.create_publisher(JointState, topic,
                                QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
    names = list(get_robot('humanoid').joint_names)
    msg = JointState(name=names, effort=[0.0] * len(names))
    period = 1.0 / hz
    start = next_t = time.monotonic()
    sent = 0
    print('ready', flush=True)
    while time.monotonic() - start < seconds:
        msg.header.stamp = node.get_clock().now().to_msg()
        pub.publish(msg)
        sent += 1
        next_t += period
        delay = next_t - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -0.1:  # far behind (flood mode on a busy machine): do not burst
            next_t = time.monotonic()
    print(f'sent {sent} in {time.monotonic() - start:.2f} s', flush=True)
    node.destroy_node()
    rclpy.try_shutdown()


if __name__ == '__main__':
    main()

"""A tiny rclpy node that prints what ``--ros-args`` gave it, then exits 0."""

import sys

import rclpy
from rclpy.node import Node
from std_msgs.msg import String


def main() -> int:
    """Print node name, parameters and the resolved publisher topic."""
    rclpy.init(args=sys.argv)
    node = Node('unnamed')
    greeting = node.declare_parameter('greeting', 'default').value
    count = node.declare_parameter('count', 0).value
    only_in_file = node.declare_parameter('only_in_file', 'unset').value
    pub = node.create_publisher(String, 'chatter', 1)
    print(f'name={node.get_name()} greeting={greeting} count={count!r} '
          f'only_in_file={only_in_file} topic={pub.topic_name}', flush=True)
    node.destroy_node()
    rclpy.shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Deploy a policy: ``ros2 launch symphony_ros deploy.launch.py robot:=sim|real|gazebo``.

The nodes, parameters and remappings come from :data:`symphony_ros.graph.DEPLOY`, the graph
``symphony launch deploy`` runs too; ``symphony launch deploy --show-args`` lists the
arguments. This file only declares them and, once launch has their values, turns the graph
into launch_ros actions.
"""

from launch import LaunchDescription
from launch.actions import OpaqueFunction
from launch.substitutions import LaunchConfiguration
from symphony_ros.graph import DEPLOY
from symphony_ros.graph.ros_launch import declare, to_actions


def _evaluate(context, *args, **kwargs):
    values = {a.name: LaunchConfiguration(a.name).perform(context) for a in DEPLOY.args()}
    return to_actions(DEPLOY(values))


def generate_launch_description():
    """Declare the deploy graph's arguments; build its nodes when they are known."""
    return LaunchDescription(declare(DEPLOY.args()) + [OpaqueFunction(function=_evaluate)])

"""Train a policy: ``ros2 launch symphony_ros train.launch.py steps:=300000 run_dir:=runs/x``.

One argument per TrainConfig field, from :data:`symphony_ros.graph.TRAIN`, the graph
``symphony launch train`` runs too (``symphony launch train --show-args`` lists them).
"""

from launch import LaunchDescription
from launch.actions import OpaqueFunction
from launch.substitutions import LaunchConfiguration
from symphony_ros.graph import TRAIN
from symphony_ros.graph.ros_launch import declare, to_actions


def _evaluate(context, *args, **kwargs):
    values = {a.name: LaunchConfiguration(a.name).perform(context) for a in TRAIN.args()}
    return to_actions(TRAIN(values))


def generate_launch_description():
    """Declare the train graph's arguments; build trainer_node when they are known."""
    return LaunchDescription(declare(TRAIN.args()) + [OpaqueFunction(function=_evaluate)])

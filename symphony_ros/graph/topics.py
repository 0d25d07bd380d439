"""The deploy topics: the name each node uses, the launch argument that remaps it, its default.

Nodes publish and subscribe under these relative names; a launch argument such as
``joint_states_topic:=/robot/joint_states`` becomes the remapping
``joint_states:=/robot/joint_states`` on every node of ours and on robot_state_publisher.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

from .spec import LaunchArg, Values


@dataclass(frozen=True)
class Topic:
    """One remappable topic."""

    arg: str
    """Launch argument naming the topic."""
    node_name: str
    """Name the nodes use (relative, so a remapping or a namespace moves it)."""
    default: str
    type: str
    description: str


TOPICS: Tuple[Topic, ...] = (
    Topic('joint_states_topic', 'joint_states', '/joint_states', 'sensor_msgs/JointState',
          'joint positions, velocities, efforts (joint_state_broadcaster or the sim)'),
    Topic('imu_topic', 'imu/data', '/imu/data', 'sensor_msgs/Imu',
          'base IMU (imu_sensor_broadcaster publishes ~/imu: remap it or pass its topic)'),
    Topic('odom_topic', 'odom', '/odom', 'nav_msgs/Odometry',
          'base pose and twist from the state estimator (or the sim)'),
    Topic('effort_commands_topic', 'effort_controller/commands', '/effort_controller/commands',
          'std_msgs/Float64MultiArray',
          'torques to the forward effort controller, in its joint order (watchdog output)'),
    Topic('command_topic', 'symphony/command', '/symphony/command', 'sensor_msgs/JointState',
          'stamped, named policy torques (effort, N*m); only the watchdog consumes it'),
    Topic('estop_topic', 'symphony/estop', '/symphony/estop', 'std_msgs/Bool',
          'emergency stop input of the watchdog'),
    Topic('watchdog_state_topic', 'symphony/watchdog/state', '/symphony/watchdog/state',
          'std_msgs/String', 'watchdog state (DISARMED, RAMP, ACTIVE, FAULT)'),
)
DIAGNOSTICS = '/diagnostics'
"""Absolute by convention (aggregators expect it), so not remappable here."""
BY_ARG = {t.arg: t for t in TOPICS}


def topic_args() -> Tuple[LaunchArg, ...]:
    """One launch argument per topic."""
    return tuple(LaunchArg(t.arg, t.default, f'{t.type}: {t.description}') for t in TOPICS)


def remappings(values: Values, *args: str) -> Tuple[Tuple[str, str], ...]:
    """``(node_name, value)`` for the given topic arguments (all topics if none given)."""
    chosen = [BY_ARG[a] for a in args] if args else list(TOPICS)
    return tuple((t.node_name, values[t.arg]) for t in chosen)


SIM_SCORE = ('/symphony/sim/reward', '/symphony/sim/episode_return')
"""The sim's live Humanoid-v4 reward and episode returns (absent on a real robot)."""


def recorded_topics(values: Values) -> List[str]:
    """Every deploy topic under its final name, /diagnostics and the sim's score topics."""
    return [values[t.arg] for t in TOPICS] + [DIAGNOSTICS, *SIM_SCORE]

"""The deploy topics: the name each node uses, the launch argument that remaps it, its default.

Every node of ours takes its topic names from here and uses them relative, so a namespace
(``namespace:=robot1``) moves the whole graph and a remapping moves one topic. A launch
argument left at its default adds no remapping (the relative name then resolves in the
namespace); any other value, such as ``joint_states_topic:=/robot/joint_states``, becomes
the remapping ``joint_states:=/robot/joint_states`` on every node of ours and on
robot_state_publisher.
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


JOINT_STATES = 'joint_states'
IMU = 'imu/data'
ODOM = 'odom'
STATE_ESTIMATOR_ODOM = 'state_estimator/odom'
"""Base odometry of state_estimator_node (leg odometry); the deploy graph's estimator:=legs
remaps policy_node's ODOM onto it."""
EFFORT_COMMANDS = 'effort_controller/commands'
POSITION_COMMANDS = 'position_controller/commands'
"""Checked joint targets of a pd_position policy (watchdog output:=position)."""
PD_GAINS = 'symphony/watchdog/pd_gains'
"""kp then kd per joint that go with POSITION_COMMANDS (zero kp in the safe states)."""
CMD_VEL = 'cmd_vel'
"""The velocity command of a velocity-tracking policy (geometry_msgs/Twist)."""
COMMAND = 'symphony/command'
ESTOP = 'symphony/estop'
WATCHDOG_STATE = 'symphony/watchdog/state'
SIM_REWARD = 'symphony/sim/reward'
"""The sim's live Humanoid-v4 reward per step (absent on a real robot)."""
SIM_EPISODE_RETURN = 'symphony/sim/episode_return'
"""The sim's return per finished episode (absent on a real robot)."""
CLOCK = 'clock'
"""Simulated time, published by the lockstep sim. ``use_sim_time`` reads the absolute
/clock, so a namespaced graph remaps /clock into its namespace (:func:`clock_remapping`)."""
TRAIN_TEST_RETURN = 'symphony/train/test_return'
"""The trainer's return after each evaluation (train graph)."""

TOPICS: Tuple[Topic, ...] = (
    Topic('joint_states_topic', JOINT_STATES, '/' + JOINT_STATES, 'sensor_msgs/JointState',
          'joint positions, velocities, efforts (joint_state_broadcaster or the sim)'),
    Topic('imu_topic', IMU, '/' + IMU, 'sensor_msgs/Imu',
          'base IMU (imu_sensor_broadcaster publishes ~/imu: remap it or pass its topic)'),
    Topic('odom_topic', ODOM, '/' + ODOM, 'nav_msgs/Odometry',
          'base pose and twist from the state estimator (or the sim)'),
    Topic('estimator_odom_topic', STATE_ESTIMATOR_ODOM, '/' + STATE_ESTIMATOR_ODOM,
          'nav_msgs/Odometry', 'base pose and twist from state_estimator_node\'s leg '
          'odometry (estimator:=legs: policy_node reads it in place of odom)'),
    Topic('effort_commands_topic', EFFORT_COMMANDS, '/' + EFFORT_COMMANDS,
          'std_msgs/Float64MultiArray',
          'torques to the forward effort controller, in its joint order (watchdog output)'),
    Topic('position_commands_topic', POSITION_COMMANDS, '/' + POSITION_COMMANDS,
          'std_msgs/Float64MultiArray',
          'checked joint targets (rad) to a position controller (watchdog output:=position)'),
    Topic('pd_gains_topic', PD_GAINS, '/' + PD_GAINS, 'std_msgs/Float64MultiArray',
          'kp then kd per joint for the position targets (watchdog output:=position)'),
    Topic('cmd_vel_topic', CMD_VEL, '/' + CMD_VEL, 'geometry_msgs/Twist',
          'velocity command of a velocity-tracking policy (linear.x, linear.y, angular.z)'),
    Topic('command_topic', COMMAND, '/' + COMMAND, 'sensor_msgs/JointState',
          'stamped, named policy torques (effort, N*m) or joint targets (position, rad, '
          'pd_position policies); only the watchdog consumes it'),
    Topic('estop_topic', ESTOP, '/' + ESTOP, 'std_msgs/Bool',
          'emergency stop input of the watchdog'),
    Topic('watchdog_state_topic', WATCHDOG_STATE, '/' + WATCHDOG_STATE,
          'std_msgs/String', 'watchdog state (DISARMED, RAMP, ACTIVE, FAULT)'),
)
"""Each default is the relative name as the root namespace resolves it."""
DIAGNOSTICS = '/diagnostics'
"""Absolute by convention (aggregators expect it), so not remappable here."""
BY_ARG = {t.arg: t for t in TOPICS}


def topic_args() -> Tuple[LaunchArg, ...]:
    """One launch argument per topic."""
    return tuple(LaunchArg(t.arg, t.default, f'{t.type}: {t.description}') for t in TOPICS)


def resolve_name(name: str, namespace: str = '') -> str:
    """Return ``name`` as a node in ``namespace`` resolves it (an absolute name stays)."""
    if name.startswith('/'):
        return name
    ns = namespace.strip('/')
    return f'/{ns}/{name}' if ns else f'/{name}'


def remappings(values: Values, *args: str) -> Tuple[Tuple[str, str], ...]:
    """``(node_name, value)`` for the given topic arguments (all topics if none given).

    An argument left at its default is no remapping: the node's relative name then follows
    the graph's namespace.
    """
    chosen = [BY_ARG[a] for a in args] if args else list(TOPICS)
    return tuple((t.node_name, values[t.arg]) for t in chosen if values[t.arg] != t.default)


SIM_SCORE = (SIM_REWARD, SIM_EPISODE_RETURN)
"""The sim's score topics (relative names)."""


def clock_remapping(namespace: str) -> Tuple[Tuple[str, str], ...]:
    """Remap ``use_sim_time``'s absolute /clock into ``namespace`` (none in the root)."""
    return ((resolve_name(CLOCK), resolve_name(CLOCK, namespace)),) if namespace else ()


def final_name(values: Values, arg: str) -> str:
    """Return the name a deploy topic ends up under: its remapping, in the namespace."""
    topic = BY_ARG[arg]
    name = values[arg] if values[arg] != topic.default else topic.node_name
    return resolve_name(name, values.get('namespace') or '')


def recorded_topics(values: Values) -> List[str]:
    """Every deploy topic under its final name, /diagnostics and the sim's score topics."""
    ns = values.get('namespace') or ''
    return ([final_name(values, t.arg) for t in TOPICS] + [DIAGNOSTICS]
            + [resolve_name(n, ns) for n in SIM_SCORE])

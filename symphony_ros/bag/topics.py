"""What each recorded topic is for: its role, default name and message type.

The deploy graph's topic table (:mod:`symphony_ros.graph.topics`) gives the names; the sim
adds its score topics. A bag from a remapped deploy names its topics with
``--topic ROLE=NAME`` (the role, or the launch argument, e.g. ``joint_states_topic``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Tuple

from ..graph import topics as graph_topics
from ..graph.topics import DIAGNOSTICS, TOPICS, resolve_name

RECORDER_NODE = 'symphony_recorder'
"""Node name of ``symphony record`` (the deploy graph's sim waits for it to subscribe)."""


@dataclass(frozen=True)
class Role:
    """One kind of data the evaluation reads from a bag."""

    key: str
    default: str
    msgtype: str
    """ROS 2 type name as bags store it, e.g. ``sensor_msgs/msg/JointState``."""
    arg: str = ''
    """Deploy launch argument that remaps it ('' when not remappable)."""


def _msgtype(short: str) -> str:
    pkg, name = short.split('/')
    return f'{pkg}/msg/{name}'


_KEYS = {'joint_states_topic': 'joint_states', 'imu_topic': 'imu', 'odom_topic': 'odom',
         'estimator_odom_topic': 'estimator_odom',
         'effort_commands_topic': 'hardware', 'position_commands_topic': 'position_hardware',
         'pd_gains_topic': 'pd_gains', 'cmd_vel_topic': 'cmd_vel', 'command_topic': 'command',
         'estop_topic': 'estop', 'watchdog_state_topic': 'watchdog'}
SIM_REWARD = resolve_name(graph_topics.SIM_REWARD)
SIM_EPISODE_RETURN = resolve_name(graph_topics.SIM_EPISODE_RETURN)

ROLES: Tuple[Role, ...] = tuple(
    Role(_KEYS[t.arg], t.default, _msgtype(t.type), t.arg) for t in TOPICS) + (
    Role('diagnostics', DIAGNOSTICS, 'diagnostic_msgs/msg/DiagnosticArray'),
    Role('reward', SIM_REWARD, 'std_msgs/msg/Float64'),
    Role('episode_return', SIM_EPISODE_RETURN, 'std_msgs/msg/Float64'),
)
BY_KEY = {r.key: r for r in ROLES}

DEFAULT_RECORDED: Tuple[str, ...] = tuple(r.default for r in ROLES)
"""What ``symphony record`` records when no topic is named: the deploy topics, /diagnostics
and the sim's per-step reward and per-episode return."""


def absolute(topic: str) -> str:
    """``topic`` as a node in the root namespace resolves it (a leading slash)."""
    return topic if topic.startswith('/') else '/' + topic


def resolve(overrides: Mapping[str, str] = None) -> Dict[str, str]:
    """Role key -> topic name: the defaults with ``overrides`` (by role key or launch arg).

    :raises ValueError: an override naming no role.
    """
    names = {r.key: r.default for r in ROLES}
    by_arg = {r.arg: r.key for r in ROLES if r.arg}
    for key, topic in (overrides or {}).items():
        role = key if key in names else by_arg.get(key)
        if role is None:
            raise ValueError(f'--topic {key}={topic}: unknown role {key!r}; expected one of '
                             f'{", ".join(names)} (or a deploy launch argument such as '
                             'joint_states_topic)')
        names[role] = absolute(topic)
    return names


def parse_overrides(items: List[str]) -> Dict[str, str]:
    """``['ROLE=NAME', ...]`` -> dict; raises ValueError naming a malformed item."""
    out = {}
    for item in items or ():
        key, sep, value = item.partition('=')
        if not sep or not key or not value:
            raise ValueError(f'--topic {item!r}: expected ROLE=TOPIC, e.g. '
                             'joint_states=/robot/joint_states')
        out[key] = value
    return out

"""What ``robot:=gazebo`` adds to the real-robot graph: Gazebo, the clock, spawn steps.

gz_ros2_control runs the controller manager inside Gazebo, configured by the URDF's
``<ros2_control>`` block and ``config/controllers.yaml``; what is left to launch is the
server, a /clock bridge (our nodes use sim time), the model spawn and one spawner per
controller. All but the server are optional nodes: packages a pip-only rclpy lacks.
"""

from __future__ import annotations

import os
from typing import List, Tuple

from .. import paths
from .spec import Entity, LaunchArg, NodeSpec, ProcessSpec, Values

CONTROLLER_MANAGER = '/controller_manager'
CONTROLLERS = ('joint_state_broadcaster', 'imu_sensor_broadcaster', 'effort_controller')
"""Spawned in this order, so the state broadcasters run before torques can flow."""
SPAWN_HEIGHT = {'humanoid': 1.4}
"""m; the base height of the MJCF's initial pose (its torso body's z)."""
NATIVE_TOPICS = {
    # controller -> (launch argument, topic the controller uses when not remapped, its name)
    'joint_state_broadcaster': ('joint_states_topic', '/joint_states', 'joint_states'),
    'imu_sensor_broadcaster': ('imu_topic', '/imu_sensor_broadcaster/imu', '~/imu'),
    'effort_controller': ('effort_commands_topic', '/effort_controller/commands',
                          '~/commands'),
}


def _is_gazebo(values: Values) -> bool:
    return values['robot'] == 'gazebo'


def gazebo_args() -> Tuple[LaunchArg, ...]:
    """Launch arguments used only by robot:=gazebo."""
    return (
        LaunchArg('gz_world', paths.config_path('gazebo_world.sdf', must_exist=False),
                  'robot:=gazebo only. World file (needs the Imu system for the IMU)'),
        LaunchArg('gz_gui', 'true', 'robot:=gazebo only. false runs the server alone (gz sim '
                  '-s)', ('true', 'false'), bool),
    )


def _plugin_env() -> dict:
    # What ros_gz_sim's gz_sim.launch.py does: let Gazebo find system plugins installed in
    # ROS library folders (gz_ros2_control-system lives there).
    parts = [os.environ.get('GZ_SIM_SYSTEM_PLUGIN_PATH', ''),
             os.environ.get('LD_LIBRARY_PATH', '')]
    return {'GZ_SIM_SYSTEM_PLUGIN_PATH': os.pathsep.join(p for p in parts if p)}


def _spawner(controller: str, values: Values) -> NodeSpec:
    arg, native, name = NATIVE_TOPICS[controller]
    extra: Tuple[str, ...] = ()
    if values[arg] != native:
        # --controller-ros-args exists from Jazzy on; the default topics need none of it.
        extra = ('--controller-ros-args', f'-r {name}:={values[arg]}')
    return NodeSpec('controller_manager', 'spawner', f'spawner_{controller}',
                    arguments=(controller, '--controller-manager', CONTROLLER_MANAGER,
                               '--controller-manager-timeout', '60') + extra,
                    optional=True, condition=_is_gazebo)


def gazebo_entities(values: Values) -> List[Entity]:
    """Gazebo server, /clock bridge, model spawn and controller spawners (robot:=gazebo)."""
    server = ('gz', 'sim', '-r') + (() if values['gz_gui'] else ('-s',))
    height = SPAWN_HEIGHT.get(values['robot_model'], 1.0)
    return [
        ProcessSpec('gz_sim', server + (values['gz_world'],), env=_plugin_env(),
                    condition=_is_gazebo),
        NodeSpec('ros_gz_bridge', 'parameter_bridge', 'clock_bridge',
                 arguments=('/clock@rosgraph_msgs/msg/Clock[gz.msgs.Clock',), optional=True,
                 condition=_is_gazebo),
        NodeSpec('ros_gz_sim', 'create', 'spawn_robot',
                 arguments=('-topic', 'robot_description', '-name', values['robot_model'],
                            '-z', str(height)), optional=True, condition=_is_gazebo),
    ] + [_spawner(c, values) for c in CONTROLLERS]

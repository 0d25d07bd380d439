"""The deploy graph: policy_node -> watchdog_node -> the robot, in three worlds.

``robot:=sim``     mujoco_sim_node + policy_node + watchdog_node + robot_state_publisher
``robot:=real``    policy_node + watchdog_node + robot_state_publisher; the robot's own
                   ros2_control stack provides joint states, IMU, odometry and the controller
``robot:=gazebo``  the real graph plus Gazebo, gz_ros2_control and the spawn steps
                   (see :mod:`symphony_ros.graph.gazebo`)

``estimator:=legs`` adds state_estimator_node (leg odometry from joint_states and the IMU) in
any of them, and policy_node and watchdog_node read their odometry from it
(:func:`estimator_remapping`).

Node defaults live in the nodes' dataclasses; the graph passes only what a launch argument
decides, plus the per-mode settings of :func:`mode_parameters`.
"""

from __future__ import annotations

import os
import re
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

from .. import paths
from .gazebo import gazebo_args, gazebo_entities
from .spec import Entity, GraphArgError, GraphDef, LaunchArg, NodeSpec, ProcessSpec, Values
from .topics import (BY_ARG, ODOM, clock_remapping, recorded_topics, remappings,
                     topic_args)

ROBOTS = ('sim', 'real', 'gazebo')
ESTIMATORS = ('none', 'legs')
"""The deploy argument estimator:=: none, or state_estimator_node's leg odometry."""
NODE_CONFIG = {'mujoco_sim_node': 'mujoco_sim.yaml', 'policy_node': 'policy.yaml',
               'watchdog_node': 'watchdog.yaml', 'state_estimator_node': 'state_estimator.yaml'}
"""Optional ``config/`` parameter file per node, loaded before the launch-argument values."""
SIM_WATCHDOG_PROFILE = 'watchdog_sim.yaml'
"""Watchdog parameters of robot:=sim (soft joint limits), after watchdog.yaml, before the
user's watchdog_config:= (launch-argument values still come last)."""
LOCKSTEP_WATCHDOG_PROFILE = 'watchdog_lockstep.yaml'
"""Watchdog parameters of timing:=lockstep (timeouts past the sim's wait, no slew limit),
after the sim profile, before the user's watchdog_config:=."""


def deploy_args() -> Tuple[LaunchArg, ...]:
    """Return the deploy launch arguments, in declaration order."""
    from ..sim.config import SimConfig
    every = f'{SimConfig.push_interval_min:g}-{SimConfig.push_interval_max:g}'
    return (
        LaunchArg('robot', 'sim', 'sim: MuJoCo stand-in; real: the robot\'s ros2_control '
                  'stack; gazebo: Gazebo with gz_ros2_control', ROBOTS),
        LaunchArg('policy', '', 'exported ONNX policy (with its contract metadata); empty: '
                  'the one shipped for robot_model (' + ', '.join(
                      f'{r}: models/{f}' for r, f in paths.SHIPPED_POLICIES.items()) + ')',
                  existing_file=True, allow_empty=True),
        LaunchArg('robot_model', 'humanoid', 'robot description: joint order, limits, '
                  'urdf/<robot_model>.urdf'),
        LaunchArg('timing', 'realtime', 'robot:=sim only. realtime: the sim steps on a steady '
                  'clock; lockstep: it waits for each command and publishes /clock',
                  ('realtime', 'lockstep')),
        LaunchArg('seed', '', 'robot:=sim only. Seed of the sim\'s reset noise (empty: the '
                  'node\'s default)', type=int, allow_empty=True),
        LaunchArg('ticks', '0', 'robot:=sim only. Stop the graph after this many control '
                  'steps (0: run until Ctrl-C)', type=int),
        LaunchArg('episodes', '0', 'robot:=sim only. Stop the graph after this many finished '
                  'episodes (0: no limit)', type=int),
        LaunchArg('cmd_vel', '', 'robot:=sim only. vx,vy,wz: the sim publishes this velocity '
                  'command on cmd_vel with every state, as a teleop would, and scores the '
                  'robot against it; random: commands drawn as in training, a new one each '
                  'episode and every resample_steps, from seed (empty: none; send your own on '
                  'cmd_vel)'),
        LaunchArg('cmd_vel_ranges', '', 'robot:=sim, cmd_vel:=random only. What the sim draws, '
                  'as symphony train --commands: lin_vel_x=lo:hi,lin_vel_y=lo:hi,yaw_rate=lo:hi,'
                  'standing_fraction=f (empty: the robot file\'s velocity task)'),
        LaunchArg('command_delay', '0.0', 'robot:=sim, timing:=realtime only. s between a '
                  'command reaching the sim and its motors applying it (a real robot\'s '
                  'latency; symphony stress --ros sets it)', type=float),
        LaunchArg('push_velocity', '0.0', 'robot:=sim only. m/s kick to the base\'s '
                  f'horizontal velocity, random heading, every {every} s of simulated time (the '
                  'push conditions of symphony stress --ros); 0: none', type=float),
        LaunchArg('episode_steps', '', 'robot:=sim only. Time limit of an episode in control '
                  'steps (empty: the node\'s default)', type=int, allow_empty=True),
        LaunchArg('auto_arm', 'auto', 'arm the watchdog once every input is live. auto: true '
                  'for sim and gazebo, false for real (arm with the ~/arm service)',
                  ('auto', 'true', 'false')),
        LaunchArg('watchdog_config', '', 'extra watchdog parameter file (ros__parameters '
                  'YAML) loaded after config/watchdog.yaml: your robot\'s limits and '
                  'thresholds', existing_file=True, allow_empty=True),
        LaunchArg('realtime_priority', '0', 'SCHED_FIFO priority for policy_node (1-98); '
                  'the watchdog runs one level above. 0: normal scheduling. Needs root or '
                  'CAP_SYS_NICE', type=int),
        LaunchArg('record', 'false', 'also record every deploy topic to a bag (symphony '
                  'record)', ('true', 'false'), bool),
        LaunchArg('record_dir', '', 'bag folder for record:=true (empty: '
                  'bags/deploy_<date>_<time>)'),
        LaunchArg('watchdog_output', 'auto', 'pd_position robots: position (checked targets '
                  'and gains to a position controller or a driver running the PD at every '
                  'physics step) or effort (the watchdog runs the PD at 500 Hz on states a DDS '
                  'hop old and sends torques: only for a robot whose joints tolerate that '
                  'delay; the G1\'s ankles do not). auto: position',
                  ('auto', 'effort', 'position')),
        LaunchArg('estimator', 'none', 'none: policy_node reads odometry from odom (the sim, '
                  'or your robot\'s state estimator); legs: also start state_estimator_node, '
                  'leg odometry from joint_states and the IMU (robots whose file names feet:), '
                  'and policy_node reads its estimator_odom_topic instead (the sim still '
                  'publishes its true odom)', ESTIMATORS),
        LaunchArg('namespace', '', 'ROS namespace of every node of the graph (robot:=sim or '
                  'real), e.g. robot1: topics at their defaults move into it, so two graphs '
                  'share a ROS domain'),
    ) + gazebo_args() + topic_args()


_NAMESPACE = re.compile(r'^/?[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$')


def namespace(values: Values) -> str:
    """Return the graph's namespace without slashes ('' for the root).

    :raises GraphArgError: for a name ROS would refuse, or a namespace with robot:=gazebo
        (its controllers and bridge are spawned in the root namespace).
    """
    ns = values['namespace'] or ''
    if ns and not _NAMESPACE.match(ns):
        raise GraphArgError(f'namespace:={ns}: expected a ROS name such as robot1 or '
                            'lab/robot1 (letters, digits, underscores)')
    if ns and values['robot'] == 'gazebo':
        raise GraphArgError(f'namespace:={ns}: not supported with robot:=gazebo (its '
                            'controllers run in the root namespace)')
    return ns.strip('/')


def mode_parameters(values: Values) -> Dict[str, Dict[str, Any]]:
    """Parameters per node that the robot mode decides, beyond the launch arguments.

    This is the hook for anything a mode needs: add entries here, not in the node builders.
    """
    auto_arm = {'auto': values['robot'] != 'real', 'true': True, 'false': False}
    out: Dict[str, Dict[str, Any]] = {
        'policy_node': {}, 'watchdog_node': {'auto_arm': auto_arm[values['auto_arm']]},
        'robot_state_publisher': {}, 'state_estimator_node': {}}
    priority = values['realtime_priority']
    if not 0 <= priority <= 98:
        raise GraphArgError(f'realtime_priority:={priority}: expected 0 to 98 (the watchdog '
                            'runs one level above)')
    if priority:
        # The last gate before the hardware preempts the policy, never the reverse.
        out['policy_node']['realtime_priority'] = priority
        out['watchdog_node']['realtime_priority'] = priority + 1
        # The policy waits for the estimator's odometry: the same level.
        out['state_estimator_node']['realtime_priority'] = priority
    lockstep = values['robot'] == 'sim' and values['timing'] == 'lockstep'
    output = watchdog_output(values, lockstep)
    pd = output is not None
    if output == 'position':
        out['watchdog_node']['output'] = 'position'
    if lockstep or values['robot'] == 'gazebo':
        # Simulated time: stamps and the watchdog's stamp checks follow /clock.
        for params in out.values():
            params['use_sim_time'] = True
    if lockstep:
        # The watchdog's lockstep thresholds are its parameter profile (_param_files).
        out['policy_node']['lockstep'] = True
    if values['robot'] == 'sim':
        # The episodes start once the watchdog is ACTIVE, not under its safe output.
        out['mujoco_sim_node'] = {'wait_for_active': True}
        if pd:
            out['mujoco_sim_node']['command_input'] = output
        if not lockstep and output != 'effort':
            # The sim publishes once per control period on its own timer: a policy timer of
            # the same period has a phase against it, set at start-up, that can make every
            # action one period late, which the shipped policy does not survive. (A PD robot
            # behind the torque gate publishes at the physics rate: the policy keeps its
            # timer, at most one physics step late.)
            out['policy_node']['act_on_state'] = True
    return out


def watchdog_output(values: Values, lockstep: bool) -> Any:
    """Return the watchdog's output for a pd_position robot, None for a torque robot.

    ``auto`` is the position path, where the driver (or the sim) runs the PD at every
    physics step on that step's state, as the training env does. The watchdog's own PD
    (effort) runs on states a DDS hop old: holding the G1's default pose, a PD on a state
    one 5 ms physics step old drives its wrists past their velocity limits, two steps old
    20 of its 29 joints (``test/sim/test_pd_state_age.py``). Lockstep needs
    the position path: one torque per control period would be other physics.

    :raises GraphArgError: position output for a torque robot, or lockstep with effort.
    """
    chosen = values['watchdog_output']
    if action_kind(values['robot_model']) != 'pd_position':
        if chosen == 'position':
            raise GraphArgError(f'watchdog_output:=position: robot_model:='
                                f'{values["robot_model"]} is a torque robot; position output '
                                'needs a pd_position robot')
        return None
    if chosen == 'auto':
        return 'position'
    if lockstep and chosen == 'effort':
        raise GraphArgError('watchdog_output:=effort: timing:=lockstep with a pd_position '
                            'robot needs watchdog_output:=position (the sim applies the PD '
                            'at every physics step)')
    return chosen


def action_kind(robot_model: str) -> str:
    """Return the robot's action kind ('torque' or 'pd_position').

    :raises GraphArgError: an unknown robot or a bad robot file, in one line.
    """
    from ..robot.description import get_robot
    try:
        return get_robot(robot_model).action_kind
    except (ValueError, FileNotFoundError, KeyError) as exc:
        raise GraphArgError(f'robot_model:={robot_model}: {exc}') from None


def _check_feet(robot_model: str) -> None:
    """Refuse estimator:=legs for a robot whose file names no feet (nothing to stand on).

    :raises GraphArgError: naming the robot and the robot file's ``feet:``.
    """
    from ..robot.description import get_robot, no_feet
    action_kind(robot_model)        # an unknown robot: its own one-line error
    refusal = no_feet(get_robot(robot_model))
    if refusal:
        raise GraphArgError(f'estimator:=legs: {refusal}; use estimator:=none and a state '
                            'estimator of your own on odom')


def robot_description(robot_model: str) -> str:
    """URDF text of ``robot_model``, with ``$(find symphony_ros)`` made an absolute path.

    gz_ros2_control reads the controllers YAML path from the URDF literally, so the
    package-relative form committed in the file is resolved here, at launch time. A robot
    without a shipped ``urdf/<robot_model>.urdf`` (the G1: its meshes live in the mjlab
    wheel) gets one generated from its simulation model (:mod:`symphony_ros.robot.urdf`).
    """
    try:
        path = paths.urdf_path(robot_model)
    except FileNotFoundError as exc:
        from ..robot.urdf import generate_urdf
        try:
            text = generate_urdf(robot_model)
        except (ValueError, FileNotFoundError, KeyError):
            raise GraphArgError(f'robot_model:={robot_model}: {exc}') from None
    else:
        with open(path, encoding='utf-8') as f:
            text = f.read()
    return text.replace(f'$(find {paths.PACKAGE})', paths.share_dir())


def _param_files(node: str, values: Values) -> Tuple[str, ...]:
    """List the node's config file, then the watchdog's profiles, then the user's."""
    names = [NODE_CONFIG[node]]
    if node == 'watchdog_node' and values['robot'] == 'sim':
        if action_kind(values['robot_model']) == 'torque':
            names.append(SIM_WATCHDOG_PROFILE)   # the MJCF humanoid's soft joint ranges
        if values['timing'] == 'lockstep':
            names.append(LOCKSTEP_WATCHDOG_PROFILE)
    files = tuple(p for p in (paths.config_path(n, must_exist=False) for n in names)
                  if os.path.isfile(p))
    if node == 'watchdog_node' and values['watchdog_config']:
        files += (os.path.abspath(values['watchdog_config']),)
    return files


def estimator_remapping(values: Values) -> Tuple[Tuple[str, str], ...]:
    """Return the odom remapping onto the estimator's output (estimator:=legs).

    The estimator's topic left at its default stays relative, so it follows the namespace.
    """
    topic = BY_ARG['estimator_odom_topic']
    value = values[topic.arg]
    return ((ODOM, topic.node_name if value == topic.default else value),)


def _record_dir(values: Values) -> str:
    return values['record_dir'] or time.strftime('bags/deploy_%Y%m%d_%H%M%S')


def _own_command(cmd_vel: str, ranges: str) -> Dict[str, str]:
    """Return the sim's parameters for its own velocity command, checked.

    :raises GraphArgError: naming the argument: a cmd_vel that is neither vx,vy,wz nor
        random, or ranges that are malformed or given without cmd_vel:=random.
    """
    from ..sim.config import SimConfig
    cfg = SimConfig(cmd_vel=cmd_vel, cmd_vel_ranges=ranges)
    for arg, check in (('cmd_vel', cfg.velocity_command), ('cmd_vel_ranges', cfg.command_draws)):
        try:
            check()
        except ValueError as exc:
            raise GraphArgError(f'{arg}:={getattr(cfg, arg)}: {exc}') from None
    return {k: v for k, v in (('cmd_vel', cmd_vel), ('cmd_vel_ranges', ranges)) if v}


def deploy_entities(values: Values) -> List[Entity]:
    """Every entity of the deploy graph, each with the condition that selects it."""
    extra = mode_parameters(values)
    ns = namespace(values)
    try:
        policy = paths.policy_for(values['policy'], values['robot_model'])
    except ValueError as exc:
        raise GraphArgError(f'policy:=: {exc}') from None
    remaps = remappings(values) + clock_remapping(ns)
    sim_params = {'robot': values['robot_model'], 'timing': values['timing'],
                  'max_ticks': values['ticks'], 'max_episodes': values['episodes'],
                  **extra.get('mujoco_sim_node', {})}
    if values['seed'] is not None:
        sim_params['seed'] = values['seed']
    sim_params.update(_own_command(values['cmd_vel'], values['cmd_vel_ranges']))
    if values['command_delay']:
        sim_params['command_delay'] = values['command_delay']
    if values['push_velocity']:
        sim_params['push_velocity'] = values['push_velocity']
    if values['episode_steps'] is not None:
        sim_params['episode_steps'] = values['episode_steps']
    if values['record']:
        from ..bag.topics import RECORDER_NODE
        sim_params['await_subscriber'] = RECORDER_NODE

    def ours(name: str, params: Dict[str, Any],
             own_remaps: Optional[Tuple[Tuple[str, str], ...]] = None, **kw: Any) -> NodeSpec:
        return NodeSpec('symphony_ros', name, name, parameters=params,
                        param_files=_param_files(name, values),
                        remappings=remaps if own_remaps is None else own_remaps,
                        module=f'symphony_ros.nodes.{name}', namespace=ns, **kw)

    odom_remaps = remaps
    if values['estimator'] == 'legs':
        _check_feet(values['robot_model'])
        # In place of any odom remapping: ROS applies the first rule that matches. The
        # watchdog reads the estimate too: a robot without odometry still gets its height
        # check.
        odom_remaps = (tuple(r for r in remaps if r[0] != ODOM)
                       + estimator_remapping(values))
    entities: List[Entity] = [
        ours('mujoco_sim_node', sim_params, condition=lambda v: v['robot'] == 'sim'),
        ours('state_estimator_node', {'robot': values['robot_model'],
                                      **extra['state_estimator_node']},
             condition=lambda v: v['estimator'] == 'legs'),
        ours('policy_node', {'policy_path': policy, 'robot': values['robot_model'],
                             'deploy_target': values['robot'], **extra['policy_node']},
             odom_remaps),
        ours('watchdog_node', {'robot': values['robot_model'], **extra['watchdog_node']},
             odom_remaps),
        NodeSpec('robot_state_publisher', 'robot_state_publisher', 'robot_state_publisher',
                 parameters={'robot_description': robot_description(values['robot_model']),
                             **extra['robot_state_publisher']},
                 remappings=remappings(values, 'joint_states_topic') + clock_remapping(ns),
                 namespace=ns,
                 optional=True),
        # record_cmd directly: through cli.main, importing torch would delay the recorder by
        # seconds and lose the start of the run.
        ProcessSpec('recorder', (sys.executable, '-m', 'symphony_ros.cli.record_cmd',
                                 '-o', _record_dir(values), '--policy', policy,
                                 '--robot', values['robot_model'], *recorded_topics(values)),
                    condition=lambda v: v['record']),
    ]
    return entities + gazebo_entities(values)


DEPLOY = GraphDef('deploy', 'run a policy on the robot through the safety watchdog',
                  deploy_args, deploy_entities)

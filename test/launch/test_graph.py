"""The graph data: node sets per robot mode, remappings, argument errors, TrainConfig mirror."""

import os
import sys

import pytest

from symphony_ros import paths
from symphony_ros.core.config import CONFIGS, OVERRIDABLE, TrainConfig
from symphony_ros.util.fields import field_docs, scalar_fields
from symphony_ros.distributed.config import DistributedConfig
from symphony_ros.train.params import TrainerNodeConfig
from symphony_ros.graph import (GraphArgError, NodeSpec, ProcessSpec, TOPICS, deploy_graph,
                                get_graph, parse_assignments, train_graph)
from symphony_ros.graph.processes import params_yaml


ROBOT_MODES = ('sim', 'real', 'gazebo')


def names(graph):
    return [e.name for e in graph.active()]


def entity(graph, name):
    return next(e for e in graph.active() if e.name == name)


def test_sim_real_gazebo_node_sets():
    assert names(deploy_graph()) == ['mujoco_sim_node', 'policy_node', 'watchdog_node',
                                     'robot_state_publisher']
    assert names(deploy_graph({'robot': 'real'})) == ['policy_node', 'watchdog_node',
                                                      'robot_state_publisher']
    gz = deploy_graph({'robot': 'gazebo'})
    assert names(gz) == ['policy_node', 'watchdog_node', 'robot_state_publisher', 'gz_sim',
                         'clock_bridge', 'spawn_robot', 'spawner_joint_state_broadcaster',
                         'spawner_imu_sensor_broadcaster', 'spawner_effort_controller']
    # Only our nodes and the Gazebo server are required; other packages' nodes are optional.
    assert {e.name for e in gz.active() if not e.optional} == {
        'policy_node', 'watchdog_node', 'gz_sim'}
    spawn = entity(gz, 'spawn_robot')
    assert (spawn.package, spawn.executable) == ('ros_gz_sim', 'create')
    assert spawn.arguments[:2] == ('-topic', 'robot_description')
    assert [entity(gz, f'spawner_{c}').arguments[0] for c in
            ('joint_state_broadcaster', 'imu_sensor_broadcaster', 'effort_controller')] == [
        'joint_state_broadcaster', 'imu_sensor_broadcaster', 'effort_controller']


def test_our_nodes_run_as_modules_of_the_package():
    for node in deploy_graph().active()[:3]:
        assert node.package == 'symphony_ros'
        assert node.module == f'symphony_ros.nodes.{node.executable}'
        assert node.name == node.executable


def test_topic_arguments_become_remappings_on_every_node():
    graph = deploy_graph({'joint_states_topic': '/robot/joint_states',
                          'command_topic': '/x/cmd',
                          'effort_commands_topic': '/hw/effort'})
    for name in ('mujoco_sim_node', 'policy_node', 'watchdog_node'):
        remaps = dict(entity(graph, name).remappings)
        assert remaps['joint_states'] == '/robot/joint_states'
        assert remaps['symphony/command'] == '/x/cmd'
        assert remaps['effort_controller/commands'] == '/hw/effort'
        # A topic left at its default is no remapping: its relative name follows a namespace.
        assert set(remaps) == {'joint_states', 'symphony/command', 'effort_controller/commands'}
    assert entity(graph, 'robot_state_publisher').remappings == (
        ('joint_states', '/robot/joint_states'),)
    assert entity(deploy_graph(), 'watchdog_node').remappings == ()


def test_a_namespace_moves_every_node_and_the_recorded_topics():
    graph = deploy_graph({'namespace': 'robot1', 'record': 'true', 'command_topic': 'cmd'})
    for node in graph.active():
        if isinstance(node, NodeSpec):
            assert node.namespace == 'robot1', node.name
    watchdog = entity(graph, 'watchdog_node')
    assert watchdog.full_name == '/robot1/watchdog_node'
    # use_sim_time reads the absolute /clock: each namespace's sim time stays its own.
    assert ('/clock', '/robot1/clock') in watchdog.remappings
    assert '/robot1/watchdog_node' in params_yaml(watchdog)
    recorded = entity(graph, 'recorder').cmd
    assert {'/robot1/joint_states', '/robot1/cmd', '/robot1/symphony/sim/reward',
            '/diagnostics'} <= set(recorded)
    assert '/joint_states' not in recorded
    for bad, message in (({'namespace': 'two words'}, 'namespace:=two words: expected'),
                         ({'namespace': 'r1', 'robot': 'gazebo'}, 'not supported')):
        with pytest.raises(GraphArgError, match=message):
            deploy_graph(bad)


def test_gazebo_controllers_follow_remapped_topics():
    default = deploy_graph({'robot': 'gazebo'})
    assert '--controller-ros-args' not in entity(
        default, 'spawner_effort_controller').arguments
    # imu_sensor_broadcaster publishes ~/imu, so the default /imu/data needs a remap.
    args = entity(default, 'spawner_imu_sensor_broadcaster').arguments
    assert args[-2:] == ('--controller-ros-args', '-r ~/imu:=/imu/data')
    moved = deploy_graph({'robot': 'gazebo', 'effort_commands_topic': '/hw/effort'})
    args = entity(moved, 'spawner_effort_controller').arguments
    assert args[-2:] == ('--controller-ros-args', '-r ~/commands:=/hw/effort')


def test_mode_parameters():
    sim = deploy_graph()
    assert entity(sim, 'watchdog_node').parameters == {'robot': 'humanoid', 'auto_arm': True}
    assert 'use_sim_time' not in entity(sim, 'policy_node').parameters
    # The realtime sim publishes once per period: the policy acts on each state, not a timer.
    assert entity(sim, 'policy_node').parameters['act_on_state'] is True
    for other in ({'robot': 'real'}, {'robot': 'gazebo'}, {'timing': 'lockstep'}):
        assert 'act_on_state' not in entity(deploy_graph(other), 'policy_node').parameters
    assert entity(sim, 'mujoco_sim_node').parameters == {
        'robot': 'humanoid', 'timing': 'realtime', 'max_ticks': 0, 'max_episodes': 0,
        'wait_for_active': True}
    assert entity(deploy_graph({'robot': 'real'}), 'watchdog_node').parameters[
        'auto_arm'] is False
    assert entity(deploy_graph({'auto_arm': 'false'}), 'watchdog_node').parameters[
        'auto_arm'] is False

    lock = deploy_graph({'timing': 'lockstep', 'seed': '7', 'episodes': '3'})
    assert entity(lock, 'mujoco_sim_node').parameters == {
        'robot': 'humanoid', 'timing': 'lockstep', 'seed': 7, 'max_ticks': 0,
        'max_episodes': 3, 'wait_for_active': True}
    assert entity(lock, 'policy_node').parameters['lockstep'] is True
    # The lockstep thresholds are a watchdog profile (test_watchdog_config checks its values).
    assert entity(lock, 'watchdog_node').parameters == {
        'robot': 'humanoid', 'auto_arm': True, 'use_sim_time': True}
    assert entity(lock, 'watchdog_node').param_files == tuple(
        paths.config_path(n) for n in ('watchdog.yaml', 'watchdog_sim.yaml',
                                       'watchdog_lockstep.yaml'))
    for name in ('policy_node', 'robot_state_publisher'):
        assert entity(lock, name).parameters['use_sim_time'] is True
    gz = deploy_graph({'robot': 'gazebo', 'timing': 'lockstep'})
    assert 'lockstep' not in entity(gz, 'policy_node').parameters
    assert entity(gz, 'watchdog_node').parameters == {'robot': 'humanoid', 'auto_arm': True,
                                                      'use_sim_time': True}

    steered = deploy_graph({'robot_model': 'g1', 'cmd_vel': 'random',
                            'cmd_vel_ranges': 'lin_vel_x=0:0.5,yaw_rate=0'})
    sim_params = entity(steered, 'mujoco_sim_node').parameters
    assert (sim_params['cmd_vel'], sim_params['cmd_vel_ranges']) == (
        'random', 'lin_vel_x=0:0.5,yaw_rate=0')

    rt = deploy_graph({'realtime_priority': '40'})
    # The watchdog, the last gate, runs above the policy.
    assert entity(rt, 'policy_node').parameters['realtime_priority'] == 40
    assert entity(rt, 'watchdog_node').parameters['realtime_priority'] == 41
    assert 'realtime_priority' not in entity(sim, 'policy_node').parameters


def test_estimator_legs_feeds_the_policy_the_leg_odometry_in_every_robot_mode():
    assert 'state_estimator_node' not in names(deploy_graph({'robot_model': 'g1'}))
    for robot in ROBOT_MODES:
        graph = deploy_graph({'robot_model': 'g1', 'estimator': 'legs', 'robot': robot})
        est = entity(graph, 'state_estimator_node')
        assert est.module == 'symphony_ros.nodes.state_estimator_node' and not est.optional
        assert est.parameters['robot'] == 'g1'
        assert est.parameters.get('use_sim_time') is (True if robot == 'gazebo' else None)
        # The policy and the watchdog read the estimate (a robot without odometry keeps the
        # watchdog's height check); the sim's true odom stays for the recorder.
        for node in ('policy_node', 'watchdog_node'):
            assert dict(entity(graph, node).remappings)['odom'] == 'state_estimator/odom'
        if robot == 'sim':
            assert 'odom' not in dict(entity(graph, 'mujoco_sim_node').remappings)
    # Remapped topics and a namespace: one odom rule on the policy (ROS takes the first
    # that matches), the estimator's; its topic left at its default would follow the
    # namespace, as every other.
    graph = deploy_graph({'robot_model': 'g1', 'estimator': 'legs', 'namespace': 'r1',
                          'odom_topic': '/truth/odom', 'estimator_odom_topic': '/est/odom',
                          'realtime_priority': '30', 'timing': 'lockstep', 'record': 'true'})
    policy = entity(graph, 'policy_node')
    for node in ('policy_node', 'watchdog_node'):
        odom = [r for r in entity(graph, node).remappings if r[0] == 'odom']
        assert odom == [('odom', '/est/odom')], node
    assert ('/clock', '/r1/clock') in policy.remappings
    est = entity(graph, 'state_estimator_node')
    assert est.namespace == 'r1' and ('state_estimator/odom', '/est/odom') in est.remappings
    assert dict(entity(graph, 'mujoco_sim_node').remappings)['odom'] == '/truth/odom'
    # The policy waits for the estimate: the estimator runs at the policy's priority.
    assert est.parameters == {'robot': 'g1', 'realtime_priority': 30, 'use_sim_time': True}
    # The recorder keeps both: the estimate and the sim's truth.
    assert {'/est/odom', '/truth/odom'} <= set(entity(graph, 'recorder').cmd)
    with pytest.raises(GraphArgError, match=r"^estimator:=legs: robot 'humanoid' names no "
                                            r"feet \(the robot file's `feet:`\)"):
        deploy_graph({'estimator': 'legs'})
    with pytest.raises(GraphArgError, match='estimator:=kalman: expected one of none|legs'):
        deploy_graph({'estimator': 'kalman'})


def test_policy_default_and_watchdog_parameter_file():
    graph = deploy_graph()
    policy = entity(graph, 'policy_node').parameters['policy_path']
    assert policy == os.path.join(paths.share_dir(), 'models', 'humanoid_v4_symphony.onnx')
    hardware, sim = paths.config_path('watchdog.yaml'), paths.config_path('watchdog_sim.yaml')
    assert entity(graph, 'watchdog_node').param_files == (hardware, sim)
    real = deploy_graph({'robot': 'real', 'watchdog_config': 'mine.yaml'})
    assert entity(real, 'watchdog_node').param_files == (hardware, os.path.abspath('mine.yaml'))
    # The user's file comes after the sim profile, so it can undo it.
    mine = deploy_graph({'watchdog_config': 'mine.yaml'})
    assert entity(mine, 'watchdog_node').param_files[1:] == (sim, os.path.abspath('mine.yaml'))


def test_the_policy_defaults_to_the_one_shipped_for_the_robot_model():
    from symphony_ros.deploy.config import PolicyNodeConfig
    g1 = deploy_graph({'robot_model': 'g1', 'record': 'true'})
    shipped = paths.shipped_policy_path('g1')
    assert shipped.endswith('g1_velocity_symphony_sym.onnx')
    assert entity(g1, 'policy_node').parameters['policy_path'] == shipped
    assert entity(g1, 'recorder').cmd[5:7] == ('--policy', shipped)
    given = deploy_graph({'robot_model': 'g1', 'policy': paths.default_policy_path()})
    assert entity(given, 'policy_node').parameters['policy_path'] == paths.default_policy_path()
    # A node started by hand picks the same way.
    assert PolicyNodeConfig(robot='g1').resolved_policy_path() == shipped
    with pytest.raises(ValueError, match=r"no policy ships for robot 'biped3' \(shipped: g1, "
                                         r"humanoid\): give one with policy:=FILE"):
        paths.policy_for('', 'biped3')


def test_robot_description_points_gazebo_at_the_controllers_yaml():
    urdf = entity(deploy_graph(), 'robot_state_publisher').parameters['robot_description']
    assert '$(find' not in urdf
    yaml_path = paths.config_path('controllers.yaml')
    assert f'<parameters>{yaml_path}</parameters>' in urdf
    with pytest.raises(GraphArgError, match=r"^robot_model:=nope: unknown robot 'nope'"):
        deploy_graph({'robot_model': 'nope'})


def test_recorder_records_the_final_topic_names(tmp_path):
    assert 'recorder' not in names(deploy_graph())
    graph = deploy_graph({'record': 'true', 'record_dir': str(tmp_path / 'bag'),
                          'imu_topic': '/robot/imu'})
    rec = entity(graph, 'recorder')
    assert isinstance(rec, ProcessSpec) and not rec.optional
    assert rec.cmd[:5] == (sys.executable, '-m', 'symphony_ros.cli.record_cmd', '-o',
                           str(tmp_path / 'bag'))
    assert rec.cmd[5:9] == ('--policy', paths.default_policy_path(), '--robot', 'humanoid')
    assert '/robot/imu' in rec.cmd and '/imu/data' not in rec.cmd
    assert set(rec.cmd[9:]) == {graph.values[t.arg] for t in TOPICS} | {
        '/diagnostics', '/symphony/sim/reward', '/symphony/sim/episode_return'}


@pytest.mark.parametrize('assignments, message', [
    ({'robt': 'sim'}, "unknown argument 'robt'; expected one of: robot, policy"),
    ({'robot': 'moon'}, 'robot:=moon: expected one of sim|real|gazebo'),
    ({'seed': 'abc'}, 'seed:=abc: expected an integer'),
    ({'record': 'yes'}, 'record:=yes: expected one of true|false'),
    ({'realtime_priority': '99'}, 'realtime_priority:=99: expected 0 to 98'),
    ({'cmd_vel': 'fast'}, "cmd_vel:=fast: cmd_vel: expected vx,vy,wz"),
    ({'cmd_vel': '0.5,0,0', 'cmd_vel_ranges': 'lin_vel_x=0:1'},
     "cmd_vel_ranges:=lin_vel_x=0:1: cmd_vel_ranges: 'lin_vel_x=0:1' sets what the sim draws"),
    ({'cmd_vel': 'random', 'cmd_vel_ranges': 'lin_vel_z=0:1'},
     "cmd_vel_ranges:=lin_vel_z=0:1: cmd_vel_ranges 'lin_vel_z=0:1': expected setting=value"),
])
def test_bad_arguments_name_the_argument(assignments, message):
    with pytest.raises(GraphArgError) as err:
        deploy_graph(assignments)
    assert str(err.value).startswith(message)


def test_assignment_syntax():
    assert parse_assignments(['robot:=real', 'policy:=/a:=b.onnx']) == {
        'robot': 'real', 'policy': '/a:=b.onnx'}
    for bad, message in ((['robot=sim'], "expected name:=value, got 'robot=sim'"),
                         (['1x:=2'], "bad argument name '1x'"),
                         (['a:=1', 'a:=2'], "argument 'a' given twice")):
        with pytest.raises(GraphArgError, match=message):
            parse_assignments(bad)


def test_unknown_graph():
    with pytest.raises(GraphArgError, match="unknown graph 'nope'"):
        get_graph('nope')
    with pytest.raises(GraphArgError, match='not a GraphDef'):
        get_graph('symphony_ros.graph:TOPICS')


def test_train_args_mirror_train_config():
    graph = train_graph()
    fields = scalar_fields(TrainConfig)
    dist = scalar_fields(DistributedConfig)
    node_settings = scalar_fields(TrainerNodeConfig)
    # TrainConfig's fields, then the algorithm overrides (0: the named config's value), the
    # Ray settings, the node's own, and what the graph resolves (robot, task, recipe).
    assert [a.name for a in graph.args] == ([n for n, _, _ in fields] + list(OVERRIDABLE)
                                            + [n for n, _, _ in dist]
                                            + [n for n, _, _ in node_settings]
                                            + ['robot', 'task', 'recipe'])
    docs = field_docs(TrainConfig)
    for arg, (name, kind, default) in zip(graph.args, fields):
        assert arg.description == docs[name]
        assert arg.type is kind
        assert graph.values[name] == default  # the text default parses back to the field's
    assert graph.args[0].choices == tuple(CONFIGS)
    node, = graph.active()
    assert isinstance(node, NodeSpec) and node.executable == 'trainer_node'
    # None-valued fields are left to the node; the rest are its parameters, typed.
    assert node.parameters == {**{n: d for n, _, d in fields if d is not None},
                               **{n: 0 for n in OVERRIDABLE}, **{n: d for n, _, d in dist},
                               **{n: d for n, _, d in node_settings}}
    custom = entity(train_graph({'steps': '5000', 'device': 'cpu', 'episode_limit': '200',
                                 'hidden_dim': '32'}), 'trainer_node').parameters
    assert (custom['steps'], custom['device'], custom['episode_limit']) == (5000, 'cpu', 200)
    assert custom['hidden_dim'] == 32
    assert TrainConfig(**{k: v for k, v in custom.items()
                          if k in {n for n, _, _ in fields}}).steps == 5000
    with pytest.raises(GraphArgError, match='device:=tpu: expected one of auto|cpu|cuda'):
        train_graph({'device': 'tpu'})


def test_train_recipe_fills_the_arguments_left_at_their_default(tmp_path):
    params = entity(train_graph({'recipe': 'g1_velocity', 'seed': '3', 'hidden_dim': '64',
                                 'resume': 'true'}), 'trainer_node').parameters
    # The recipe's robot and task become env; its settings fill what was not given.
    assert params['env'] == 'velocity:g1' and params['randomize'] == 'default'
    assert (params['mirror'], params['critic_heads'], params['obs_spec']) == (
        True, 32, 'velocity_gait_scaled')
    # What was given wins, and no resolved argument reaches the node as a parameter.
    assert (params['seed'], params['hidden_dim'], params['resume']) == (3, 64, True)
    assert not {'robot', 'task', 'recipe'} & set(params)
    # An environment named on the command line wins whole over the recipe's.
    named = entity(train_graph({'recipe': 'g1_velocity', 'env': 'Humanoid-v4'}),
                   'trainer_node').parameters
    assert named['env'] == 'Humanoid-v4' and named['mirror'] is True
    robot_file = tmp_path / 'my_robot.yaml'
    by_robot = entity(train_graph({'robot': str(robot_file)}), 'trainer_node').parameters
    assert by_robot['env'] == f'velocity:{robot_file}'


@pytest.mark.parametrize('values, message', [
    ({'recipe': 'nope'}, r'recipe:=nope: no such file, nor a shipped recipe \(shipped: '),
    ({'env': 'Humanoid-v4', 'robot': 'g1'}, 'env and robot/task both name the environment'),
    ({'task': 'velocity'}, 'task:= needs robot:='),
    ({'recipe': '{bad}'}, 'hidden-dim: expected an integer'),
])
def test_train_recipe_errors_name_the_argument(tmp_path, values, message):
    if values.get('recipe') == '{bad}':
        bad = tmp_path / 'bad.yaml'
        bad.write_text('hidden-dim: wide\n')
        values = {'recipe': str(bad)}
        message = f'recipe:={bad}: {message}'
    with pytest.raises(GraphArgError, match=message):
        train_graph(values)


def test_params_file_is_keyed_by_the_full_node_name():
    import yaml
    node = entity(deploy_graph(), 'watchdog_node')
    assert yaml.safe_load(params_yaml(node)) == {
        '/watchdog_node': {'ros__parameters': {'robot': 'humanoid', 'auto_arm': True}}}


def test_share_paths():
    assert os.path.isfile(os.path.join(paths.share_dir(), 'package.xml'))
    assert paths.urdf_path().endswith(os.path.join('urdf', 'humanoid.urdf'))
    with pytest.raises(FileNotFoundError, match='config/nope.yaml not found in'):
        paths.config_path('nope.yaml')

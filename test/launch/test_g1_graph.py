"""The deploy graph of a pd_position robot (the G1): modes, outputs, controller configs."""

import pytest
import yaml

from symphony_ros import paths
from symphony_ros.graph import GraphArgError, deploy_graph
from symphony_ros.robot import get_robot


def entity(graph, name):
    return next(e for e in graph.active() if e.name == name)


def test_realtime_g1_forwards_checked_targets_for_the_driver_to_apply():
    g = deploy_graph({'robot_model': 'g1'})
    # auto is the position path: the PD runs at every physics step on a fresh state.
    assert entity(g, 'watchdog_node').parameters['output'] == 'position'
    assert entity(g, 'mujoco_sim_node').parameters['command_input'] == 'position'
    # The sim then publishes once per control period: the policy acts on each state.
    assert entity(g, 'policy_node').parameters['act_on_state'] is True
    # The humanoid's soft-joint-range profile is not the G1's.
    assert entity(g, 'watchdog_node').param_files == (paths.config_path('watchdog.yaml'),)
    urdf = entity(g, 'robot_state_publisher').parameters['robot_description']
    assert '<robot name="g1"' in urdf and 'left_knee_joint' in urdf
    real = deploy_graph({'robot': 'real', 'robot_model': 'g1'})
    assert entity(real, 'watchdog_node').parameters['output'] == 'position'


def test_the_torque_gate_on_a_g1_takes_state_at_the_physics_rate():
    g = deploy_graph({'robot_model': 'g1', 'watchdog_output': 'effort'})
    assert entity(g, 'mujoco_sim_node').parameters['command_input'] == 'effort'
    # The watchdog's effort output runs the PD; states come at 200 Hz, so the policy keeps
    # its own 50 Hz timer instead of acting on each state.
    assert 'output' not in entity(g, 'watchdog_node').parameters
    assert 'act_on_state' not in entity(g, 'policy_node').parameters


def test_lockstep_g1_forwards_checked_targets_for_the_sim_to_apply():
    g = deploy_graph({'robot_model': 'g1', 'timing': 'lockstep'})
    assert entity(g, 'watchdog_node').parameters['output'] == 'position'
    assert entity(g, 'mujoco_sim_node').parameters['command_input'] == 'position'
    assert entity(g, 'policy_node').parameters['lockstep'] is True


def test_an_unknown_robot_model_is_one_line():
    with pytest.raises(GraphArgError, match="robot_model:=nosuch: unknown robot 'nosuch'"):
        deploy_graph({'robot_model': 'nosuch'})


@pytest.mark.parametrize('output, controller, interface', [
    ('effort', 'effort_controller', 'effort'), ('position', 'position_controller', 'position')])
def test_g1_controller_configs_follow_the_robot_joint_order(output, controller, interface):
    with open(paths.config_path(f'controllers_g1_{output}.yaml')) as f:
        cfg = yaml.safe_load(f)
    params = cfg[controller]['ros__parameters']
    assert params['joints'] == list(get_robot('g1').joint_names)
    assert params['interface_name'] == interface
    assert controller in cfg['controller_manager']['ros__parameters']


def test_watchdog_output_argument():
    g = deploy_graph({'robot_model': 'g1', 'watchdog_output': 'position'})
    assert entity(g, 'watchdog_node').parameters['output'] == 'position'
    assert entity(g, 'mujoco_sim_node').parameters['command_input'] == 'position'
    # The sim then publishes once per control period: the policy acts on each state.
    assert entity(g, 'policy_node').parameters['act_on_state'] is True
    real = deploy_graph({'robot': 'real', 'robot_model': 'g1', 'watchdog_output': 'position'})
    assert entity(real, 'watchdog_node').parameters['output'] == 'position'
    with pytest.raises(GraphArgError, match='needs watchdog_output:=position'):
        deploy_graph({'robot_model': 'g1', 'timing': 'lockstep', 'watchdog_output': 'effort'})
    with pytest.raises(GraphArgError, match='robot_model:=humanoid is a torque robot'):
        deploy_graph({'watchdog_output': 'position'})
    # The humanoid's graph does not change: no output or command_input parameters.
    sim = deploy_graph()
    assert 'output' not in entity(sim, 'watchdog_node').parameters
    assert 'command_input' not in entity(sim, 'mujoco_sim_node').parameters

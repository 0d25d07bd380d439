"""Which conditions ``symphony stress --ros`` runs, and what each graph asks of the sim."""

import os

import pytest

from symphony_ros.graph.processes import plan
from symphony_ros.robot import get_robot
from symphony_ros.stress import ros

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
POLICY = os.path.join(ROOT, 'models', 'humanoid_v4_symphony.onnx')


def _sim_parameters(name, tmp_path):
    robot = get_robot('humanoid')
    g = ros.graph(POLICY, robot, name, 2, 0, 30, 'stress_test')
    sim = [p for p in plan(g, str(tmp_path), write=False) if p.name == 'mujoco_sim_node']
    return sim[0].parameters


def test_the_delay_and_push_conditions_run_through_ros_and_nothing_else():
    assert ros.select([], get_robot('humanoid')) == [
        'nominal', 'delay_1', 'delay_2', 'push_0.5', 'push_1.0', 'push_1.5']
    with pytest.raises(ValueError, match="'friction_0.5' cannot run with --ros"):
        ros.select(['push_0.5', 'friction_0.5'], get_robot('humanoid'))
    # The latency conditions run through ROS when named.
    assert ros.select(['nominal', 'latency_5ms'], get_robot('humanoid')) == [
        'nominal', 'latency_5ms']


@pytest.mark.parametrize('name, delay, push', [
    ('nominal', None, None), ('delay_2', 0.03, None), ('push_1.5', None, 1.5),
    ('latency_10ms', 0.01, None)])
def test_each_condition_sets_the_sims_delay_and_kicks(name, delay, push, tmp_path):
    params = _sim_parameters(name, tmp_path)
    assert params.get('command_delay') == (pytest.approx(delay) if delay else None)
    assert params.get('push_velocity') == push
    assert params['max_episodes'] == 2 and params['episode_steps'] == 30

"""Which conditions ``symphony stress --ros`` runs, and what each graph asks of the sim."""

import math

import pytest

from symphony_ros.graph.processes import plan
from symphony_ros.robot import get_robot
from symphony_ros.stress import ros
from shipped_models import G1_FIRST, HUMANOID


def _sim_parameters(name, tmp_path):
    robot = get_robot('humanoid')
    g = ros.graph(HUMANOID, robot, name, 2, 0, 30, 'stress_test')
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


def test_a_held_command_runs_through_ros_as_the_sims_one_cmd_vel(tmp_path):
    from symphony_ros.robot.velocity_commands import format_commands
    g1 = get_robot('g1')
    assert ros.select(['nominal', 'command_forward_0.5'], g1) == ['nominal', 'command_forward_0.5']
    assert ros.select([], g1) == ros.select([], get_robot('humanoid'))   # run when named
    with pytest.raises(ValueError, match="'command_stand' holds a velocity command"):
        ros.select(['command_stand'], get_robot('humanoid'))
    with pytest.raises(ValueError, match='follows none'):
        ros.select(['command_turn_0.5'], g1, commands=False)
    g1_policy = G1_FIRST
    ranges = format_commands({'lin_vel_x': (0.0, 1.0)})
    for name, cmd_vel in (('command_forward_0.5', '0.5,0,0'), ('command_turn_0.5', '0,0,0.5'),
                          ('command_turn_-0.5', '0,0,-0.5')):
        g = ros.graph(g1_policy, g1, name, 2, 0, 30, 'stress_test', ranges)
        sim = [p for p in plan(g, str(tmp_path), write=False) if p.name == 'mujoco_sim_node']
        params = sim[0].parameters
        assert params['cmd_vel'] == cmd_vel and 'cmd_vel_ranges' not in params
        assert 'command_delay' not in params and 'push_velocity' not in params


def test_a_velocity_policy_meets_commands_drawn_from_its_own_ranges(tmp_path):
    # The in-process conditions draw from the contract's ranges; through ROS the sim does.
    from symphony_ros.policy.runtime import OnnxPolicy
    from symphony_ros.robot.velocity_commands import format_commands, parse_commands
    g1_policy = G1_FIRST
    ranges = OnnxPolicy(g1_policy).contract.task['command_ranges']
    g = ros.graph(g1_policy, get_robot('g1'), 'delay_1', 2, 0, 30, 'stress_test',
                  format_commands(ranges))
    sim = [p for p in plan(g, str(tmp_path), write=False) if p.name == 'mujoco_sim_node']
    params = sim[0].parameters
    assert params['cmd_vel'] == 'random'
    assert parse_commands(params['cmd_vel_ranges']) == {k: tuple(v) for k, v in ranges.items()}
    assert 'cmd_vel' not in _sim_parameters('delay_1', tmp_path)   # the humanoid takes none


def test_the_sims_tracking_errors_reach_the_ros_report():
    from symphony_ros.sim.episodes import EPISODE_LINE, EpisodeResult, episode_line
    from symphony_ros.stress.report import _ros_lines, verdict
    lines = [f'[mujoco_sim_node] [INFO] [1.0] [sim]: {episode_line(e)}' for e in (
        EpisodeResult(0, 900.0, 500, False, (0.1, 0.5), stride_tracking=(0.08, 0.3)),
        EpisodeResult(1, 300.0, 120, True, (0.3, 0.9), stride_tracking=(0.2, 0.4)))]
    rows = [ros.episode_row(EPISODE_LINE.search(line), 0.02) for line in lines]
    assert [r['fell'] for r in rows] == [False, True]
    assert rows[1]['tracking_rms'] == [0.3, 0.9]
    assert [r['stride_tracking_error'] for r in rows] == [0.08, 0.2]
    run = {'rows': rows, 'command_delay_s': 0.02, 'applied': None, 'push_velocity': 0.0,
           'kicks': None, 'watchdog_faults': 0, 'wall_s': 30.0, 'complete': True,
           'graph_status': 0, 'log': 'delay_1.log'}
    figures = ros.summarise(run)
    assert figures['falls'] == 1 and figures['ros']['tracking_rms'] == pytest.approx([0.2, 0.7])
    # Per stride as in process, so --max-tracking-error judges the graph's episodes too.
    assert figures['stride_tracking_error'] == pytest.approx(0.14)
    judged = {'delay_1': {**figures, 'falls': 0, 'fall_rate': 0.0, 'within_training': True}}
    v = verdict(judged, 0.1, 'training', max_tracking_error=0.1)
    assert not v['passed'] and v['failed_tracking'] == ['delay_1']
    assert verdict(judged, 0.1, 'training', max_tracking_error=0.15)['passed']
    table = '\n'.join(_ros_lines({'delay_1': figures}, 'lin_vel_x=0:1'))
    assert '| `delay_1` | 20.0 | - | - | 0.200, 0.700 | 0 | 2 | 30 |' in table
    assert 'from the policy\'s ranges `lin_vel_x=0:1`' in table
    # A robot without a velocity task (the humanoid) has no tracking part.
    plain = ros.episode_row(EPISODE_LINE.search('episode 3: return 5.0, 7 steps, fall'), 0.02)
    assert plain['tracking_rms'] is None and plain['kicks'] == []
    assert plain['stride_tracking_error'] is None
    assert figures['kicks'] is None                 # no kicks: no kick summary
    assert figures['stride_yaw_error'] == pytest.approx(0.35) and figures['reached'] is None


def test_a_held_commands_episodes_report_what_the_robot_reached():
    from symphony_ros.sim.episodes import EPISODE_LINE, EpisodeResult, episode_line
    from symphony_ros.stress.report import _held_lines
    eps = [EpisodeResult(i, 900.0, 500, i == 1, (0.1, 0.5), stride_tracking=(0.08, 0.3),
                         reached=(0.4 + 0.1 * i, 0.02, -0.1)) for i in range(2)]
    rows = [ros.episode_row(EPISODE_LINE.search(episode_line(e)), 0.02, held=True)
            for e in eps]
    assert [r['reached'] for r in rows] == [[0.4, 0.02, -0.1], [0.5, 0.02, -0.1]]
    # A condition that draws its commands reports no mean: it averages different commands.
    assert 'reached' not in ros.episode_row(EPISODE_LINE.search(episode_line(eps[0])), 0.02)
    run = {'rows': rows, 'command_delay_s': 0.0, 'applied': None, 'push_velocity': 0.0,
           'kicks': None, 'watchdog_faults': 0, 'wall_s': 30.0, 'complete': True,
           'graph_status': 0, 'log': 'command_forward_0.5.log'}
    figures = {**ros.summarise(run), 'knobs': {'command': (0.5, 0.0, 0.0)}}
    assert figures['reached'] == pytest.approx([0.45, 0.02, -0.1])
    table = '\n'.join(_held_lines({'command_forward_0.5': figures}))
    assert '| `command_forward_0.5` | 0.5, 0, 0 | 1/2 | 0.45, 0.02, -0.10 | 0.080 / 0.300 |' \
        in table


def test_the_sims_kicks_are_judged_one_by_one_in_the_ros_report():
    from symphony_ros.sim.episodes import EPISODE_LINE, EpisodeResult, episode_line
    from symphony_ros.stress.report import _kick_lines
    # 500 steps of 20 ms: 10 s. A fall at 6 s, 1.5 s after its second kick (pushed left).
    eps = (EpisodeResult(0, 900.0, 500, False, (0.1, 0.5), ((3.0, 0.1), (9.5, math.pi))),
           EpisodeResult(1, 300.0, 300, True, (0.3, 0.9),
                         ((2.0, -math.pi / 2), (4.5, math.pi / 2))))
    lines = [f'[mujoco_sim_node] [INFO] [1.0] [sim]: {episode_line(e)}' for e in eps]
    assert 'tracking error RMS 0.100 m/s, 0.500 rad/s; kicks: 3.00 s at 6 deg, ' in lines[0]
    rows = [ros.episode_row(EPISODE_LINE.search(line), 0.02, 0.5) for line in lines]
    assert rows[0]['kicks'] == [[6.0, 'survived'], [180.0, 'unresolved']]
    assert rows[1]['kicks'] == [[-90.0, 'survived'], [90.0, 'fell']]
    run = {'rows': rows, 'command_delay_s': 0.0, 'applied': None, 'push_velocity': 0.5,
           'kicks': 4, 'watchdog_faults': 0, 'wall_s': 30.0, 'complete': True,
           'graph_status': 0, 'log': 'push_0.5.log'}
    k = ros.summarise(run)['kicks']
    assert (k['given'], k['survived'], k['fell'], k['unresolved']) == (4, 2, 1, 1)
    assert k['by_direction']['left'] == {'survived': 0, 'fell': 1}
    assert k['by_direction']['right'] == {'survived': 1, 'fell': 0}
    text = '\n'.join(_kick_lines({'push_0.5': ros.summarise(run)}))
    assert '`push_0.5`: 2 of 3 kicks survived (forward 1/1, left 0/1, backward 0/0, right 1/1)' \
        in text


def test_watchdog_faults_are_given_by_reason_and_a_stale_input_blamed_on_the_loop():
    from symphony_ros.safety.states import Fault
    from symphony_ros.stress.report import _fault_lines
    # The watchdog node logs 'state: ' + its state text, 'FAULT <reason>: <detail>'.
    for fault in Fault:
        line = (f'[watchdog_node] [ERROR] [1.0] [ns.watchdog_node]: state: FAULT '
                f'{fault.value}: last valid joint_states 62 ms ago (timeout 60 ms)')
        assert ros.FAULT_REASON.search(line).group(1) == fault.value
    conds = {'nominal': {'ros': {'watchdog_faults': 0, 'fault_reasons': {}}},
             'command_turn_0.5': {'ros': {'watchdog_faults': 3, 'fault_reasons': {
                 'joint_states_stale': 2, 'tilt': 1}}}}
    text = '\n'.join(_fault_lines(conds))
    assert '`command_turn_0.5`: joint_states_stale 2, tilt 1.' in text
    assert "the loop's timing" in text and '`nominal`' not in text
    conds['command_turn_0.5']['ros']['fault_reasons'] = {'tilt': 3}
    assert "the loop's timing" not in '\n'.join(_fault_lines(conds))
    conds['command_turn_0.5']['ros']['watchdog_faults'] = 0
    assert _fault_lines(conds) == []


def test_the_printed_summary_names_the_faults_beside_the_falls(capsys):
    from symphony_ros.cli.stress_cmd import _print_summary
    c = {'falls': 5, 'episodes': 5, 'return_mean': 546.1, 'within_training': True,
         'kicks': None, 'ros': {'fault_reasons': {'joint_states_stale': 5}}}
    report = {'conditions': {'command_turn_0.5': {**c, 'reached': [-0.02, 0.0, 0.05]},
                             'nominal': {**c, 'ros': {}}},
              'latency': None, 'workers': 1, 'wall_s': 137.0,
              'verdict': {'passed': False, 'failed': ['command_turn_0.5', 'nominal']}}
    _print_summary(report, 'report.md')
    turn, nominal = capsys.readouterr().out.splitlines()[:2]
    assert turn.endswith('reached -0.02 m/s, 0.00 m/s, 0.05 rad/s  '
                         'watchdog FAULTs: joint_states_stale 5')
    assert 'FAULT' not in nominal


def test_a_policy_trained_on_leg_odometry_reads_it_through_the_graph(tmp_path):
    g = ros.graph(G1_FIRST, get_robot('g1'), 'nominal', 2, 0, 30, 'stress_test',
                  estimator='legs')
    nodes = {p.name: p for p in plan(g, str(tmp_path), write=False)}
    assert 'state_estimator_node' in nodes
    plain = ros.graph(G1_FIRST, get_robot('g1'), 'nominal', 2, 0, 30, 'stress_test')
    names = {p.name for p in plan(plain, str(tmp_path), write=False)}
    assert 'state_estimator_node' not in names

"""``symphony demo``: deploy in lockstep with recording, evaluate, render, summarise."""

import json
import os
import sys

import pytest
from launch_helpers import Launcher

pytestmark = pytest.mark.ros


def run_demo(env: dict, *args: str) -> str:
    """Run ``symphony demo ARGS`` to the end; return its output (exit 0 asserted)."""
    demo = Launcher([sys.executable, '-m', 'symphony_ros.cli.demo_cmd', *args], env)
    try:
        assert demo.finish(timeout=300) == 0, demo.text
    finally:
        if demo.proc.poll() is None:
            demo.proc.kill()
    return demo.text


def test_demo_runs_the_graph_records_evaluates_and_summarises(ros_env, policy_file, tmp_path):
    out = tmp_path / 'demo'
    text = run_demo(ros_env, '--policy', policy_file, '--ticks', '150', '--out', str(out))
    assert '== symphony demo' in text and 'return (mean over complete episodes)' in text, text
    assert 'watchdog faults:' in text and 'policy loop: tick p50' in text, text
    report = json.loads((out / 'report' / 'report.json').read_text())
    assert report['overall']['steps'] >= 140, report['overall']
    assert report['overall']['ticks_missed']['missed'] == 0
    assert (out / 'bag' / 'metadata.yaml').is_file()
    # A GIF where MuJoCo renders offscreen, otherwise one line saying why.
    assert (out / 'demo.gif').is_file() or 'no video: MuJoCo cannot render' in text, text
    if (out / 'demo.gif').is_file():
        assert os.path.getsize(out / 'demo.gif') > 10_000


def test_demo_without_a_policy_is_one_clear_line(tmp_path):
    from symphony_ros.cli.demo_cmd import main
    missing = tmp_path / 'nope.onnx'
    assert main(['--policy', str(missing), '--out', str(tmp_path / 'o')]) == 2


@pytest.mark.parametrize('make', ['earlier_demo', 'file', 'under_a_file'])
def test_demo_refuses_an_output_it_would_overwrite_and_touches_nothing(tmp_path, capsys,
                                                                       make):
    from symphony_ros.cli.demo_cmd import main
    out = tmp_path / 'demo'
    if make == 'earlier_demo':
        (out / 'bag').mkdir(parents=True)
        (out / 'bag' / 'metadata.yaml').write_text('earlier')
        (out / 'launch.log').write_text('earlier good log')
    else:
        out.write_text('a file')
    target = out / 'sub' if make == 'under_a_file' else out
    before = sorted((p, p.read_bytes() if p.is_file() else b'') for p in tmp_path.rglob('*'))
    assert main(['--out', str(target), '--ticks', '10']) == 2
    err = capsys.readouterr()
    assert err.out == '' and err.err.count('\n') == 1 and f'--out {target}' in err.err, err
    assert sorted((p, p.read_bytes() if p.is_file() else b'')
                  for p in tmp_path.rglob('*')) == before


def test_summary_tells_faults_between_episodes_apart():
    from symphony_ros.cli.demo_cmd import _summary
    overall = {'return': {'mean': 5000.0, 'std': 0.0}, 'episodes': 1, 'complete_episodes': 1,
               'falls': 0, 'length': {'mean': 1000.0}, 'faults': 2}
    faults = [{'episode': 0, 'cause': 'tilt'}, {'episode': None, 'cause': 'joint_states_stale'}]
    lines = _summary({'overall': overall, 'faults': faults})
    assert 'watchdog faults: 2 (1 between episodes: joint_states_stale)' in lines
    lines = _summary({'overall': dict(overall, faults=1), 'faults': faults[:1]})
    assert 'watchdog faults: 1' in lines
    estimate = {'matched': 301, 'lin_vel_rms': [0.081, 0.085, 0.065], 'height_rms': 0.0061,
                'lin_vel_mean': [-0.052, 0.001, 0.04]}
    lines = _summary({'overall': overall, 'faults': [], 'odometry_estimate': estimate})
    assert ('leg odometry against the sim\'s truth: velocity RMS 0.081 / 0.085 / 0.065 m/s '
            '(mean -0.052 / +0.001 / +0.040), height 6.1 mm (301 states)') in lines


def test_the_leg_odometry_needs_a_robot_with_feet(tmp_path, capsys):
    from symphony_ros.cli.demo_cmd import main
    assert main(['--estimator', 'legs', '--out', str(tmp_path / 'd')]) == 2
    err = capsys.readouterr().err
    assert "--estimator legs: robot 'humanoid' names no feet" in err and err.count('\n') == 1
    assert not (tmp_path / 'd').exists()


@pytest.mark.slow     # 105 s measured on the shared, loaded machine (G1 meshes render)
def test_g1_demo_follows_a_velocity_command_records_it_and_reports_tracking(
        ros_env, g1_policy, tmp_path):
    from symphony_ros.bag.reader import open_bag
    out = tmp_path / 'demo_g1'
    text = run_demo(ros_env, '--robot', 'g1', '--policy', g1_policy, '--cmd-vel', '0.4,0,0.1',
                    '--ticks', '100', '--out', str(out))
    assert 'command 0.4,0,0.1 on /cmd_vel' in text, text
    assert 'velocity tracking error (RMS):' in text and 'return (mean over' in text, text
    report = json.loads((out / 'report' / 'report.json').read_text())
    assert report['robot'] == 'g1' and report['overall']['steps'] >= 95, report['overall']
    assert report['overall']['tracking_rms']['lin_vel'] > 0.0
    assert report['policy']['recorded']['vs_recorded_actions']['reproduced_share'] >= 0.95
    # The bag shows the command the robot was given.
    bag = open_bag(str(out / 'bag'))
    assert bag.topics['/cmd_vel'].count >= 100
    twist = [m for _, m in bag.messages(['/cmd_vel'])['/cmd_vel']][-1]
    assert (twist.linear.x, twist.linear.y, twist.angular.z) == (0.4, 0.0, 0.1)
    assert (out / 'demo.gif').is_file() or 'no video: MuJoCo cannot render' in text, text


def test_a_robot_without_a_shipped_policy_says_how_to_get_one(tmp_path, capsys, policy_file):
    import importlib.util
    from symphony_ros.cli.demo_cmd import main
    spec = importlib.util.spec_from_file_location(
        'user_robot', os.path.join(os.path.dirname(__file__), '..', 'robot', 'user_robot.py'))
    user_robot = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(user_robot)
    robot_file = user_robot.write_robot(str(tmp_path / 'mine'))
    out = tmp_path / 'o'
    assert main(['--robot', robot_file, '--out', str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and f'symphony train --robot {robot_file}' in err
    assert '--policy' in err
    # A humanoid policy cannot drive the G1: refused before anything starts.
    assert main(['--robot', 'g1', '--policy', policy_file, '--out', str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and "cannot drive robot 'g1'" in err, err
    assert main(['--policy', policy_file, '--cmd-vel', '1,0,0', '--out', str(out)]) == 2
    assert 'takes no velocity command' in capsys.readouterr().err
    assert not out.exists()

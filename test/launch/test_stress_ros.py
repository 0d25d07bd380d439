"""``symphony stress --ros``: conditions through the real deploy graph, delay in the sim."""

import json
import os
import sys

import pytest
from process_helpers import ChildProcess

from symphony_ros.sim.episodes import REACHED_PART
from shipped_models import G1_FIRST, HUMANOID

pytestmark = pytest.mark.ros


def test_stress_through_ros_applies_the_delay_in_the_sim(ros_env, tmp_path):
    out = tmp_path / 'report'
    proc = ChildProcess([sys.executable, '-m', 'symphony_ros.cli.main', 'stress', HUMANOID,
                         '--ros', '--conditions', 'nominal', 'delay_2', '--episodes', '2',
                         '--max-steps', '30', '--out', str(out), '--no-progress'], ros_env)
    try:
        code = proc.finish(timeout=240)
    finally:
        proc.kill()
    assert code in (0, 1), proc.text
    with open(out / 'report.json') as fh:
        report = json.load(fh)
    assert report['through'] == 'ros' and report['timing'] == 'realtime'
    nominal, delay = (report['conditions'][n] for n in ('nominal', 'delay_2'))
    for c in (nominal, delay):
        assert c['episodes'] == 2 and c['ros']['complete'], proc.text
        assert all(e['steps'] <= 30 for e in c['per_episode'])
    # The sim itself reports the delay it was given and how late it applied the commands:
    # never before they were due, so two control steps (30 ms) at least.
    assert nominal['ros']['applied']['command_delay_s'] == 0.0
    assert delay['ros']['applied']['command_delay_s'] == pytest.approx(0.03)
    assert delay['ros']['applied']['median_ms'] >= 30.0
    assert nominal['ros']['applied']['median_ms'] < delay['ros']['applied']['median_ms']
    for name in ('report.md', 'ros/nominal.log', 'ros/delay_2.log'):
        assert os.path.isfile(out / name)
    assert 'Through ROS' in (out / 'report.md').read_text()


def test_a_held_command_through_the_graph_is_judged_by_max_tracking_error(ros_env, tmp_path):
    out = tmp_path / 'report'
    policy = G1_FIRST
    proc = ChildProcess([sys.executable, '-m', 'symphony_ros.cli.main', 'stress', policy,
                         '--ros', '--conditions', 'command_forward_0.5', '--episodes', '1',
                         '--max-steps', '60', '--max-tracking-error', '0.001',
                         '--out', str(out), '--no-progress'], ros_env)
    try:
        code = proc.finish(timeout=240)
    finally:
        proc.kill()
    assert code == 1, proc.text
    report = json.loads((out / 'report.json').read_text())
    held = report['conditions']['command_forward_0.5']
    # Up to 60 steps hold up to 21 full gait-cycle windows of 40: the sim's per-stride
    # figure is there. A loop stalled by a busy machine can end the episode early (a
    # watchdog FAULT damps the joints and the robot falls), so it is asked for one window.
    assert held['ros']['complete'] and 40 < held['per_episode'][0]['steps'] <= 60, proc.text
    assert 0.001 < held['stride_tracking_error'] < held['ros']['tracking_rms'][0]
    assert report['verdict']['failed_tracking'] == ['command_forward_0.5']
    # The sim published the one command, and said what the robot reached under it (that
    # the policy walks off along it is asserted in process: here a busy machine may stall
    # the loop into a watchdog FAULT, which damps the joints).
    log = (out / 'ros' / 'command_forward_0.5.log').read_text()
    assert 'command 0.5,0,0 on cmd_vel' in log, log[-2000:]
    said = REACHED_PART.search(log)
    assert held['reached'] == pytest.approx([float(v) for v in said.groups()])
    assert 'Held to one command' in (out / 'report.md').read_text()

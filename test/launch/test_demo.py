"""``symphony demo``: deploy in lockstep with recording, evaluate, render, summarise."""

import json
import os
import sys

import pytest
from launch_helpers import Launcher

pytestmark = pytest.mark.ros


def test_demo_runs_the_graph_records_evaluates_and_summarises(ros_env, policy_file, tmp_path):
    out = tmp_path / 'demo'
    demo = Launcher([sys.executable, '-m', 'symphony_ros.cli.demo_cmd', '--policy', policy_file,
                     '--ticks', '150', '--out', str(out)], ros_env)
    try:
        assert demo.finish(timeout=300) == 0, demo.text
    finally:
        if demo.proc.poll() is None:
            demo.proc.kill()
    text = demo.text
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

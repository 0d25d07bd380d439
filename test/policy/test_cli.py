"""``symphony export`` and ``symphony inspect``: output, exit codes, one-line errors."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from symphony_ros.cli.main import main
from symphony_ros.policy.runtime import OnnxPolicy


def _one_line_error(capsys, argv, pattern):
    try:
        code = main(argv)
    except SystemExit as exc:      # a flag refused at parse time
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and err.startswith(f'symphony {argv[0]}: error: '), err
    assert pattern in err, err


def test_export_a_trained_run_then_inspect_and_act(trained_run, tmp_path, capsys):
    out = str(tmp_path / 'models' / 'pendulum.onnx')
    assert main(['export', trained_run, '-o', out]) == 0
    text = capsys.readouterr().out
    assert f'wrote {out}: obs 4 (gym:InvertedPendulum-v4), act 1, no robot' in text
    assert 'replay_000000064.pt' in text  # parity observations from the run's replay
    policy = OnnxPolicy(out)
    assert policy.contract.training_steps == 64
    assert np.isfinite(policy.act(np.zeros(4))).all()
    assert main(['inspect', out]) == 0
    text = capsys.readouterr().out
    assert 'observation      gym:InvertedPendulum-v4: 4 values' in text
    assert 'robot            none' in text and 'control period   0.04 s' in text


def test_export_default_output_and_force(runs, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(['export', runs['pendulum']['run'], '--samples', '20']) == 0
    assert os.path.isfile('models/pendulum.onnx')
    capsys.readouterr()
    _one_line_error(capsys, ['export', runs['pendulum']['run'], '--samples', '20'],
                    'exists; pass overwrite=True (symphony export --force)')
    assert main(['export', runs['pendulum']['run'], '--samples', '20', '--force']) == 0


def test_inspect_humanoid_lists_terms_and_joints(runs, capsys):
    assert main(['inspect', runs['humanoid']['onnx']]) == 0
    out = capsys.readouterr().out
    assert 'robot            humanoid' in out and 'abdomen_y' in out and 'left_elbow' in out
    assert 'qpos_without_xy' in out and 'control period   0.015 s' in out
    assert 'obs [batch, 376] float32 -> action [batch, 17] float32' in out


def test_inspect_json_is_the_stored_document(runs, capsys):
    assert main(['inspect', '--json', runs['humanoid']['onnx']]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == runs['humanoid']['result'].contract.to_dict()


def test_inspect_json_still_shows_a_newer_format(runs, tmp_path, capsys,
                                                 rewrite_contract):
    path = str(tmp_path / 'n.onnx')
    rewrite_contract(runs['pendulum']['onnx'], path,
                     lambda t: t.replace('"format_version":1', '"format_version":9'))
    assert main(['inspect', '--json', path]) == 0
    assert json.loads(capsys.readouterr().out)['format_version'] == 9
    _one_line_error(capsys, ['inspect', path], 'contract format 9 is newer')


@pytest.mark.parametrize('argv, pattern', [
    (['export', 'no/such/run'], 'no/such/run: no such run folder or checkpoint file'),
    (['export', '{run}', '-o', 'x.pt'], '--output x.pt: expected a file name ending in .onnx'),
    (['export', '{run}', '--samples', '0'], 'argument --samples: expected a number >= 1, got 0'),
    (['export', '{run}', '--opset', '13', '-o', '{tmp}/o.onnx'], 'opset: expected >= 17'),
    (['export', '{tmp}'], 'run folder has neither best_actor.pt nor checkpoints/'),
    (['inspect', 'no/such.onnx'], 'no/such.onnx: no such file'),
    (['inspect', '{bad}'], 'is not an ONNX model'),
])
def test_bad_input_is_one_line_and_exit_2(runs, tmp_path, capsys, argv, pattern):
    bad = tmp_path / 'bad.onnx'
    bad.write_bytes(b'hello, not onnx')
    fill = dict(run=runs['pendulum']['run'], tmp=str(tmp_path), bad=str(bad))
    argv = [a.format(**fill) for a in argv]
    _one_line_error(capsys, argv, pattern.format(**fill))


def test_the_installed_command(runs):
    out = subprocess.run([sys.executable, '-m', 'symphony_ros.cli.main', 'inspect',
                          runs['pendulum']['onnx'] + '.missing'],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stdout == ''
    assert out.stderr.strip().endswith('.missing: no such file')
    assert out.stderr.count('\n') == 1


def test_importing_the_package_stays_cheap():
    code = ('import sys, symphony_ros, symphony_ros.policy, symphony_ros.cli.main\n'
            'symphony_ros.cli.main.build_parser()\n'
            "print(sorted(m for m in ('onnxruntime', 'rclpy') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == '[]'

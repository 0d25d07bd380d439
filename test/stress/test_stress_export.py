"""A G1 (pd_position, velocity-command) policy through stress, export --stress and inspect."""

import json
import os

import torch

from symphony_ros.cli.main import main
from symphony_ros.core.config import SymphonyConfig, TrainConfig
from symphony_ros.core.networks import Actor
from symphony_ros.core.snapshot import save_best_actor


def _run(run_dir, seed):
    """A run folder with an untrained G1-sized actor (no training: its shape is what counts)."""
    torch.manual_seed(seed)
    actor = Actor(96, 29, 32).eval()
    info = dict(train_config=TrainConfig(env='velocity:g1', steps=10, obs_spec='velocity',
                                         randomize='default', randomize_ramp=1000,
                                         init_from='runs/g1_nominal').to_dict(),
                symphony_config=SymphonyConfig(hidden_dim=32, critic_heads=8).to_dict(),
                obs_dim=96, act_dim=29, obs_spec='velocity', step=10, test_return=1.0)
    save_best_actor(str(run_dir), actor, info)
    return str(run_dir)


def test_g1_stress_report_goes_into_the_contract(tmp_path, capsys):
    run = _run(tmp_path / 'run', 0)
    policy = str(tmp_path / 'g1.onnx')
    assert main(['export', run, '-o', policy, '--samples', '50']) == 0
    out = str(tmp_path / 'report')
    rc = main(['stress', policy, '--conditions', 'nominal', 'kp_1.2', '--episodes', '1',
               '--max-steps', '15', '--workers', '1', '--out', out, '--no-progress'])
    with open(os.path.join(out, 'report.json')) as fh:
        report = json.load(fh)
    assert rc == (0 if report['verdict']['passed'] else 1)
    assert report['robot'] == 'g1' and report['conditions']['kp_1.2']['within_training'] is False
    assert report['conditions']['nominal']['tracking_error'] is not None  # command policy
    assert os.path.isfile(os.path.join(out, 'tracking_error.png'))

    shipped = str(tmp_path / 'g1_stressed.onnx')
    assert main(['export', run, '-o', shipped, '--samples', '50', '--stress', out]) == 0
    capsys.readouterr()
    assert main(['inspect', shipped]) == 0
    text = capsys.readouterr().out
    verdict = 'PASS' if report['verdict']['passed'] else 'FAIL'
    assert f'stress           {verdict}' in text
    assert ('randomization    default x1 (training env only), widened from none over 1,000 '
            'steps; networks started from runs/g1_nominal') in text

    other = _run(tmp_path / 'other', 1)
    rc = main(['export', other, '-o', str(tmp_path / 'o.onnx'), '--samples', '50',
               '--stress', out])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and 'other weights' in err[0]
    assert not os.path.exists(tmp_path / 'o.onnx')

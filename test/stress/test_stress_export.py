"""A G1 (pd_position, velocity-command) policy through stress, export --stress and inspect."""

import json
import os
import re

import torch

from symphony_ros.cli.inspect_cmd import _stress_line
from symphony_ros.cli.main import main
from symphony_ros.core.config import SymphonyConfig, TrainConfig
from symphony_ros.core.networks import Actor
from symphony_ros.core.snapshot import save_best_actor
from symphony_ros.robot import get_robot
from symphony_ros.robot.ranges import load_randomization
from symphony_ros.stress.report import contract_summary


def _run(run_dir, seed):
    """A run folder with an untrained G1-sized actor (no training: its shape is what counts)."""
    torch.manual_seed(seed)
    actor = Actor(96, 29, 32).eval()
    info = dict(train_config=TrainConfig(env='velocity:g1', steps=10, obs_spec='velocity',
                                         randomize='default', randomize_ramp=1000,
                                         init_from='runs/g1_nominal').to_dict(),
                symphony_config=SymphonyConfig(hidden_dim=32, critic_heads=8).to_dict(),
                obs_dim=96, act_dim=29, obs_spec='velocity', step=10, test_return=1.0,
                randomization=load_randomization('default', get_robot('g1')).to_dict())
    save_best_actor(str(run_dir), actor, info)
    return str(run_dir)


def test_g1_stress_report_goes_into_the_contract(tmp_path, capsys):
    run = _run(tmp_path / 'run', 0)
    policy = str(tmp_path / 'g1.onnx')
    assert main(['export', run, '-o', policy, '--samples', '50']) == 0
    out = str(tmp_path / 'report')
    rc = main(['stress', policy, '--conditions', 'nominal', 'kp_1.2', 'latency_10ms',
               'delay_1', '--episodes', '2', '--max-steps', '15', '--workers', '1', '--out',
               out, '--no-progress'])
    with open(os.path.join(out, 'report.json')) as fh:
        report = json.load(fh)
    assert rc == (0 if report['verdict']['passed'] else 1)
    # The latency budget, read from the delay-only conditions (kp_1.2 moves something else).
    rates = [report['conditions'][n]['fall_rate'] for n in ('nominal', 'latency_10ms', 'delay_1')]
    latency = report['latency']
    assert latency['delays_ms'] == [0.0, 10.0, 20.0] and latency['fall_rates'] == rates
    passing = [d for d, r in zip((0.0, 10.0, 20.0), rates) if r <= 0.1]
    expected = None
    for d in (0.0, 10.0, 20.0):
        if d not in passing:
            break
        expected = d
    assert latency['budget_ms'] == expected
    with open(os.path.join(out, 'report.md')) as fh:
        assert 'Latency budget: ' in fh.read()
    assert report['robot'] == 'g1' and report['conditions']['kp_1.2']['within_training'] is False
    # Ten steps into a ramp of 1,000 the actor met a robot 1 % as wide as the default ranges:
    # a control step of delay is in the verdict's ranges, not in this actor's training.
    assert report['trained_under'] == ("randomisation 'default' x1, of which its ramp had "
                                       "reached 1% at this actor's step (10)")
    assert [report['conditions'][n]['within_policy_training'] for n in ('nominal', 'delay_1')
            ] == [True, False] and report['conditions']['delay_1']['within_training']
    nominal = report['conditions']['nominal']
    assert nominal['tracking_error'] is not None  # command policy
    assert 'stride_tracking_error' in nominal  # None: 15 steps are less than a gait cycle
    assert os.path.isfile(os.path.join(out, 'tracking_error.png'))

    shipped = str(tmp_path / 'g1_stressed.onnx')
    assert main(['export', run, '-o', shipped, '--samples', '50', '--stress', out]) == 0
    capsys.readouterr()
    assert main(['inspect', shipped]) == 0
    text = capsys.readouterr().out
    verdict = 'PASS' if report['verdict']['passed'] else 'FAIL'
    assert f'stress           {verdict}' in text
    budget = 'none' if expected is None else f'{expected:g} ms'
    assert f'; latency budget {budget}' in text
    assert re.search(r'randomization    default x1 \(training env only\), widened from none '
                     r'over 1,000 steps; at step 10, this actor\'s, x0\.01 \(1% of it\)\n', text)
    assert '\n  source           fine-tuned from runs/g1_nominal' in text
    # How far toward worst it stands (--worst-depth) goes into the contract alike.
    report['worst_depth'] = {'depths': [0.0, 0.2, 0.4], 'fall_rates': [0.0, 0.0, 0.0],
                             'budget': 0.4, 'max_fall_rate': 0.1}
    deeper = tmp_path / 'deeper'
    deeper.mkdir()
    (deeper / 'report.json').write_text(json.dumps(report))
    summary = contract_summary(str(deeper))
    assert summary['worst_depth'] == 0.4 and _stress_line(summary).endswith('; worst depth 0.4')
    assert 'worst_depth' not in contract_summary(out)

    other = _run(tmp_path / 'other', 1)
    rc = main(['export', other, '-o', str(tmp_path / 'o.onnx'), '--samples', '50',
               '--stress', out])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and 'other weights' in err[0]
    assert not os.path.exists(tmp_path / 'o.onnx')


def test_an_exported_policy_takes_its_stress_report_with_the_graph_untouched(tmp_path, capsys):
    import onnx
    run = _run(tmp_path / 'run', 0)
    policy = str(tmp_path / 'g1.onnx')
    assert main(['export', run, '-o', policy, '--samples', '20']) == 0
    out = str(tmp_path / 'report')
    main(['stress', policy, '--conditions', 'nominal', '--episodes', '1', '--max-steps', '5',
          '--workers', '1', '--out', out, '--no-progress'])
    before = onnx.load(policy)
    capsys.readouterr()
    assert main(['export', policy, '--stress', out]) == 2  # in place needs --force
    assert 'pass --force' in capsys.readouterr().err
    assert main(['export', policy, '--stress', out, '--force']) == 0
    assert 'graph unchanged' in capsys.readouterr().out
    after = onnx.load(policy)
    assert after.graph.SerializeToString() == before.graph.SerializeToString()
    assert main(['inspect', policy]) == 0
    assert 'stress           ' in capsys.readouterr().out
    from symphony_ros.policy.onnx_file import load_contract
    assert load_contract(policy).stress['episodes'] == 1

    assert main(['export', policy, '-o', str(tmp_path / 'x.onnx')]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'can only be given --stress' in err[0]
    other = str(tmp_path / 'other.onnx')
    assert main(['export', _run(tmp_path / 'other', 1), '-o', other, '--samples', '20']) == 0
    capsys.readouterr()
    assert main(['export', other, '--stress', out, '--force']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'other weights' in err[0] and other in err[0]
    assert load_contract(other).stress is None

"""``symphony export`` and ``symphony inspect``: output, exit codes, one-line errors."""

import json
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest

from symphony_ros.cli.main import main
from symphony_ros.policy.runtime import OnnxPolicy
from symphony_ros.robot.description import get_robot
from symphony_ros.robot.obs_specs import get_obs_spec


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
    (tmp_path / 'models').mkdir()
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
                    'exists; pass --force to replace it')
    assert main(['export', runs['pendulum']['run'], '--samples', '20', '--force']) == 0


def test_inspect_humanoid_lists_terms_and_joints(runs, capsys):
    assert main(['inspect', runs['humanoid']['onnx']]) == 0
    out = capsys.readouterr().out
    assert 'robot            humanoid' in out and 'abdomen_y' in out and 'left_elbow' in out
    assert 'qpos_without_xy' in out and 'control period   0.015 s' in out
    obs, act = get_obs_spec('humanoid_v4_full').dim, get_robot('humanoid').n_joints
    assert f'obs [batch, {obs}] float32 -> action [batch, {act}] float32' in out


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


def _resize_graph(src, dst, which, size):
    model = onnx.load(src)
    getattr(model.graph, which)[0].type.tensor_type.shape.dim[1].dim_value = size
    onnx.save(model, dst)


@pytest.mark.parametrize('which, size, pattern', [
    ('input', 57, 'contract says 376, but graph input'),
    ('output', 3, 'contract says 17, but graph output'),
    (None, None, 'abdomen'),
])
def test_inspect_runs_the_contract_checks_the_rest_of_the_tool_runs(runs, tmp_path, capsys,
                                                                    rewrite_contract, which,
                                                                    size, pattern):
    """A file deploy, doctor and evaluate refuse is not passed by inspect (still printed)."""
    path = str(tmp_path / 'bad.onnx')
    if which:
        _resize_graph(runs['humanoid']['onnx'], path, which, size)
    else:           # a joint this install's humanoid does not have
        rewrite_contract(runs['humanoid']['onnx'], path,
                         lambda t: t.replace('"abdomen_y"', '"abdomen_q"'))
    assert main(['inspect', path]) == 2
    out, err = capsys.readouterr()
    assert 'robot            humanoid' in out          # what could be read is printed
    assert err.count('\n') == 1 and err.startswith('symphony inspect: error: '), err
    assert pattern in err, err


@pytest.mark.parametrize('robot, pattern', [
    ('g1', 'joint'),                       # another robot: its joints are not the policy's
    ('no_such_robot', '--robot no_such_robot: '),
])
def test_inspect_checks_against_the_robot_asked_for(runs, capsys, robot, pattern):
    assert main(['inspect', runs['humanoid']['onnx'], '--robot', robot]) == 2
    out, err = capsys.readouterr()
    assert 'robot            humanoid' in out
    assert err.count('\n') == 1 and pattern in err, err


def test_messages_say_what_the_file_is_and_never_suggest_running_its_code(
        runs, tmp_path, capsys, make_run):
    """A pickle with objects, a non-torch file, a truncated one, NaN weights: each named."""
    import datetime
    import torch
    torch.save({'when': datetime.datetime(2026, 1, 1)}, tmp_path / 'objects.pt')
    (tmp_path / 'junk.pt').write_bytes(b'not a torch file')
    whole = (runs['pendulum']['run'] + '/best_actor.pt')
    (tmp_path / 'cut.pt').write_bytes(open(whole, 'rb').read()[:300])
    cases = [('objects.pt', 'holds Python objects'), ('junk.pt', 'not a torch file'),
             ('cut.pt', 'truncated or damaged')]
    for name, pattern in cases:
        _one_line_error(capsys, ['export', str(tmp_path / name), '-o',
                                 str(tmp_path / 'o.onnx')], pattern)
    nan_run = str(tmp_path / 'nan')
    actor = make_run(nan_run, 'InvertedPendulum-v4', 4, 1, replay_rows=0)
    state = torch.load(nan_run + '/best_actor.pt', weights_only=True)
    next(iter(state['actor'].values())).fill_(float('nan'))
    torch.save(state, nan_run + '/best_actor.pt')
    assert actor is not None
    _one_line_error(capsys, ['export', nan_run, '-o', str(tmp_path / 'n.onnx')],
                    'the actor weights hold NaN or Inf')
    assert not (tmp_path / 'o.onnx').exists() and not (tmp_path / 'n.onnx').exists()


FOLDER = ('{run}: is a folder; expected an .onnx file (a run folder? `symphony export {run} '
          '-o policy.onnx` makes one)')


@pytest.mark.parametrize('argv, pattern', [
    (['export', 'no/such/run'], 'no/such/run: no such run folder or checkpoint file'),
    (['export', '{run}', '-o', 'x.pt'], '--output x.pt: expected a file name ending in .onnx'),
    (['export', '{run}', '--samples', '0'], 'argument --samples: expected a number >= 1, got 0'),
    (['export', '{run}', '--opset', '13', '-o', '{tmp}/o.onnx'],
     '--opset: expected a number >= 17'),
    (['export', '{run}', '--opset', '99', '-o', '{tmp}/o.onnx'], '--opset 99: expected 17 to'),
    (['export', '{run}', '-o', '{tmp}/no/such/o.onnx'], 'folder {tmp}/no/such does not exist'),
    (['export', '{tmp}'], 'run folder has neither best_actor.pt nor checkpoints/'),
    (['inspect', 'no/such.onnx'], 'no/such.onnx: no such file'),
    # A run folder where a policy file belongs: every command says how to make one.
    (['distill', '{run}', '-o', '{tmp}/s.onnx'], FOLDER),
    # inspect takes a training run's folder too (its config.json), and says what else is one.
    (['inspect', '{run}'], '{run}: holds an actor but no config.json, so no run to say more '
                           'of; `symphony export {run} -o policy.onnx` makes a policy of it'),
    (['inspect', '{tmp}'], '{tmp}: neither a policy file nor a run folder (config.json '
                           'missing'),
    (['stress', '{tmp}'], '{tmp}: cannot export it to stress it: '),
    (['stress', '{tmp}/no.pt'], '{tmp}/no.pt: no such run folder or checkpoint file'),
    (['record', '--policy', '{run}'], '--policy {run}: is a folder; expected an .onnx file'),
    (['evaluate', '{tmp}', '--policy', '{run}'], '--policy {run}: is a folder; expected'),
    (['doctor', '--robot', 'bogus'], "--robot bogus: unknown robot 'bogus'; expected one of"),
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


def _numeric_flags():
    """(command, flag, range) of every numeric flag of every subcommand."""
    from symphony_ros.cli.main import build_parser
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == 'command')
    for name, p in sub.choices.items():
        for action in p._actions:
            if action.option_strings and (getattr(action.type, '__name__', '') in
                                          ('int', 'float')):
                yield name, action.option_strings[-1], getattr(action.type, 'range', None)


def test_every_numeric_flag_of_every_command_has_a_declared_range():
    found = list(_numeric_flags())
    assert {c for c, _, _ in found} >= {'train', 'export', 'record', 'replay', 'evaluate',
                                        'demo', 'launch'}
    assert [(c, f) for c, f, rng in found if rng is None] == []


@pytest.mark.parametrize('command, flag, value', [
    (c, f, v) for c, f, rng in _numeric_flags() if rng is not None and c != 'train'
    for v in ['nan', '-inf'] + ([str(rng.low if rng.above else rng.low - 1)]
                                if rng.low is not None else [])])
def test_out_of_range_numbers_are_refused_at_parse_time(capsys, command, flag, value):
    positional = {'export': ['run'], 'evaluate': ['bag'], 'replay': ['bag'],
                  'launch': ['deploy']}.get(command, [])
    with pytest.raises(SystemExit) as exc:
        main([command, *positional, f'{flag}={value}'])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and f'argument {flag}: expected a' in err, err

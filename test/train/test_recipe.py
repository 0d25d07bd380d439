"""``symphony train --recipe``: a training command kept in a YAML file, flags given win."""

import json
import os

import pytest

from symphony_ros.cli.errors import CliError
from symphony_ros.cli.main import build_parser, main
from symphony_ros.cli.recipe import apply_recipe, load_recipe, shipped_recipes
from symphony_ros.cli.train_cmd import config_from_args


def _config(*argv):
    args = build_parser().parse_args(['train', *argv])
    taken = apply_recipe(args)
    return config_from_args(args), taken


def _write(tmp_path, text, name='recipe.yaml'):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_the_shipped_g1_recipe_is_the_g1_run_and_flags_given_win(tmp_path):
    assert os.path.isfile(shipped_recipes()['g1_velocity'])
    cfg, (taken, overridden) = _config('--recipe', 'g1_velocity', '--run-dir', str(tmp_path),
                                       '--seed', '7', '--hidden-dim', '64')
    assert cfg.env == 'velocity:g1' and cfg.obs_spec == 'velocity_gait_scaled'
    assert cfg.privileged_critic and cfg.mirror and cfg.randomize == 'default'
    assert cfg.overrides['critic_heads'] == 32 and cfg.overrides['hidden_dim'] == 64
    assert 'joint_ref=1.0' in cfg.reward_weights and cfg.seed == 7 and cfg.compile
    assert cfg.run_dir == str(tmp_path) and overridden == 1 and taken > 10


def test_every_shipped_recipe_is_a_run_the_trainer_takes(tmp_path):
    shipped = shipped_recipes()
    assert {'g1_velocity', 'humanoid_ed'} <= set(shipped)
    for name in shipped:
        cfg, (taken, overridden) = _config('--recipe', name, '--run-dir', str(tmp_path))
        assert taken >= 5 and overridden == 0, name
    cfg, _ = _config('--recipe', 'humanoid_ed')
    assert cfg.config == 'ed' and cfg.env == 'symphony/Humanoid-v4' and cfg.eval_every == 5000


def test_the_command_s_environment_wins_whole(tmp_path):
    recipe = _write(tmp_path, 'robot: g1\ntask: velocity\nhidden-dim: 32\n')
    cfg, _ = _config('--recipe', recipe, '--env', 'symphony/Humanoid-v4')
    assert cfg.env == 'symphony/Humanoid-v4' and cfg.overrides['hidden_dim'] == 32
    recipe = _write(tmp_path, 'env: symphony/Humanoid-v4\n', 'env.yaml')
    cfg, _ = _config('--recipe', recipe, '--robot', 'g1')
    assert cfg.env == 'velocity:g1'


@pytest.mark.parametrize('text, expected', [
    ('hidden-dims: 64\n', r"'hidden-dims' is not a train flag; expected one of .*hidden_dim"),
    ('hidden_dim: -5\n', r'hidden_dim: .*>= 1'),
    ('mirror: maybe\n', r'mirror: expected true or false'),
    ('config: fast\n', r'config: expected one of ed, s2, s3, se'),
    ('lr: [1, 2]\n', r'lr: expected one value'),
    ('run-dir: runs/x\n', r"'run-dir' is not a train flag"),
    ('env: symphony/Humanoid-v4\nrobot: g1\n', r'env and robot/task both'),
    ('- hidden-dim\n', r'expected a mapping'),
    ('seed: 1\nseed: 2\n', r"not YAML \(key 'seed' is given twice"),
])
def test_a_bad_recipe_names_its_file_and_key(tmp_path, text, expected):
    path = _write(tmp_path, text)
    with pytest.raises(CliError, match=expected) as err:
        load_recipe(path)
    assert str(err.value).startswith(f'--recipe {path}: ')


def test_a_bad_recipe_exits_2_before_any_file_is_written(tmp_path, capsys):
    run_dir = tmp_path / 'run'
    recipe = _write(tmp_path, 'hidden-dim: 32\ncritic_head: 4\n')
    assert main(['train', '--recipe', recipe, '--run-dir', str(run_dir)]) == 2
    assert "'critic_head' is not a train flag" in capsys.readouterr().err
    assert not run_dir.exists()
    assert main(['train', '--recipe', str(tmp_path / 'missing.yaml')]) == 2
    assert 'cannot be read' in capsys.readouterr().err
    assert main(['train', '--recipe', 'g1_walk']) == 2
    assert 'nor a shipped recipe (shipped: g1_velocity' in capsys.readouterr().err


def test_a_recipe_run_resumes_with_the_same_command(tmp_path, capsys):
    recipe = _write(tmp_path, 'env: symphony/Humanoid-v4\nhidden-dim: 16\ncritic-heads: 4\n'
                    'batch-size: 16\ncapacity: 400\nexplore-steps: 60\neval-every: 1000\n'
                    'eval-episodes: 1\ncheckpoint-every: 50\nthreads: 1\nsteps: 100\n')
    run_dir = str(tmp_path / 'run')
    command = ['train', '--recipe', recipe, '--run-dir', run_dir, '--no-progress']
    assert main(command) == 0
    assert 'recipe ' + recipe + ': 11 settings taken' in capsys.readouterr().err
    with open(os.path.join(run_dir, 'config.json')) as fh:
        saved = json.load(fh)
    assert saved['symphony_config']['hidden_dim'] == 16
    assert saved['train_config']['steps'] == 100
    assert main(command + ['--resume', '--steps', '150']) == 0
    err = capsys.readouterr().err
    assert 'resumed ' + run_dir + ' at step 100' in err
    assert f'where it stands, from another shell: symphony inspect {run_dir}\n' in err


def test_a_recipe_builds_on_another_and_gives_its_own_settings_over_it(tmp_path):
    cfg, (taken, overridden) = _config('--recipe', 'g1_walk_turn', '--run-dir', str(tmp_path))
    assert cfg.obs_spec == 'velocity_gait_turn' and cfg.tracking_sigma == 0.1
    assert cfg.mirror and cfg.overrides['critic_heads'] == 32 and cfg.randomize == 'default'
    assert [s['at'] for s in cfg.stages][:2] == [440000, 480000] and len(cfg.stages) == 13
    assert cfg.stages[-1]['commands'] == 'turning_fraction=0.2'
    loop = _write(tmp_path, 'recipe: loop.yaml\nseed: 3\n', 'loop.yaml')
    with pytest.raises(CliError, match=r'recipe: loop.yaml builds on itself'):
        _config('--recipe', loop)
    missing = _write(tmp_path, 'recipe: nowhere\n', 'missing.yaml')
    with pytest.raises(CliError, match=r'recipe: no such file, nor a shipped recipe'):
        _config('--recipe', missing)

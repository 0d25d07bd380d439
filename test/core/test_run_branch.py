"""symphony branch: a new run resumes from a past step of another, which is left as it was."""

import csv
import json
import os

import pytest
import torch

from symphony_ros.cli.main import main as cli
from symphony_ros.core.checkpoint import list_checkpoints, replay_path, step_of
from symphony_ros.core.config import TrainConfig
from symphony_ros.core.run_branch import branch_run
from symphony_ros.core.run_dir import RunDirError
from symphony_ros.core.trainer import Trainer

TINY = dict(hidden_dim=16, critic_heads=4, batch_size=16, capacity=400, explore_steps=100)


def _config(run_dir, steps=260, **kw):
    return TrainConfig(env='InvertedPendulum-v4', steps=steps, run_dir=str(run_dir), seed=3,
                       eval_every=50, eval_episodes=1, checkpoint_every=50, threads=1,
                       keep_checkpoints=True, keep_actors=True, overrides=dict(TINY), **kw)


@pytest.fixture(scope='module')
def source(tmp_path_factory):
    torch.set_num_threads(1)
    run = tmp_path_factory.mktemp('branch') / 'src'
    with Trainer(_config(run), progress=False, tensorboard=False) as trainer:
        trainer.run()
    return run


def _listing(run):
    return sorted((root, name, os.path.getsize(os.path.join(root, name)))
                  for root, _, names in os.walk(run) for name in names)


def test_a_branch_of_a_past_step_holds_the_run_to_that_step_and_resumes_by_a_refill(
        source, tmp_path):
    before = _listing(source)
    kept = [step_of(p) for p in list_checkpoints(str(source))]
    at = kept[2]
    made = branch_run(str(source), str(tmp_path / 'b'), at - 20)   # the nearest is taken
    assert (made.step, made.replay) == (at, False)
    branch = tmp_path / 'b'
    assert [step_of(p) for p in list_checkpoints(str(branch))] == [at]
    config = json.loads((branch / 'config.json').read_text())
    assert config['train_config']['run_dir'] == str(branch)
    steps = [int(r['step']) for r in csv.DictReader(open(branch / 'metrics.csv'))]
    assert steps and max(steps) <= at
    actors = sorted(os.listdir(branch / 'actors'))
    assert made.actors == len(actors) and actors[-1] <= f'actor_{at:09d}.pt'
    assert _listing(source) == before
    with Trainer(_config(branch, steps=at + 60, refill_steps=120), resume=True,
                 progress=False, tensorboard=False) as trainer:
        assert trainer.step_count == at
        trainer.run()
        assert trainer.step_count == at + 60 and trainer.learning
    assert _listing(source) == before       # the branch's writes replace its links


def test_a_branch_of_the_newest_step_takes_its_replay(source, tmp_path):
    made = branch_run(str(source), str(tmp_path / 'b'))
    newest = step_of(list_checkpoints(str(source))[-1])
    assert made.step == newest and made.replay
    assert os.path.isfile(replay_path(str(tmp_path / 'b'), newest))
    with Trainer(_config(tmp_path / 'b', steps=newest + 30), resume=True, progress=False,
                 tensorboard=False) as trainer:
        assert trainer.learning     # no warm-up: the buffer came along
        trainer.run()


def test_branch_refuses_in_one_line_and_writes_nothing(source, tmp_path, capsys):
    (tmp_path / 'taken').mkdir()
    cases = [([str(source), str(tmp_path / 'taken')], 'taken: exists; a branch is a new run'),
             ([str(tmp_path / 'none'), str(tmp_path / 'x')], 'holds no run (config.json'),
             ([str(source), str(tmp_path / 'x'), '--at', '5000'],
              'no checkpoint near step 5,000 (the nearest kept: ')]
    for argv, said in cases:
        assert cli(['branch'] + argv) == 2
        err = capsys.readouterr().err.strip()
        assert said in err and len(err.splitlines()) == 1
    assert sorted(os.listdir(tmp_path)) == ['taken']


def test_the_cli_says_how_to_resume_a_branch(source, tmp_path, capsys):
    assert cli(['branch', str(source), str(tmp_path / 'old'), '--at', '100']) == 0
    out = capsys.readouterr().out
    assert '--resume --refill-steps 100000' in out and 'kept actor' in out
    assert cli(['branch', str(source), str(tmp_path / 'new')]) == 0
    assert 'a resume continues exactly' in capsys.readouterr().out


def test_a_source_without_checkpoints_is_refused(tmp_path):
    run = tmp_path / 'empty'
    run.mkdir()
    (run / 'config.json').write_text(json.dumps({'train_config': {}, 'symphony_config': {}}))
    with pytest.raises(RunDirError, match='no checkpoint to branch from'):
        branch_run(str(run), str(tmp_path / 'b'))

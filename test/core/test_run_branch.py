"""symphony branch: a new run resumes from a past step of another, which is left as it was."""

import csv
import dataclasses
import json
import os
import shutil

import pytest
import torch

from symphony_ros.cli.main import main as cli
from symphony_ros.core.checkpoint import (atomic_torch_save, list_checkpoints, replay_path,
                                          step_of)
from symphony_ros.core.config import TrainConfig
from symphony_ros.core.run_branch import branch_run
from symphony_ros.core.run_dir import RunDirError
from symphony_ros.core.trainer import Trainer

from trained_runs import trained_run

TINY = dict(hidden_dim=16, critic_heads=4, batch_size=16, capacity=400, explore_steps=100)


def _config(run_dir, steps=260, **kw):
    return TrainConfig(env='InvertedPendulum-v4', steps=steps, run_dir=str(run_dir), seed=3,
                       eval_every=50, eval_episodes=1, checkpoint_every=50, threads=1,
                       keep_checkpoints=True, keep_actors=True, overrides=dict(TINY), **kw)


@pytest.fixture(scope='module')
def source(tmp_path_factory):
    return trained_run(tmp_path_factory, 'branch', _config)


def _listing(run):
    return sorted((root, name, os.path.getsize(os.path.join(root, name)))
                  for root, _, names in os.walk(run) for name in names)


def test_a_branch_of_a_past_step_holds_the_run_to_that_step_and_its_replay_rewound(
        source, tmp_path):
    before = _listing(source)
    kept = [step_of(p) for p in list_checkpoints(str(source))]
    at = kept[2]
    made = branch_run(str(source), str(tmp_path / 'b'), at - 20)   # the nearest is taken
    assert made.step == at and made.replay.startswith(f'rewound from step {kept[-1]:,}')
    assert '(counted)' in made.replay
    branch = tmp_path / 'b'
    assert [step_of(p) for p in list_checkpoints(str(branch))] == [at]
    config = json.loads((branch / 'config.json').read_text())
    assert config['train_config']['run_dir'] == str(branch)
    steps = [int(r['step']) for r in csv.DictReader(open(branch / 'metrics.csv'))]
    assert steps and max(steps) <= at
    actors = sorted(os.listdir(branch / 'actors'))
    assert made.actors == len(actors) and actors[-1] <= f'actor_{at:09d}.pt'
    assert _listing(source) == before
    with Trainer(_config(branch, steps=at + 60), resume=True, progress=False,
                 tensorboard=False) as trainer:
        assert trainer.step_count == at and trainer.learning
        trainer.run()
        assert trainer.step_count == at + 60
    assert _listing(source) == before       # the branch's writes replace its links


def test_the_rewound_replay_is_the_one_the_run_had_at_that_step_less_the_evicted(tmp_path):
    torch.set_num_threads(1)
    run = tmp_path / 'run'
    with Trainer(_config(run, steps=450), progress=False, tensorboard=False) as trainer:
        trainer.run(max_steps=230)
        then = trainer.buffer.ordered('obs')
        at = step_of(trainer.save())
        trainer.run()               # 220 more steps evict some of what it held then
    made = branch_run(str(run), str(tmp_path / 'b'), at)
    assert made.step == at and 'rewound' in made.replay
    with Trainer(_config(tmp_path / 'b', steps=at + 1), resume=True, progress=False,
                 tensorboard=False) as trainer:
        back = trainer.buffer.ordered('obs')
    assert 0 < len(back) < len(then)
    # Its newest transitions are the run's newest then, in order; none is from after.
    assert torch.equal(back[-100:], then[-100:])
    rows = {tuple(r) for r in then.tolist()}
    assert all(tuple(r) in rows for r in back.tolist())


def test_a_branch_of_a_run_without_replays_says_why_and_how_to_resume(tmp_path, capsys):
    torch.set_num_threads(1)
    run = tmp_path / 'run'
    with Trainer(_config(run, exact_resume=False), progress=False,
                 tensorboard=False) as trainer:
        trainer.run()
    assert cli(['branch', str(run), str(tmp_path / 'b'), '--at', '150']) == 0
    out = capsys.readouterr().out
    assert 'no replay buffer came with it (the run keeps no replay' in out
    assert '--resume --refill-steps 100000' in out
    with Trainer(_config(tmp_path / 'b', steps=200, exact_resume=False, refill_steps=120),
                 resume=True, progress=False, tensorboard=False) as trainer:
        trainer.run()
        assert trainer.step_count == 200 and trainer.learning


def test_a_slim_branch_holds_what_a_run_needs_to_go_on_elsewhere(source, tmp_path, capsys):
    slim = tmp_path / 'slim'
    assert cli(['branch', str(source), str(slim), '--slim']) == 0
    out = capsys.readouterr().out
    assert 'no replay buffer came with it (a slim branch (--slim) carries none)' in out
    newest = step_of(list_checkpoints(str(source))[-1])
    files = sorted(os.path.relpath(os.path.join(root, n), slim)
                   for root, _, names in os.walk(slim) for n in names)
    assert files == ['branch.json', f'checkpoints/ckpt_{newest:09d}.pt', 'config.json',
                     'metrics.csv']
    assert json.loads((slim / 'branch.json').read_text())['slim'] is True
    moved = tmp_path / 'elsewhere'
    shutil.copytree(slim, moved)            # another machine: nothing links back to the run
    with Trainer(_config(moved, steps=newest + 40, refill_steps=120), resume=True,
                 progress=False, tensorboard=False) as trainer:
        trainer.run()
        assert trainer.step_count == newest + 40 and trainer.learning


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


def test_the_cli_says_how_the_replay_came_and_how_to_resume(source, tmp_path, capsys):
    assert cli(['branch', str(source), str(tmp_path / 'old'), '--at', '100']) == 0
    out = capsys.readouterr().out
    assert 'its replay buffer: rewound from step' in out and 'kept actor' in out
    assert cli(['branch', str(source), str(tmp_path / 'new')]) == 0
    assert "its replay buffer: the checkpoint's own" in capsys.readouterr().out
    assert cli(['inspect', str(tmp_path / 'old')]) == 0
    out = capsys.readouterr().out
    assert f'branched from    {source} at step ' in out and 'its replay: rewound' in out
    assert 'branch: symphony branch' in out     # the source kept its checkpoints
    assert cli(['inspect', str(source)]) == 0
    assert 'branched from' not in capsys.readouterr().out


def test_a_source_without_checkpoints_is_refused(tmp_path):
    run = tmp_path / 'empty'
    run.mkdir()
    (run / 'config.json').write_text(json.dumps({'train_config': {}, 'symphony_config': {}}))
    with pytest.raises(RunDirError, match='no checkpoint'):
        branch_run(str(run), str(tmp_path / 'b'))


def _continue(run, steps):
    seed = json.loads((run / 'config.json').read_text())['train_config']['seed']
    cfg = dataclasses.replace(_config(run, steps=steps), seed=seed)
    with Trainer(cfg, resume=True, progress=False, tensorboard=False) as trainer:
        trainer.run()
        return trainer.agent.actor.state_dict(), trainer.notes


def test_branches_of_one_step_train_alike_and_another_seed_draws_anew(source, tmp_path):
    newest = step_of(list_checkpoints(str(source))[-1])
    for name, seed in (('a', None), ('b', None), ('c', 99)):
        branch_run(str(source), str(tmp_path / name), seed=seed)
    (a, _), (b, _), (c, said) = (_continue(tmp_path / n, newest + 60) for n in 'abc')
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
    assert any('seed 99: the checkpoint was written by seed 3' in n for n in said)
    assert json.loads((tmp_path / 'c' / 'branch.json').read_text())['seed'] == 99


def test_a_branch_from_before_a_change_of_rewards_takes_the_config_of_then_and_no_replay(
        tmp_path):
    torch.set_num_threads(1)
    run = tmp_path / 'g1'
    common = ['train', '--robot', 'g1', '--run-dir', str(run), '--seed', '2', '--eval-every',
              '1000', '--eval-episodes', '1', '--episode-limit', '30', '--checkpoint-every',
              '40', '--threads', '1', '--no-progress', '--hidden-dim', '16', '--critic-heads',
              '4', '--batch-size', '16', '--capacity', '400', '--explore-steps', '40']
    assert cli(common + ['--steps', '80']) == 0
    first = step_of(list_checkpoints(str(run))[-1])
    assert cli(common + ['--resume', '--steps', '120', '--reward-weights', 'alive=0.3']) == 0
    made = branch_run(str(run), str(tmp_path / 'b'), first)
    assert made.step == first and made.replay == ''
    assert made.why_not == (f"the run's rewards changed at step {first:,}, after this "
                            'checkpoint was written, and its replay was re-scored')
    train = json.loads((tmp_path / 'b' / 'config.json').read_text())['train_config']
    assert train['reward_weights'] == '' and train['curriculum'] == []


def test_a_replay_refilled_after_the_checkpoint_is_not_rewound_to_it(tmp_path):
    torch.set_num_threads(1)
    run = tmp_path / 'run'
    with Trainer(_config(run, steps=200), progress=False, tensorboard=False) as trainer:
        trainer.run()
    newest = step_of(list_checkpoints(str(run))[-1])
    os.unlink(replay_path(str(run), newest))        # resumed without it: a new warm-up
    with Trainer(_config(run, steps=330), resume=True, progress=False,
                 tensorboard=False) as trainer:
        trainer.run()
    made = branch_run(str(run), str(tmp_path / 'b'), 100)
    assert made.replay == '' and made.why_not == (
        f"the run's buffer was refilled at step {newest:,}, after this checkpoint (a resume "
        'without its replay)')


def test_a_branch_rewound_without_counts_counts_from_its_resume_on(source, tmp_path):
    """A replay saved without counts (an older run's) rewinds one a step; the branch resumed
    from it counts from there, so a branch of the branch at a later step rewinds exactly."""
    old = tmp_path / 'old'
    shutil.copytree(source, old)
    newest = step_of(list_checkpoints(str(old))[-1])
    state = torch.load(replay_path(str(old), newest), weights_only=True)
    atomic_torch_save(dict(state, adds=None, recycled=None), replay_path(str(old), newest))
    at = step_of(list_checkpoints(str(old))[2])
    made = branch_run(str(old), str(tmp_path / 'b'), at)
    assert 'counted one a step: the run saved no counts' in made.replay
    with Trainer(_config(tmp_path / 'b', steps=at + 160), resume=True, progress=False,
                 tensorboard=False) as trainer:
        trainer.run()
    later = [step_of(p) for p in list_checkpoints(str(tmp_path / 'b'))]
    again = branch_run(str(tmp_path / 'b'), str(tmp_path / 'c'), later[-2])
    assert again.step == later[-2] and '(counted)' in again.replay

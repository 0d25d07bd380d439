"""``symphony screen RUN_DIR``: each kept actor stressed once under the same seeds, ranked."""

import json
import threading

import pytest
import torch

from symphony_ros.cli.main import main
from symphony_ros.core.config import SymphonyConfig, TrainConfig
from symphony_ros.core.networks import Actor
from symphony_ros.core.snapshot import keep_actor
from symphony_ros.stress.screen import (Settings, best, compare_table, corner_cells, pick, row,
                                        table)

SMALL = ['--conditions', 'nominal,delay_1', '--episodes', '2', '--max-steps', '15']


def _keep(run_dir, step, test_return=None):
    """Keep an untrained G1-sized actor at ``step`` (its shape is what counts here)."""
    torch.manual_seed(step)
    info = dict(train_config=TrainConfig(env='velocity:g1', steps=10, obs_spec='velocity',
                                         randomize='default').to_dict(),
                symphony_config=SymphonyConfig(hidden_dim=32, critic_heads=8).to_dict(),
                obs_dim=96, act_dim=29, obs_spec='velocity', step=step,
                test_return=test_return)
    return keep_actor(str(run_dir), Actor(96, 29, 32).eval(), info)


def _row(step, falls, tracking=None):
    return {'step': step, 'test_return': None, 'falls': falls, 'episodes': 10,
            'tracking_error': tracking, 'passed': False,
            'conditions': {'nominal': {'falls': falls, 'episodes': 10, 'kicks': None}}}


def test_every_picks_the_first_actor_at_or_past_each_multiple():
    # A resume shifts evaluation steps a few past the round numbers.
    actors = [(s, f'a{s}') for s in (10_000, 20_000, 30_016, 40_008, 50_084, 60_073)]
    assert [s for s, _ in pick(actors)] == [s for s, _ in actors]
    assert [s for s, _ in pick(actors, every=20_000)] == [20_000, 40_008, 60_073]
    # --since inside a stretch leaves that stretch's pick out rather than taking the next.
    assert [s for s, _ in pick(actors, every=20_000, since=25_000)] == [40_008, 60_073]
    assert [s for s, _ in pick(actors, since=40_000)] == [40_008, 50_084, 60_073]


def test_the_fewest_falls_rank_first_within_the_tracking_bound():
    rows = [_row(10, 3, 0.30), _row(20, 5, 0.12), _row(30, 5, 0.14), _row(40, 9, None)]
    assert best(rows)['step'] == 10
    # Standing still falls least: with a bound, only actors that track count (a tie: later).
    assert best(rows, 0.15)['step'] == 30
    assert best(rows, 0.1) is None
    text = table(rows, ['nominal', 'delay_1'], 0.15)
    assert '| **30** | - | 5/10 | - | 5/10 (24-76%) | 0.140 | FAIL |' in text
    assert 'Fewest falls: step 30, 5 of 10 episodes (of the actors within 0.15 m/s' in text
    assert 'No actor screened within 0.1 m/s of tracking yet.' in table(rows, ['nominal'], 0.1)


def test_the_worst_depth_gets_a_column_when_an_actor_was_run_toward_worst():
    report = {'verdict': {'passed': False}, 'worst_depth': {'budget': 0.4},
              'conditions': {'nominal': {'falls': 0, 'episodes': 10},
                             'worst_at_0.6': {'falls': 6, 'episodes': 10}}}
    rows = [row(500, None, report), _row(600, 2)]
    text = table(rows, ['nominal', 'worst_at_0.6'])
    assert '| step | test return | `nominal` | `worst_at_0.6` | falls (95 %) | tracking ' \
        'error per stride (m/s) | worst depth | verdict |' in text
    assert '| 6/10 | 6/20 (15-52%) | - | 0.4 | FAIL |' in text
    assert text.splitlines()[3].endswith('| - | FAIL |')       # the actor not run toward it
    assert 'worst depth' not in table([_row(600, 2)], ['nominal'])


def test_a_run_s_corner_tests_get_a_column_beside_its_actors(tmp_path, capsys):
    metrics = [{'step': 100.0, 'corner_tested': 0.3, 'corner_falls': 4.0,
                'corner_episodes': 10.0}, {'step': 200.0, 'corner_falls': float('nan')}]
    cells = corner_cells(metrics)
    assert cells == {100: '0.3: 4/10'}
    text = table([dict(_row(100, 2), corner=cells.get(100)), dict(_row(200, 3), corner=None)],
                 ['nominal'])
    assert '| verdict |' in text and '| corner test in training | verdict |' in text
    assert '| 0.3: 4/10 | FAIL |' in text and text.splitlines()[3].endswith('| - | FAIL |')
    assert 'corner test' not in table([_row(200, 3)], ['nominal'])
    run = tmp_path / 'run'
    _keep(run, 100)
    (run / 'metrics.csv').write_text('step,test_return_mean,corner_tested,corner_falls,'
                                     'corner_episodes\n100,5.0,0.2,7,10\n')
    assert main(['screen', str(run), *SMALL]) == 0
    assert '| 0.2: 7/10 | PASS |' in (run / 'screen' / 'screen.md').read_text()


def test_a_held_command_shows_what_each_actor_reached():
    # Standing whatever it is told falls least: the speed reached tells it from walking.
    report = {'verdict': {'passed': False}, 'conditions': {
        'nominal': {'falls': 1, 'episodes': 10, 'stride_tracking_error': 0.3},
        'command_forward_0.5': {'falls': 0, 'episodes': 10, 'stride_tracking_error': 0.41,
                                'reached': [0.02, 0.01, -0.1]}}}
    r = row(500, None, report)
    assert r['conditions']['command_forward_0.5']['reached'] == [0.02, 0.01, -0.1]
    text = table([r], ['nominal', 'command_forward_0.5'])
    assert '| **500** | - | 1/10 | 0/10 at 0.02 m/s, -0.10 rad/s | 1/20 (1-24%) | 0.355 |' \
        in text
    both = compare_table({'a': {500: r}, 'b': {}}, ['nominal', 'command_forward_0.5'])
    assert '| 500 | 1 / 0 (0.02 m/s, -0.10 rad/s) | - |' in both


def test_a_report_counts_only_for_the_settings_it_was_made_with():
    s = Settings(('nominal', 'delay_1'), 2, 0, 15)
    report = {'conditions': {'nominal': {}, 'delay_1': {}}, 'episodes': 2, 'seed': 0,
              'max_steps': 15, 'through': 'process'}
    assert s.matches(report)
    for change in ({'episodes': 3}, {'seed': 1}, {'max_steps': None}, {'through': 'ros'},
                   {'conditions': {'delay_1': {}, 'nominal': {}}}):
        assert not s.matches({**report, **change}), change


def test_the_cli_screens_each_actor_once_and_ranks_them(tmp_path, capsys):
    run = tmp_path / 'run'
    for step in (100, 200):
        _keep(run, step, test_return=float(step))
    assert main(['screen', str(run), *SMALL]) == 0
    out = capsys.readouterr().out
    assert 'symphony screen: 2 actors to stress' in out
    assert out.count('== actor_') == 2
    md = (run / 'screen' / 'screen.md').read_text()
    assert md.startswith(f'# Screen of {run}')
    rows = [line.split(' | ') for line in md.splitlines()
            if line.startswith('| ') and '/2' in line]
    # By step, each with its test return as the run kept it.
    assert [(r[0].strip('|* '), r[1]) for r in rows] == [('100', '100'), ('200', '200')]
    for step in (100, 200):
        assert (run / 'screen' / f'actor_{step:09d}_stress' / 'report.json').is_file()
    # Again with one more actor: only the new one is stressed, the others read back.
    _keep(run, 300)
    assert main(['screen', str(run), *SMALL]) == 0
    out = capsys.readouterr().out
    assert 'symphony screen: 1 actor to stress, 2 read from earlier reports' in out
    assert out.count('== actor_') == 1 and '== actor_000000300.pt' in out
    assert '| 300 | - |' in out.replace('**', '')
    # A screen of the newest actor only keeps the rows screen.md had, test returns and all.
    _keep(run, 400)
    assert main(['screen', str(run), *SMALL, '--since', '400']) == 0
    assert capsys.readouterr().out.count('== actor_') == 1
    md = (run / 'screen' / 'screen.md').read_text().replace('**', '')
    kept = ((100, 100), (200, 200), (300, '-'), (400, '-'))
    assert all(f'| {s} | {r} |' in md for s, r in kept), md
    # Other settings make other reports: every actor is stressed again.
    assert main(['screen', str(run), *SMALL[:-2], '--max-steps', '20', '--every', '200']) == 0
    out = capsys.readouterr().out
    assert out.count('== actor_') == 2 and '== actor_000000400.pt' in out
    # ... and their table holds those reports only.
    md = (run / 'screen' / 'screen.md').read_text().replace('**', '')
    assert '| 200 |' in md and '| 400 |' in md and '| 100 |' not in md and '| 300 |' not in md


def _follow_until(run, until, capsys):
    """Start `screen --follow --until` on ``run`` in a thread; return it, once it waits.

    :returns: the thread, the exit codes it appends to, and what it printed so far.
    """
    codes = []
    follow = threading.Thread(target=lambda: codes.append(main(
        ['screen', str(run), *SMALL, '--follow', '--until', str(until), '--poll', '0.1'])),
        daemon=True)
    follow.start()
    said = ''
    for _ in range(12000):         # however long the thread takes to look
        said += capsys.readouterr().out
        if 'no actor kept in' in said or not follow.is_alive():
            break
        follow.join(0.05)
    return follow, codes, said


def test_follow_waits_for_the_first_actor_and_screens_each_until_the_step_asked(
        tmp_path, capsys):
    run = tmp_path / 'run'
    run.mkdir()
    # A run just started with --keep-actors true: no actor written yet.
    (run / 'config.json').write_text(json.dumps(
        {'train_config': {'keep_actors': True}, 'symphony_config': {}}))
    follow, codes, said = _follow_until(run, 200, capsys)
    assert f'symphony screen: no actor kept in {run} yet; looking every 0.1 s' in said
    _keep(run, 100)
    md = run / 'screen' / 'screen.md'
    for _ in range(12000):         # the first table, however long its matrix takes
        if md.is_file():
            break
        follow.join(0.05)
    assert md.is_file() and follow.is_alive()
    _keep(run, 200)
    follow.join(600)
    assert codes == [0]
    assert '| 200 |' in md.read_text().replace('**', '')


@pytest.mark.parametrize('argv, message', [
    (['screen', 'nowhere'], 'nowhere: no such run folder'),
    (['screen', '{run}', '--follow', '--until', '5', '--conditions', 'nominal,bogus'],
     "--conditions: unknown condition 'bogus'; expected some of nominal, delay_1"),
    (['screen', '{run}', '--until', '5'], '--until goes with --follow'),
    (['screen', '{empty}'], 'actors: no kept actors (actor_<step>.pt); train with '
                            '--keep-actors true'),
    # Following a run that does not keep its actors would wait for ever.
    (['screen', '{empty}', '--follow'], 'empty/actors: no kept actors'),
    # Which kicks depends on whether the run follows commands: nothing yet tells.
    (['screen', '{empty}', '--follow', '--kick-sides'],
     '--kick-sides: {empty} holds no run config or kept actor yet'),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    run, empty = tmp_path / 'run', tmp_path / 'empty'
    _keep(run, 100)
    empty.mkdir()
    argv = [a.format(run=run, empty=empty) for a in argv]
    message = message.format(empty=empty)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not (run / 'screen').exists()


def test_kick_sides_screens_a_kick_from_each_side_standing_and_walking(tmp_path, capsys):
    run = tmp_path / 'run'
    _keep(run, 100)          # a velocity:g1 actor: it follows commands
    assert main(['screen', str(run), '--conditions', 'command_stand', '--kick-sides',
                 '--episodes', '1', '--max-steps', '200']) == 0
    assert capsys.readouterr().out.count('== actor_') == 1
    sides = [f'kick_{s}' for s in ('forward', 'left', 'backward', 'right')]
    held = [f'command_{c}+{k}' for c in ('stand', 'forward_0.5') for k in sides]
    report = json.loads((run / 'screen' / 'actor_000000100_stress' / 'report.json').read_text())
    assert list(report['conditions']) == ['command_stand', *held]
    md = (run / 'screen' / 'screen.md').read_text()
    assert all(f'`{name}`' in md for name in held)
    # The same screen again reads its reports back: the shorthand names the same settings.
    assert main(['screen', str(run), '--conditions', 'command_stand,' + held[0],
                 '--kick-sides', '--episodes', '1', '--max-steps', '200']) == 0
    assert '== actor_' not in capsys.readouterr().out


def test_several_runs_are_screened_alike_and_compared_step_by_step(tmp_path, capsys):
    a, b = tmp_path / 'branch_a', tmp_path / 'branch_b'
    for step in (100, 200):
        _keep(a, step)
    _keep(b, 200)
    assert main(['screen', str(a), str(b), *SMALL]) == 2
    assert '2 runs: give -o DIR for their compare.md' in capsys.readouterr().err
    assert main(['screen', str(a), str(b), *SMALL, '-o', str(tmp_path / 'cmp')]) == 0
    for run in (a, b):
        assert (run / 'screen' / 'screen.md').is_file()
    md = (tmp_path / 'cmp' / 'compare.md').read_text()
    assert 'Falls per cell: `nominal` / `delay_1`.' in md
    assert '| step | branch_a | branch_b |' in md
    rows = {line.split(' | ')[0].strip('| '): line for line in md.splitlines()
            if line.startswith('| 1') or line.startswith('| 2')}
    assert rows['100'].endswith('| - |') and set(rows) == {'100', '200'}
    assert rows['200'].count('/') == 2      # both runs, two conditions each
    # Each cell is the run's own screen's: the same reports, read back.
    own = (b / 'screen' / 'screen.md').read_text()
    falls = [line for line in own.splitlines() if line.replace('**', '').startswith('| 200')]
    nominal = falls[0].split(' | ')[2].split('/')[0]
    assert rows['200'].split(' | ')[2].startswith(nominal + ' / ')


def test_follow_waits_for_a_run_folder_not_yet_made(tmp_path, capsys):
    run = tmp_path / 'run'          # the trainer started beside it has not made it yet
    follow, codes, said = _follow_until(run, 100, capsys)
    assert follow.is_alive() and f'no actor kept in {run} yet' in said
    _keep(run, 100)
    follow.join(600)
    assert codes == [0] and (run / 'screen' / 'screen.md').is_file()


def test_a_branch_is_screened_from_the_actor_it_started_from(tmp_path, capsys):
    # symphony branch copies its source's actors up to the step it branched at (250 here):
    # the last of them (200) is its starting actor; 100 is the source's past.
    run = tmp_path / 'branch'
    for step in (100, 200, 300):
        _keep(run, step)
    (run / 'branch.json').write_text(json.dumps({'source': str(tmp_path / 'src'),
                                                 'step': 250, 'replay': '', 'seed': 1}))
    assert main(['screen', str(run), *SMALL]) == 0
    out = capsys.readouterr().out
    assert 'symphony screen: 2 actors to stress' in out
    assert '== actor_000000200.pt' in out and '== actor_000000100.pt' not in out
    # --since given: the user's step, for a branch too.
    assert main(['screen', str(run), *SMALL, '--since', '0']) == 0
    out = capsys.readouterr().out
    assert out.count('== actor_') == 1 and '== actor_000000100.pt' in out

"""Training falls: each randomised episode's log line carries its outcome, and ``symphony
inspect RUN --falls`` reads the log as seconds up per fall by each draw."""

import json
import os

import numpy as np
import pytest

from symphony_ros.cli.main import main
from symphony_ros.core.envs import make_env
from symphony_ros.robot import get_robot
from symphony_ros.robot.randomize import OUTCOME_KEYS, randomize_env
from symphony_ros.robot.ranges import point_spec
from symphony_ros.stress.training_falls import (analyse, kick_effects, kick_trend, knob_effects,
                                                lines)

HUMANOID = 'symphony/Humanoid-v4'


def _lines(path):
    with open(path) as fh:
        return [json.loads(s) for s in fh]


def test_each_episode_is_logged_at_its_end_with_its_outcome(tmp_path):
    log = tmp_path / 'randomization.jsonl'
    robot = get_robot('humanoid')
    # A 0.5 m/s kick 0.06 s in (4 control steps): the limp humanoid falls after it.
    spec = point_spec({'push_velocity': 0.5, 'push_first_s': 0.06, 'push_interval_s': 10.0,
                       'payload_kg': 1.0})
    env = randomize_env(make_env(HUMANOID), spec, robot, log_path=str(log))
    zero = np.zeros(env.action_space.shape)
    ended, draws = [], []
    for seed in (1, 2):
        _, info = env.reset(seed=seed)
        draws.append(info['randomization'])
        steps, done = 0, False
        while not done:
            _, _, terminated, truncated, info = env.step(zero)
            steps += 1
            done = terminated or truncated
        assert terminated and not truncated
        ended.append((steps, info['episode_record']))
        assert not os.path.exists(log) or len(_lines(log)) == len(ended)
    _, info = env.reset(seed=3)        # begun, stepped twice, then closed: censored
    env.step(zero)
    env.step(zero)
    env.close()
    rows = _lines(log)
    assert len(rows) == 3
    for (steps, record), row, drawn in zip(ended, rows, draws):
        assert row == record
        assert row['fell'] is True
        assert row['up_s'] == pytest.approx(steps * robot.control_dt)
        assert {k: v for k, v in row.items() if k not in OUTCOME_KEYS + ('seed',)} == drawn
        t, v, _ = row['kicks'][0]
        assert t == pytest.approx(4 * robot.control_dt) and v == 0.5
    assert rows[2]['seed'] == 3 and rows[2]['fell'] is False
    assert rows[2]['up_s'] == pytest.approx(2 * robot.control_dt) and rows[2]['kicks'] == []


def _record(delay_ms, up_s, fell=True, friction=1.0, kicks=()):
    return {'seed': None, 'scale': 1.0, 'delay_s': delay_ms / 1000.0, 'friction_scale': friction,
            'payload_kg': 0.0, 'up_s': up_s, 'fell': fell, 'kicks': [list(k) for k in kicks]}


def test_the_knob_that_shortens_episodes_ranks_first_with_its_spread():
    records = []
    for i in range(30):
        friction = 0.5 + i / 30.0     # friction does not matter here
        records.append(_record(0, 10.0, friction=friction))
        records.append(_record(20, 2.0, friction=friction))
        records.append(_record(20, 3.0, fell=False, friction=friction))   # censored
    effects = knob_effects(records)
    assert [e['knob'] for e in effects] == ['delay_s', 'friction_scale']   # payload is fixed
    assert effects[0]['p'] < 0.01 < 0.5 < effects[1]['p']
    delay = effects[0]
    assert [b['label'] for b in delay['bins']] == ['0 ms', '20 ms']
    # 0 ms: 300 s up, 30 falls; 20 ms: 150 s up (the censored episodes count), 30 falls.
    assert [b['s_per_fall'] for b in delay['bins']] == [10.0, 5.0]
    assert delay['spread'] == 2.0
    assert effects[1]['spread'] < 1.2 and len(effects[1]['bins']) == 3


def test_kicks_are_judged_as_stress_judges_them_by_speed():
    records = [
        _record(0, 10.0, kicks=[(3.0, 0.3, 0.0)]),                  # fell 7 s after: survived
        _record(0, 4.0, kicks=[(1.0, 0.9, 90.0), (3.0, 0.95, 0.0)]),   # survived, then fell
        _record(0, 5.0, fell=False, kicks=[(4.5, 0.9, 0.0)]),        # too near the end
        _record(0, 6.0)]
    k = kick_effects(records)
    assert k['by_speed'] == [
        {'label': '0.25-0.5 m/s', 'survived': 1, 'fell': 0, 'unresolved': 0},
        {'label': '0.75-1 m/s', 'survived': 1, 'fell': 1, 'unresolved': 1}]
    assert k['falls_after_kick'] == 1
    assert kick_effects([_record(0, 6.0)]) is None


def test_the_fastest_kicks_survived_are_counted_part_by_part(tmp_path):
    # Ten episodes in five parts of two: the 0.75-1 m/s kicks ridden out in the later parts
    # only, a slower kick in the first part not counted with them.
    fast = [_record(0, 10.0, kicks=[(1.0, 0.9, 0.0)])]       # fell 9 s after: survived
    fell = [_record(0, 2.0, kicks=[(1.0, 0.8, 0.0)])]        # fell 1 s after
    slow = [_record(0, 10.0, kicks=[(1.0, 0.3, 0.0)])]
    records = slow + fell + fell * 2 + fell + fast + fast * 2 + [_record(0, 6.0)] * 2
    hard = kick_trend(records)
    assert hard['label'] == '0.75-1 m/s'
    assert hard['parts'] == [{'survived': 0, 'fell': 1}, {'survived': 0, 'fell': 2},
                             {'survived': 1, 'fell': 1}, {'survived': 2, 'fell': 0},
                             {'survived': 0, 'fell': 0}]
    assert 'of 0.75-1 m/s survived in the same parts: 0/1 | 0/2 | 1/2 | 2/2 | -' in '\n'.join(
        lines(analyse(str(_run_with_log(tmp_path, records) / 'randomization.jsonl'), 0)))
    assert kick_trend(records[:4]) is None and kick_trend([_record(0, 6.0)] * 5) is None


def _run_with_log(tmp_path, rows):
    run = tmp_path / 'run'
    run.mkdir()
    (run / 'randomization.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in rows))
    return run


def test_the_cli_prints_the_window_the_knobs_and_the_kicks(tmp_path, capsys):
    old = {'seed': 1, 'scale': 0.5, 'delay_s': 0.0}            # a line from before outcomes
    rows = [old] + [_record(0, 8.0, kicks=[(2.0, 0.6, 0.0)])] * 5 + [_record(15, 2.0)] * 5
    run = _run_with_log(tmp_path, rows)
    assert main(['inspect', str(run), '--falls', '--last', '6']) == 0
    out = capsys.readouterr().out
    assert 'the last 6 episodes with an outcome' in out
    assert '6 fell in 0.3 min up: one fall per 3.0 s up' in out      # 8 + 5 x 2 = 18 s
    # 1 fall in 8 s against 5 in 10 s: X^2 = 1.875 on 1 degree of freedom.
    assert '0 ms 8.0 s (1) | 15 ms 2.0 s (5)   (4.00x, p 0.17)' in out
    assert 'kicks survived 0.5-0.75 m/s 1/1; 0 of 6 falls within 2 s of a kick' in out
    # Ten episodes in five parts of two: 8 s + 8 s, 8 + 2, then 2 + 2 per two falls.
    assert 'trend          seconds up per fall in 5 consecutive parts, oldest first: ' in out
    report = analyse(str(run / 'randomization.jsonl'), 0)
    assert [t['s_per_fall'] for t in report['trend']] == [8.0, 8.0, 5.0, 2.0, 2.0]
    assert report['without_outcome'] == 1 and report['episodes']['episodes'] == 10
    assert main(['inspect', str(run), '--falls', '--json']) == 0
    assert json.loads(capsys.readouterr().out)['episodes']['falls'] == 10


def test_since_counts_the_episodes_that_ended_from_a_step_and_the_header_says_which(
        tmp_path, capsys):
    old = [_record(0, 8.0)] * 3                              # unstamped: before any step
    # A resumed run logs again from its checkpoint's step: steps need not rise line by line.
    rows = old + [dict(_record(0, 6.0), step=s) for s in (100, 200, 300)] + \
        [dict(_record(15, 2.0), step=s) for s in (500, 400)]
    run = _run_with_log(tmp_path, rows)
    assert main(['inspect', str(run), '--falls', '--since', '300']) == 0
    out = capsys.readouterr().out
    assert 'the last 3 episodes with an outcome' in out and 'steps 300-500)' in out
    assert '3 fell in 0.2 min up' in out                       # 6 + 2 + 2 s
    assert analyse(str(run / 'randomization.jsonl'), 0)['episodes']['episodes'] == 8
    assert main(['inspect', str(run), '--falls', '--since', '600']) == 0
    assert 'no episode with an outcome ended at or after step 600' in capsys.readouterr().out
    assert main(['inspect', str(run), '--since', '300']) == 2
    assert '--since: ' in capsys.readouterr().err
    # An episode that ended on the run's first step is stamped 0, and counts from step 0.
    (tmp_path / 'first').mkdir()
    first = _run_with_log(tmp_path / 'first', [dict(_record(0, 0.02), step=0)])
    assert analyse(str(first / 'randomization.jsonl'), 0, since=0)['steps'] == [0, 0]


def test_a_log_of_old_lines_only_says_so():
    report = {'log': 'r.jsonl', 'episodes': {'episodes': 0, 'falls': 0, 'up_s': 0.0,
                                             's_per_fall': None},
              'without_outcome': 12, 'widths': [], 'trend': [], 'knobs': [], 'kicks': None}
    assert lines(report) == ['r.jsonl: no episode with an outcome yet; its 12 lines are from '
                             'before outcomes were logged']


def test_bad_input_is_named(tmp_path, capsys):
    run = _run_with_log(tmp_path, [_record(0, 1.0)])
    with open(run / 'randomization.jsonl', 'a') as fh:
        fh.write('{"up_s": 1\n')
    assert main(['inspect', str(run), '--falls']) == 2
    assert 'randomization.jsonl: line 2 is not JSON' in capsys.readouterr().err
    with open(run / 'randomization.jsonl', 'w') as fh:
        fh.write(json.dumps(_record(0, 1.0)) + '\n' + json.dumps({'up_s': 'x', 'fell': 1}))
    assert main(['inspect', str(run), '--falls']) == 2
    assert ('randomization.jsonl: line 2: expected up_s (s), fell (true/false) and kicks'
            in capsys.readouterr().err)
    empty = tmp_path / 'empty'
    empty.mkdir()
    assert main(['inspect', str(empty), '--falls']) == 2
    assert 'no such file (the run\'s training env is not randomised' in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(['inspect', str(run), '--falls', '--last', '-1'])
    assert exit_.value.code == 2 and '--last' in capsys.readouterr().err
    policy = tmp_path / 'p.onnx'
    policy.write_bytes(b'x')
    assert main(['inspect', str(policy), '--falls']) == 2
    assert 'is not a folder' in capsys.readouterr().err


def test_a_ramped_run_says_the_span_of_its_ranges_widths(tmp_path, capsys):
    # A ramp draws a new width each episode: the header gives the span, not every width.
    rows = [dict(_record(0, 4.0), scale=0.5 + i / 100) for i in range(40)]
    run = _run_with_log(tmp_path, rows)
    assert main(['inspect', str(run), '--falls']) == 0
    out = capsys.readouterr().out
    assert "(ranges' width x0.50 to x0.89)" in out
    assert 'x0.51' not in out


def test_hard_corner_episodes_are_counted_apart_from_the_knobs(tmp_path, capsys):
    # The corner's episodes (20 ms, low friction) fall fast; binned with the rest they would
    # make the 20 ms delay look like what fells the policy.
    rest = [{**_record(0, 8.0, friction=0.5 + i / 20.0), 'hard': False} for i in range(20)]
    corner = [{**_record(20, 1.0, friction=0.3), 'hard': True}] * 10
    report = analyse(str(_run_with_log(tmp_path, rest + corner) / 'randomization.jsonl'), 0)
    assert report['hard'] == {'corner': {'episodes': 10, 'falls': 10, 'up_s': 10.0,
                                         's_per_fall': 1.0},
                              'rest': {'episodes': 20, 'falls': 20, 'up_s': 160.0,
                                       's_per_fall': 8.0},
                              'depths': None}
    assert [e['knob'] for e in report['knobs']] == ['friction_scale']     # no delay varies
    assert main(['inspect', str(tmp_path / 'run'), '--falls']) == 0
    assert ('hard corner    10 episodes drawn at it: one fall per 1.0 s up (10 falls); the '
            'other 20: one fall per 8.0 s up (20 falls)') in capsys.readouterr().out
    # A corner whose depth follows the actor (hard_depth: auto) logs it: the span is said.
    moving = [{**_record(20, 1.0, friction=0.3), 'hard': True, 'hard_depth': i / 10}
              for i in range(3)]
    auto = tmp_path / 'auto'
    auto.mkdir()
    (auto / 'randomization.jsonl').write_text(
        ''.join(json.dumps(r) + '\n' for r in rest + moving))
    assert analyse(str(auto / 'randomization.jsonl'), 0)['hard']['depths'] == [0.0, 0.2]
    assert main(['inspect', str(auto), '--falls']) == 0
    assert ('hard corner    3 episodes drawn at it (its depth followed the actor: 0 -> 0.2)'
            in capsys.readouterr().out)
    plain = tmp_path / 'plain'
    plain.mkdir()
    (plain / 'randomization.jsonl').write_text(json.dumps(_record(0, 8.0)) + '\n')
    assert analyse(str(plain / 'randomization.jsonl'), 0)['hard'] is None

"""``symphony stress`` on the shipped Humanoid-v4 policy: a small matrix, short episodes."""

import dataclasses
import json
import os
import re

import numpy as np
import pytest

from symphony_ros.cli.main import main
from symphony_ros.robot import get_robot
from symphony_ros.core.envs import make_randomized_env
from symphony_ros.robot.ranges import knob_table_markdown, load_randomization
from symphony_ros.stress.conditions import (CONDITIONS, DIAGNOSTIC, delay_ms, latency_budget,
                                            select, spec_of, table_markdown, within_training,
                                            worst_depth, worst_depth_budget)
from symphony_ros.stress.report import depth_text
from shipped_models import G1_FIRST, HUMANOID

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMALL = ['--episodes', '2', '--max-steps', '60', '--seed', '3', '--no-progress']


def _stress(out, *extra):
    return main(['stress', HUMANOID, '--out', str(out), *SMALL, *extra])


def _metrics(run):
    import csv
    with open(os.path.join(run, 'metrics.csv')) as fh:
        return list(csv.DictReader(fh))


def _report(out):
    with open(os.path.join(out, 'report.json')) as fh:
        return json.load(fh)


def test_report_is_the_same_for_a_seed_whatever_the_workers(tmp_path):
    conds = ['--conditions', 'nominal', 'delay_2', '--max-fall-rate', '1']
    assert _stress(tmp_path / 'a', *conds, '--workers', '1') == 0
    assert _stress(tmp_path / 'b', '--conditions', 'nominal,delay_2', '--max-fall-rate', '1',
                   '--workers', '2') == 0
    a, b = _report(tmp_path / 'a'), _report(tmp_path / 'b')
    assert a['conditions'] == b['conditions']
    # The perturbation is real: two control steps of delay change the episodes.
    assert (a['conditions']['delay_2']['per_episode']
            != a['conditions']['nominal']['per_episode'])
    for name in ('report.md', 'fall_rate.png', 'return.png', 'saturation.png',
                 'joint_margin.png', 'command_jitter.png'):
        assert os.path.isfile(tmp_path / 'a' / name)
    assert a['verdict']['passed'] and a['verdict']['judged'] == ['nominal']  # delay_2 beyond
    # The shipped humanoid trained on the nominal robot: no condition but nominal was met.
    assert a['trained_under'] == 'no randomisation (the nominal robot)'
    assert [a['conditions'][n]['within_policy_training'] for n in ('nominal', 'delay_2')] == [
        True, False]
    md = (tmp_path / 'a' / 'report.md').read_text()
    assert 'The policy trained under no randomisation' in md
    assert '| `delay_2` | no | no |' in md


def test_a_policy_is_judged_in_its_own_ranges_only_where_its_file_records_them():
    from symphony_ros.robot.ranges import load_randomization
    from symphony_ros.stress.conditions import (applicable, within_policy_ranges,
                                                within_training)
    g1 = get_robot('g1')
    default = load_randomization('default', g1).to_dict()
    for name in applicable(g1):
        assert within_policy_ranges(name, g1, default) == within_training(name, g1), name
        assert within_policy_ranges(name, g1, None) is None
    narrow = {'ranges': {'push_velocity': [0.0, 0.5], 'push_interval_s': [5.0, 10.0]}}
    assert [within_policy_ranges(n, g1, narrow) for n in ('push_0.5', 'push_1.0', 'delay_1')
            ] == [True, False, False]


def test_verdict_fails_beyond_the_threshold(tmp_path, capsys):
    # Masses x0.8 are beyond the training ranges: judged only with --verdict-scope all, and
    # a 0 % threshold fails on any fall; the policy falls within 60 steps there or not, so
    # the exit code must agree with the report either way.
    rc = _stress(tmp_path, '--conditions', 'mass_0.8', '--max-fall-rate', '0',
                 '--verdict-scope', 'all', '--workers', '1')
    r = _report(tmp_path)
    assert r['verdict']['judged'] == ['mass_0.8']
    assert rc == (0 if r['conditions']['mass_0.8']['falls'] == 0 else 1)
    assert 'verdict:' in capsys.readouterr().out


@pytest.mark.parametrize('args, expected', [
    (['--conditions', 'nominal', 'sideways_wind'], "unknown condition 'sideways_wind'"),
    (['--conditions', 'kp_0.8'], 'needs a pd_position robot'),
    (['--conditions', 'noise_joint_vel'], "observation has no 'joint_vel' term; its noisy "
                                          'terms: noise_qpos_without_xy, noise_qvel'),
    (['--episodes', '-1'], '--episodes'),
    (['--max-fall-rate', '-0.1'], '--max-fall-rate'),
    (['--robot', 'g1'], 'humanoid_v4_symphony.onnx'),
    (['--ros', '--conditions', 'delay_1', 'mass_1.2'], "'mass_1.2' cannot run with --ros"),
    (['--ros', '--conditions', 'gusts'], "unknown condition 'gusts'"),
    (['--ros', '--worst-parts'], '--worst-parts: in process only'),
    (['--ros', '--worst-depth'], '--worst-depth: in process only'),
    (['--conditions', 'nominal', 'push_0.5', '--max-steps', '100'],
     '--max-steps 100: episodes of 1.5 s end before the first kick of push_0.5 (after 5 s'),
    (['--ros', '--conditions', 'push_1.0', '--max-steps', '300'],
     'episodes of 4.5 s end before the first kick of push_1.0'),
])
def test_bad_input_one_line_exit_2(tmp_path, capsys, args, expected):
    try:
        rc = main(['stress', HUMANOID, '--out', str(tmp_path / 'r'), '--no-progress', *args])
    except SystemExit as exc:           # refused by the flag's declared range at parse time
        rc = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and expected in err[0]
    assert not os.path.exists(tmp_path / 'r')
    if 'unknown condition' in expected:
        assert all(n in err[0] for n in CONDITIONS)


def test_the_default_set_leaves_out_pushes_that_short_episodes_never_see(capsys):
    import argparse

    from symphony_ros.cli.stress_cmd import _fit_pushes
    from symphony_ros.stress import ros
    names = list(ros.ROS_CONDITIONS)
    args = argparse.Namespace(max_steps=300, conditions=[])
    assert _fit_pushes(args, names, 0.015) == ['nominal', 'delay_1', 'delay_2']
    assert 'push_0.5, push_1.0, push_1.5 are left out' in capsys.readouterr().err
    args.max_steps = 400                    # 6 s: a kick can come (from 5 s on)
    assert _fit_pushes(args, names, 0.015) == names
    args.max_steps = 0                      # the episodes' own length
    assert _fit_pushes(args, names, 0.015) == names


def test_readme_renders_the_condition_table():
    with open(os.path.join(ROOT, 'README.md')) as fh:
        readme = fh.read()
    table = table_markdown([get_robot('humanoid'), get_robot('g1')])
    assert table in readme, 'README: paste table_markdown([humanoid, g1]) under ### Stress'
    assert re.search(r'symphony stress', readme)
    assert knob_table_markdown() in readme, 'README: paste ranges.knob_table_markdown()'


def test_a_noise_diagnostic_perturbs_its_own_term_only_and_runs_when_named():
    g1 = get_robot('g1')
    assert not set(select([], g1)) & set(DIAGNOSTIC)
    assert select(['noise_joint_vel'], g1, ['joint_vel']) == ['noise_joint_vel']
    obs = {}
    for name in ('nominal', 'noise_joint_vel', 'obs_noise_1'):
        env = make_randomized_env('velocity:g1', 'velocity_gait', spec_of(name, g1))
        env.reset(seed=5)
        obs[name] = env.step(np.zeros(env.action_space.shape))[0]
        if name == 'obs_noise_1':
            slices = env.get_wrapper_attr('slices')
    moved = {t for t, s in slices.items()
             if not np.array_equal(obs['noise_joint_vel'][s], obs['nominal'][s])}
    assert moved == {'joint_vel'}
    everything = {t for t, s in slices.items()
                  if not np.array_equal(obs['obs_noise_1'][s], obs['nominal'][s])}
    assert {'joint_vel', 'projected_gravity', 'imu_angular_velocity'} <= everything


def test_a_failed_obs_noise_condition_points_to_the_diagnostics(tmp_path):
    g1 = G1_FIRST
    out = tmp_path / 'g1'
    main(['stress', g1, '--out', str(out), '--episodes', '2', '--max-steps', '120',
          '--workers', '1', '--no-progress', '--conditions', 'obs_noise_1', 'noise_joint_vel'])
    r = _report(out)
    assert list(r['conditions']) == ['obs_noise_1', 'noise_joint_vel']
    with open(out / 'report.md') as fh:
        hinted = 'runs each part of it alone' in fh.read()
    assert hinted == (r['conditions']['obs_noise_1']['falls'] > 0)


def test_the_latency_budget_is_capped_by_the_first_delay_that_fells_the_policy():
    g1 = get_robot('g1')
    assert spec_of('latency_10ms', g1).range('delay_s') == (0.01, 0.01)
    assert [delay_ms(n, g1) for n in ('nominal', 'latency_5ms', 'delay_1', 'delay_2', 'worst',
                                      'push_0.5', 'noise_joint_vel')] == [
        0.0, 5.0, 20.0, 40.0, None, None, None]
    rates = {'nominal': 0.0, 'latency_5ms': 0.1, 'latency_10ms': 0.3, 'latency_15ms': 0.0,
             'delay_1': 0.9, 'worst': 1.0, 'push_0.5': 0.0}
    budget = latency_budget(rates, g1, 0.1)
    # 15 ms happened to pass, but 10 ms failed first: the budget stops at 5 ms.
    assert budget['budget_ms'] == 5.0
    assert budget['delays_ms'] == [0.0, 5.0, 10.0, 15.0, 20.0]
    assert latency_budget(dict(rates, nominal=0.5), g1, 0.1)['budget_ms'] is None
    assert latency_budget({'nominal': 0.0, 'push_0.5': 0.0}, g1, 0.1) is None
    humanoid = get_robot('humanoid')      # delay_1 is 15 ms there: the worse rate counts
    both = latency_budget({'nominal': 0.0, 'latency_15ms': 0.0, 'delay_1': 0.5}, humanoid, 0.1)
    assert both['delays_ms'] == [0.0, 15.0] and both['budget_ms'] == 0.0


def test_latency_adds_the_delay_sweep_to_the_conditions_named_and_gives_a_budget(tmp_path,
                                                                                 capsys):
    _stress(tmp_path, '--conditions', 'friction_0.5', 'delay_1', '--latency', '--workers', '2')
    r = _report(tmp_path)
    assert list(r['conditions']) == ['friction_0.5', 'delay_1', 'nominal', 'latency_5ms',
                                     'latency_10ms', 'latency_15ms']
    # delay_1 is 15 ms on Humanoid-v4: one delay, counted at the worse of its two rates.
    rates = r['conditions']
    assert r['latency']['delays_ms'] == [0.0, 5.0, 10.0, 15.0]
    assert r['latency']['fall_rates'][-1] == max(rates['delay_1']['fall_rate'],
                                                 rates['latency_15ms']['fall_rate'])
    assert 'latency budget: ' in capsys.readouterr().out


def test_several_policies_run_under_the_same_seeds_and_a_table_compares_them(
        tmp_path, capsys):
    import shutil
    g1 = G1_FIRST
    twin = tmp_path / 'twin.onnx'
    shutil.copy(HUMANOID, twin)
    out = tmp_path / 'cmp'
    rc = main(['stress', HUMANOID, str(twin), g1, '--out', str(out), '--conditions',
               'nominal,strength_0.8', '--workers', '1', *SMALL])
    text = capsys.readouterr().out
    assert rc in (0, 1)
    first, second, third = (_report(out / f'{n}_stress')
                            for n in ('humanoid_v4_symphony', 'twin', 'g1_velocity_symphony'))
    # The same file twice: every episode alike, as the seeds are the same for each policy.
    assert first['conditions']['strength_0.8']['per_episode'] == \
        second['conditions']['strength_0.8']['per_episode']
    assert third['robot'] == 'g1' and third['conditions']['nominal']['episodes'] == 2
    table = (out / 'compare.md').read_text()
    assert table.startswith('# Stress comparison\n\n3 policies in process, 2 episodes')
    row = [line for line in table.splitlines() if line.startswith('| `strength_0.8`')][0]
    cells = [c.strip() for c in row.strip('|').split('|')]
    assert cells[1] == cells[2] == f'{first["conditions"]["strength_0.8"]["falls"]}/2'
    assert '| condition | `humanoid_v4_symphony.onnx` | `twin.onnx` | ' \
           '`g1_velocity_symphony.onnx` |' in table
    assert ('| verdict | ' + ' | '.join('PASS' if r['verdict']['passed'] else 'FAIL'
                                        for r in (first, second, third))) in table
    # Episode by episode against the first: the twin fell exactly where it did.
    paired = [line for line in table.splitlines() if line.startswith(
        '| fell where `humanoid_v4_symphony.onnx` stood')][0]
    assert paired.split(' | ')[1:3] == ['-', '0 / 0, p 1']
    lo, hi = first['conditions']['nominal']['fall_rate_ci95']
    assert 0 <= lo <= first['conditions']['nominal']['fall_rate'] <= hi <= 1
    assert text.count('verdict: ') == 3 and f'comparison: {out / "compare.md"}' in text
    assert rc == (0 if all(r['verdict']['passed'] for r in (first, second, third)) else 1)


def test_a_run_folder_and_a_checkpoint_are_exported_into_their_reports_and_stressed(
        tmp_path, capsys):
    from symphony_ros.core.checkpoint import latest_checkpoint
    from symphony_ros.core.config import TrainConfig
    from symphony_ros.core.snapshot import load_actor
    from symphony_ros.core.trainer import Trainer
    from symphony_ros.policy.onnx_file import load_contract
    run = tmp_path / 'g1run'
    with Trainer(TrainConfig(env='velocity:g1', steps=120, run_dir=str(run), seed=1,
                             eval_every=40, eval_episodes=1, checkpoint_every=40,
                             episode_limit=30, keep_actors=True,
                             overrides=dict(hidden_dim=16, critic_heads=4, batch_size=16,
                                            capacity=400, explore_steps=40)),
                 progress=False, tensorboard=False) as trainer:
        trainer.run()
    ckpt = latest_checkpoint(str(run))
    # --keep-actors: every evaluated actor, with its test return, after its checkpoint went.
    kept = sorted((run / 'actors').iterdir())
    assert [p.name for p in kept] == [f'actor_{s:09d}.pt' for s in (40, 80, 120)]
    assert not os.path.exists(run / 'checkpoints' / 'ckpt_000000040.pt')
    assert load_actor(str(kept[0])).test_return == pytest.approx(
        float(_metrics(run)[0]['test_return_mean']))
    rc = main(['stress', str(run) + os.sep, ckpt, str(kept[0]), '--conditions', 'nominal',
               '--workers', '1', '--out', str(tmp_path / 'cmp'), *SMALL])
    assert rc in (0, 1)
    text = capsys.readouterr().out
    stem = os.path.splitext(os.path.basename(ckpt))[0]
    for folder in ('g1run_stress', f'{stem}_stress', 'actor_000000040_stress'):
        exported = tmp_path / 'cmp' / folder / 'policy.onnx'
        assert f'exported to {exported}' in text
        assert load_contract(str(exported)).robot.name == 'g1'
        assert _report(tmp_path / 'cmp' / folder)['conditions']['nominal']['episodes'] == 2
    assert f'| condition | `g1run` | `{os.path.basename(ckpt)}` | `actor_000000040.pt` |' in text
    # One run folder alone: its report beside it, as a policy file's is.
    assert main(['stress', str(run), '--conditions', 'nominal', *SMALL]) in (0, 1)
    assert (tmp_path / 'g1run_stress' / 'report.md').is_file()


def test_several_policies_are_all_checked_before_any_runs(tmp_path, capsys):
    g1 = G1_FIRST
    out = tmp_path / 'cmp'
    # The G1 policy cannot drive the humanoid: refused before the humanoid policy's matrix.
    rc = main(['stress', HUMANOID, g1, '--robot', 'humanoid', '--conditions', 'nominal',
               '--out', str(out), *SMALL])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert 'g1_velocity_symphony.onnx: robot.joint_names' in err
    assert not (out / 'humanoid_v4_symphony_stress').exists()


def test_the_training_mix_draws_every_knob_per_episode_and_says_which_fell_it(tmp_path):
    g1 = get_robot('g1')
    spec = spec_of('training_mix', g1)
    assert spec.to_dict()['ranges'] == load_randomization('default', g1).to_dict()['ranges']
    assert 'training_mix' in DIAGNOSTIC and 'training_mix' not in select([], g1)
    assert delay_ms('training_mix', g1) is None   # its falls are not the delay's alone
    out = tmp_path / 'mix'
    main(['stress', HUMANOID, '--out', str(out), '--episodes', '6', '--max-steps', '80',
          '--seed', '3', '--workers', '1', '--no-progress', '--conditions', 'training_mix'])
    c = _report(out)['conditions']['training_mix']
    draws = [e['draws'] for e in c['per_episode']]
    # Each episode its own draws, recorded with its outcome as a training run logs them.
    assert len({d['payload_kg'] for d in draws}) == 6
    assert [d['fell'] for d in draws] == [e['fell'] for e in c['per_episode']]
    assert [d['up_s'] for d in draws] == pytest.approx(
        [e['steps'] * get_robot('humanoid').control_dt for e in c['per_episode']])
    knobs = {k['knob'] for k in c['by_draw']['knobs']}
    assert {'delay_s', 'payload_kg', 'friction_scale'} <= knobs
    assert 'Which draws fell the policy in `training_mix`' in (out / 'report.md').read_text()


def test_a_held_command_is_every_command_the_task_draws():
    from symphony_ros.robot.velocity_commands import draw_command
    from symphony_ros.robot.velocity_env import VelocityTask
    from symphony_ros.stress.conditions import HELD_COMMANDS, held_command
    rng = np.random.default_rng(0)
    for what, (cmd, _) in HELD_COMMANDS.items():
        task = dataclasses.replace(VelocityTask(), **held_command(f'command_{what}'))
        # At reset and at every resample: a robot told to walk is never told to stand.
        assert all(np.array_equal(draw_command(task, rng), cmd) for _ in range(200)), what
    g1 = get_robot('g1')
    assert held_command('nominal') is None
    # It moves no physics: judged when named, and no delay point of the latency budget.
    assert within_training('command_forward_0.5', g1)
    assert delay_ms('command_forward_0.5', g1) is None
    assert spec_of('command_stand', g1).to_dict()['ranges'] == {}


def test_held_commands_say_what_a_velocity_policy_did_when_told(tmp_path, capsys):
    g1 = G1_FIRST
    out = tmp_path / 'held'
    main(['stress', g1, '--out', str(out), '--episodes', '2', '--max-steps', '150',
          '--workers', '1', '--no-progress', '--conditions',
          'command_stand,command_forward_0.5'])
    c = _report(out)['conditions']
    # The shipped G1 policy walks when told 0.5 m/s and stays put when told to stand.
    assert c['command_forward_0.5']['reached'][0] > 0.3
    assert abs(c['command_stand']['reached'][0]) < 0.15
    for n in ('command_stand', 'command_forward_0.5'):
        assert c[n]['stride_tracking_error'] is not None
        assert c[n]['stride_yaw_error'] is not None
        # Term by term, what each episode earned per step sums to its return per step.
        for row in c[n]['per_episode']:
            assert sum(row['reward_terms'].values()) == pytest.approx(
                row['return'] / row['steps'], rel=1e-9)
    # Walking pays in tracking: standing still told 0.5 m/s earns exp(-0.5^2 / 0.25) = 0.37.
    assert c['command_forward_0.5']['reward_terms']['track_lin_vel'] > 0.6
    md = (out / 'report.md').read_text()
    assert 'Held to one command for whole episodes' in md
    table = md.split('Reward per step, term by term')[1]
    walk = c['command_forward_0.5']['reward_terms']['track_lin_vel']
    assert '| `command_forward_0.5` | ' in table and f'{walk:.3f}' in table
    # Judged on its yaw rate when asked: told to stand, it turns less than 0.3 rad/s.
    assert main(['stress', g1, '--out', str(tmp_path / 'yaw'), '--episodes', '2',
                 '--max-steps', '150', '--workers', '1', '--no-progress', '--conditions',
                 'command_stand', '--max-yaw-error', '0.3']) == 0
    v = _report(tmp_path / 'yaw')['verdict']
    assert v['max_yaw_error'] == 0.3 and v['failed_yaw'] == []
    assert 'yaw-rate error per stride <= 0.3 rad/s' in (tmp_path / 'yaw' / 'report.md').read_text()
    assert '| `command_forward_0.5` | 0.5, 0, 0 | ' in md
    # A policy that follows no command cannot be held to one.
    capsys.readouterr()
    assert main(['stress', HUMANOID, '--conditions', 'command_stand', *SMALL]) == 2
    err = capsys.readouterr().err
    assert "'command_stand' holds a velocity command; this policy follows none" in err


def test_worst_parts_leave_each_part_of_worst_out_in_turn():
    g1 = get_robot('g1')
    worst = CONDITIONS['worst'][0]
    parts = [n for n in DIAGNOSTIC if n.startswith('worst_without_')]
    # Each knob of worst is left out by exactly one part, and only that one.
    dropped = [set(worst) - set(CONDITIONS[n][0]) for n in parts]
    assert sorted(k for d in dropped for k in d) == sorted(worst)
    assert all(CONDITIONS[n][0].items() <= worst.items() for n in parts)
    assert spec_of('worst_without_push', g1).range('push_velocity') == (0.0, 0.0)
    assert spec_of('worst_without_kp', g1).range('kp_scale') == (1.0, 1.0)
    assert spec_of('worst_without_push', g1).range('kp_scale') == (0.9, 0.9)


def test_worst_parts_runs_them_and_says_which_part_saves_most(tmp_path, capsys):
    out = tmp_path / 'parts'
    main(['stress', HUMANOID, '--out', str(out), '--episodes', '2', '--max-steps', '400',
          '--seed', '3', '--no-progress', '--workers', '2', '--conditions', 'nominal',
          'worst_without_push+push_0.5', '--worst-parts'])
    c = _report(out)['conditions']
    # A torque robot has no kp to leave out.
    parts = ('delay', 'mass', 'payload', 'friction', 'strength', 'noise', 'push')
    assert list(c) == ['nominal', 'worst_without_push+push_0.5', 'worst'] + [
        f'worst_without_{p}' for p in parts]
    line = next(ln for ln in capsys.readouterr().out.splitlines()
                if ln.startswith('worst parts: '))
    assert line.startswith(f'worst parts: worst fell {c["worst"]["falls"]}/2; without its ')
    shown = re.findall(r'(\w+) (\d)/2', line.split('without its ')[1])
    assert [p for p, _ in shown] and sorted(shown, key=lambda x: int(x[1])) == shown
    # A joined condition that begins alike is not one of the parts.
    assert {p: int(f) for p, f in shown} == {
        n[len('worst_without_'):]: c[n]['falls'] for n in c
        if n.startswith('worst_without_') and '+' not in n}
    assert line[0].upper() + line[1:] in (out / 'report.md').read_text()


def test_the_way_to_worst_moves_every_knob_of_it_alike_from_nominal():
    g1 = get_robot('g1')
    half = spec_of('worst_at_0.6', g1)
    # 0.6 of the way: +1.8 kg, friction 1 -> 0.5 at 0.7, 0.6 m/s kicks at worst's interval,
    # 12 ms of a 20 ms step's delay; every one of them inside the training ranges.
    assert half.range('payload_kg') == (1.8, 1.8) and half.range('friction_scale') == (0.7, 0.7)
    assert half.range('push_velocity') == (0.6, 0.6)
    assert half.range('push_interval_s') == spec_of('worst', g1).range('push_interval_s')
    assert half.range('delay_s') == pytest.approx((0.012, 0.012))
    assert set(CONDITIONS['worst_at_0.2'][0]) == set(CONDITIONS['worst'][0])
    assert [worst_depth(n) for n in ('nominal', 'worst_at_0.4', 'worst', 'push_1.0')] == [
        0.0, 0.4, 1.0, None]


def test_the_worst_depth_is_capped_by_the_first_depth_that_fells_the_policy():
    rates = {'nominal': 0.0, 'worst_at_0.2': 0.0, 'worst_at_0.4': 0.1, 'worst_at_0.6': 0.5,
             'worst_at_0.8': 0.0, 'worst': 1.0, 'push_1.0': 0.0}
    depth = worst_depth_budget(rates, 0.1)
    assert depth['budget'] == 0.4 and depth['depths'] == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert worst_depth_budget(dict(rates, nominal=0.3), 0.1)['budget'] is None
    assert worst_depth_budget({'nominal': 0.0, 'worst': 1.0}, 0.1) is None


def test_worst_depth_runs_the_way_and_says_how_far_it_stands(tmp_path, capsys):
    out = tmp_path / 'depth'
    assert main(['stress', HUMANOID, '--out', str(out), '--episodes', '2', '--max-steps', '400',
                 '--seed', '3', '--no-progress', '--workers', '2', '--conditions',
                 'payload_3kg', '--worst-depth']) in (0, 1)
    r = _report(out)
    assert list(r['conditions']) == ['payload_3kg', 'nominal', 'worst_at_0.2', 'worst_at_0.4',
                                     'worst_at_0.6', 'worst_at_0.8', 'worst']
    depth = r['worst_depth']
    assert depth['fall_rates'] == [r['conditions'][n]['fall_rate'] for n in list(r[
        'conditions'])[1:]]
    line = next(ln for ln in capsys.readouterr().out.splitlines()
                if ln.startswith('worst depth: '))
    assert line == depth_text(depth)
    assert line[0].upper() + line[1:] in (out / 'report.md').read_text()

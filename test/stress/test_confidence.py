"""How sure a count of falls is: Wilson intervals and the paired comparison of policies."""

import math

import pytest

from symphony_ros.stress.compare import compare_text
from symphony_ros.stress.confidence import (chi2_sf, episodes_to_show, judged_pairs,
                                            mcnemar_p, pairable, paired_falls,
                                            rates_differ_p, wilson)
from symphony_ros.stress.report import rate_interval
from shipped_models import G1_FIRST, HUMANOID


def test_wilson_intervals_of_the_gates_everyday_counts():
    lo, hi = wilson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)   # z^2 / (n + z^2)
    lo, hi = wilson(5, 10)
    assert (lo, hi) == (pytest.approx(0.2366, abs=1e-4), pytest.approx(0.7634, abs=1e-4))
    lo, hi = wilson(10, 10)
    assert lo == pytest.approx(0.7225, abs=1e-4) and hi == pytest.approx(1.0)
    assert wilson(0, 0) == (0.0, 1.0)
    # More episodes narrow the interval around the same rate.
    assert wilson(30, 100)[1] - wilson(30, 100)[0] < wilson(3, 10)[1] - wilson(3, 10)[0]
    assert rate_interval({'falls': 0, 'episodes': 10}) == '0-28%'


def test_the_episodes_it_takes_to_show_a_rate_below_the_threshold():
    need = episodes_to_show(0.1)
    assert need == 35
    assert wilson(0, need)[1] <= 0.1 < wilson(0, need - 1)[1]
    assert episodes_to_show(0.5) == 4 and episodes_to_show(0.0) == 0


def test_mcnemar_counts_only_the_episodes_where_one_fell_and_the_other_stood():
    assert mcnemar_p(9, 3) == pytest.approx(2 * (1 + 12 + 66 + 220) / 4096)
    assert mcnemar_p(3, 9) == mcnemar_p(9, 3)
    assert mcnemar_p(0, 0) == 1.0 and mcnemar_p(5, 5) == 1.0
    assert mcnemar_p(10, 0) == pytest.approx(2 / 1024)
    assert 0 < mcnemar_p(20, 5) < 0.05 < mcnemar_p(8, 4)


def _rows(fell):
    return [{'fell': bool(f), 'return': 1.0} for f in fell]


def _report(conds, seed=0, through='process'):
    return {'through': through, 'seed': seed, 'episodes': 4, 'max_steps': None,
            'verdict': {'judged': list(conds), 'passed': False},
            'conditions': {n: {'falls': sum(f), 'episodes': len(f), 'per_episode': _rows(f)}
                           for n, f in conds.items()}}


def test_episodes_pair_by_index_over_the_judged_conditions():
    assert paired_falls(_rows([1, 1, 0, 0]), _rows([1, 0, 1, 0])) == (1, 1)
    with pytest.raises(ValueError, match='4 episodes against 3'):
        paired_falls(_rows([1, 1, 0, 0]), _rows([1, 0, 1]))
    a = _report({'nominal': [0, 0, 0, 0], 'delay_1': [1, 1, 1, 0]})
    b = _report({'nominal': [1, 0, 0, 0], 'delay_1': [0, 0, 1, 0]})
    assert judged_pairs(b, a) == (1, 2)
    assert pairable([a, b]) and not pairable([a, _report({}, seed=1)])
    assert not pairable([_report({}, through='ros')] * 2)


def test_the_comparison_gives_intervals_and_the_pairs_against_the_first():
    a = _report({'nominal': [0, 0, 0, 0], 'delay_1': [1, 1, 1, 0]})
    b = _report({'nominal': [1, 0, 0, 0], 'delay_1': [0, 0, 1, 0]})
    text = compare_text([('a.onnx', a), ('b.onnx', b)])
    lo, hi = wilson(3, 8)
    assert f'**3/8** ({lo:.0%}-{hi:.0%})'.replace('%-', '-') in text
    assert (f'| fell where `a.onnx` stood / stood where it fell, judged episodes (McNemar p) '
            f'| - | 1 / 2, p {mcnemar_p(1, 2):.2g} |') in text
    # Other seeds: the episodes do not pair, and no such row is written.
    assert 'McNemar' not in compare_text([('a', a), ('b', _report({'nominal': [0] * 4}, 7))])
    assert math.isclose(mcnemar_p(1, 2), 1.0)


def test_the_upper_bound_verdict_asks_the_episodes_to_show_the_rate():
    from symphony_ros.stress.report import verdict
    conds = {'nominal': {'falls': 0, 'episodes': 10, 'fall_rate': 0.0, 'within_training': True},
             'delay_1': {'falls': 0, 'episodes': 40, 'fall_rate': 0.0, 'within_training': True}}
    assert verdict(conds, 0.1, 'training')['passed']
    strict = verdict(conds, 0.1, 'training', 'upper95')
    # No fall in 10 bounds the rate below 28 % only; no fall in 40, below 9 %.
    assert not strict['passed'] and strict['failed'] == ['nominal']
    assert strict['bound'] == 'upper95'


def test_the_cli_verdict_bound_goes_into_the_report_and_the_contract(tmp_path, capsys):
    import json
    import shutil

    from symphony_ros.cli.main import main
    from symphony_ros.policy.onnx_file import load_contract
    policy = tmp_path / 'h.onnx'
    shutil.copy(HUMANOID, policy)
    out = tmp_path / 'r'
    rc = main(['stress', str(policy), '--out', str(out), '--episodes', '2', '--max-steps',
               '30', '--workers', '1', '--no-progress', '--conditions', 'nominal',
               '--max-fall-rate', '0.5', '--verdict-bound', 'upper95',
               '--max-tracking-error', '0.2'])
    report = json.loads((out / 'report.json').read_text())
    # 2 episodes cannot show any rate within 0.5, whatever they did: FAIL.
    assert rc == 1 and report['verdict']['bound'] == 'upper95'
    assert report['verdict']['failed'] == ['nominal']
    md = (out / 'report.md').read_text()
    # Humanoid-v4 takes no commands: the tracking threshold has nothing to judge there.
    assert report['verdict']['failed_tracking'] == []
    assert '**Verdict: FAIL** (upper 95 % bound of the fall rate <= 50% and tracking error ' \
           'per stride <= 0.2 m/s in every condition' in md
    assert "the verdict held each interval's upper end to 50%, so a PASS shows the rates " \
           'within it.' in md
    assert main(['export', str(policy), '--stress', str(out), '--force']) == 0
    assert load_contract(str(policy)).stress['bound'] == 'upper95'
    capsys.readouterr()
    assert main(['inspect', str(policy)]) == 0
    assert 'FAIL (upper 95 % bound of the fall rate <= 0.5 and tracking error per stride ' \
        '<= 0.2 m/s in the training conditions' in capsys.readouterr().out


def test_three_or_more_policies_are_ranked_by_their_judged_falls():
    a = _report({'nominal': [0, 0, 1, 0]})
    b = _report({'nominal': [1, 1, 1, 0]})
    c = _report({'nominal': [0, 0, 0, 0]})
    text = compare_text([('a', a), ('b', b), ('c', c)])
    ranked = text.split('Fewest falls in the judged conditions first:\n\n')[1].splitlines()
    assert [line.split('`')[1] for line in ranked] == ['c', 'a', 'b']
    assert ranked[0].startswith('1. `c` 0/4 (0-')
    assert 'Fewest falls' not in compare_text([('a', a), ('b', b)])


def test_a_tracking_threshold_fails_a_policy_that_stays_up_by_ignoring_its_commands():
    from symphony_ros.stress.report import verdict
    conds = {'nominal': {'falls': 0, 'episodes': 10, 'fall_rate': 0.0, 'within_training': True,
                         'stride_tracking_error': 0.29},
             'push_0.5': {'falls': 1, 'episodes': 10, 'fall_rate': 0.1, 'within_training': True,
                          'stride_tracking_error': 0.08},
             'delay_2': {'falls': 9, 'episodes': 10, 'fall_rate': 0.9, 'within_training': False,
                         'stride_tracking_error': 0.5},
             'ros_only': {'falls': 0, 'episodes': 10, 'fall_rate': 0.0, 'within_training': True,
                          'stride_tracking_error': None}}
    assert verdict(conds, 0.1, 'training')['passed']
    v = verdict(conds, 0.1, 'training', max_tracking_error=0.15)
    # Judged conditions only, and a condition without the figure is not judged on it.
    assert not v['passed'] and v['failed'] == v['failed_tracking'] == ['nominal']
    assert v['max_tracking_error'] == 0.15
    # The yaw rate likewise: a policy that walks straight but does not turn when told.
    conds['push_0.5']['stride_yaw_error'] = 0.45
    conds['nominal']['stride_yaw_error'] = 0.05
    v = verdict(conds, 0.1, 'training', max_yaw_error=0.2)
    assert not v['passed'] and v['failed'] == v['failed_yaw'] == ['push_0.5']
    assert v['failed_tracking'] == [] and v['max_yaw_error'] == 0.2
    both = verdict(conds, 0.1, 'training', max_tracking_error=0.15, max_yaw_error=0.2)
    assert both['failed'] == ['nominal', 'push_0.5']
    # A condition missed both ways is named once.
    conds['nominal']['stride_yaw_error'] = 0.3
    both = verdict(conds, 0.1, 'training', max_tracking_error=0.15, max_yaw_error=0.2)
    assert both['failed'] == ['nominal', 'push_0.5'] and both['failed_yaw'] == both['failed']


def test_the_comparison_shows_tracking_beside_the_falls():
    a = _report({'nominal': [0, 0, 0, 0]})
    b = _report({'nominal': [1, 0, 0, 0]})
    a['conditions']['nominal']['stride_tracking_error'] = 0.3
    b['conditions']['nominal']['stride_tracking_error'] = 0.1
    text = compare_text([('a', a), ('b', b), ('c', _report({'nominal': [1, 1, 0, 0]}))])
    assert '| tracking error per stride, mean of the judged conditions (m/s) | 0.300 | ' \
           '0.100 | - |' in text
    assert '1. `a` 0/4 (0-49%), tracking error 0.300 m/s' in text


def test_the_comparison_gives_each_policy_s_budgets_where_they_ran():
    a, b = _report({'nominal': [0, 0]}), _report({'nominal': [0, 0]})
    a['latency'] = {'budget_ms': 10.0}
    a['worst_depth'], b['worst_depth'] = {'budget': 0.4}, {'budget': None}
    text = compare_text([('a', a), ('b', b)])
    assert '| latency budget | 10 ms | - |' in text
    assert '| worst depth (of the way to `worst`) | 0.4 | none |' in text
    assert 'latency budget' not in compare_text([('b', b)])


def test_a_g1_policy_is_held_to_the_tracking_threshold_through_the_cli(tmp_path):
    import json

    from symphony_ros.cli.main import main
    g1 = G1_FIRST
    out = tmp_path / 'g1'
    rc = main(['stress', g1, '--out', str(out), '--episodes', '1', '--max-steps', '120',
               '--workers', '1', '--no-progress', '--conditions', 'nominal',
               '--max-fall-rate', '1', '--max-tracking-error', '0.001'])
    v = json.loads((out / 'report.json').read_text())['verdict']
    assert rc == 1 and v['failed'] == v['failed_tracking'] == ['nominal']


def test_the_report_says_what_its_episode_count_can_show():
    from symphony_ros.stress.report import _confidence_line
    ten = _confidence_line(10, 0.1, 'observed')
    assert 'bound a condition\'s rate below 28%' in ten
    assert ten.endswith('showing it takes 35 episodes without a fall (`--episodes 35`).')
    assert _confidence_line(50, 0.1, 'observed').endswith('; 50 episodes show it.')


@pytest.mark.parametrize('x, df, sf', [
    (3.84, 1, 0.0500435212487), (0.5, 2, 0.778800783071), (7.8, 3, 0.0503310978599),
    (7.8, 4, 0.0991853660844), (20.0, 5, 0.00124973056303), (20.0, 8, 0.0103360506759)])
def test_chi_square_tail_matches_the_tables(x, df, sf):
    assert chi2_sf(x, df) == pytest.approx(sf, rel=1e-9)
    assert chi2_sf(0.0, df) == 1.0


def test_rates_per_second_up_differ_only_beyond_chance():
    # Falls in proportion to the time up: no evidence of a difference.
    assert rates_differ_p([10, 20, 30], [100.0, 200.0, 300.0]) == pytest.approx(1.0)
    # 40 falls in 100 s against 10 in 100 s: far beyond chance.
    assert rates_differ_p([40, 10], [100.0, 100.0]) < 1e-4
    assert rates_differ_p([0, 0], [50.0, 60.0]) == 1.0     # nothing to compare
    assert rates_differ_p([3], [10.0]) == 1.0

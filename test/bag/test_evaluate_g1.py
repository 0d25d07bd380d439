"""A recorded G1 deploy (PD targets, a velocity command) evaluated offline.

The sim scores the G1 with the velocity task's terms against its cmd_vel; the evaluator
rebuilds the same score from the bag (states, the policy's targets, the position
controller's targets, cmd_vel), replays the recorded pd_position policy open loop on the
recorded states and commands, and runs a candidate policy the same way.
"""

import importlib.util
import os
import re
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.ros

HERE = os.path.dirname(os.path.abspath(__file__))
CMD_VEL = '0.5,0,0.2'
TRACKING = re.compile(r'episode (\d+): return (-?[\d.]+), \d+ steps, fall, tracking error RMS '
                      r'([\d.]+) m/s, ([\d.]+) rad/s')


def _g1_policy(folder: str, seed: int) -> str:
    spec = importlib.util.spec_from_file_location(
        'g1_policy', os.path.join(HERE, '..', 'deploy', 'g1_policy.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.export_g1_policy(folder, seed=seed)


@pytest.fixture(scope='module')
def g1_bag(tmp_path_factory):
    """(bag folder, launch output, recorded policy, candidate policy) of a G1 deploy."""
    from process_helpers import ChildProcess
    root = tmp_path_factory.mktemp('g1_bag')
    recorded = _g1_policy(str(root / 'recorded'), 0)
    candidate = _g1_policy(str(root / 'candidate'), 1)
    bag = root / 'bag'
    la = ChildProcess([sys.executable, '-m', 'symphony_ros.cli.launch_cmd', 'deploy',
                       'robot:=sim', 'robot_model:=g1', 'timing:=lockstep', 'ticks:=150',
                       f'cmd_vel:={CMD_VEL}', 'record:=true', f'record_dir:={bag}',
                       f'policy:={recorded}'],
                      dict(os.environ, PYTHONUNBUFFERED='1'))   # conftest: own DDS domain
    try:
        assert la.finish(timeout=240) == 0, la.text
    finally:
        if la.proc.poll() is None:
            la.proc.kill()
    assert (bag / 'metadata.yaml').is_file(), la.text
    return str(bag), la.text, recorded, candidate


def test_g1_bag_scores_to_the_live_velocity_task_returns(g1_bag):
    from symphony_ros.bag.evaluate import evaluate_bag
    bag, text, _, _ = g1_bag
    ev = evaluate_bag(bag)
    r = ev.report
    assert r['robot'] == 'g1' and r['missing'] == [], r['missing']
    live = {int(k): (float(ret), float(lin), float(yaw))
            for k, ret, lin, yaw in TRACKING.findall(text)}
    matched = [e for e in r['episodes'] if e['complete'] and e['live_return'] is not None]
    assert len(matched) >= 1 and len(live) >= len(matched), (r['episodes'], text)
    for e in matched:
        assert e['return'] == pytest.approx(e['live_return'], rel=0.01), e
        assert set(e['reward_terms']) >= {'track_lin_vel', 'action_rate', 'torque'}
        assert sum(e['reward_terms'].values()) == pytest.approx(e['return'])
        # The tracking error the sim logged, from the recorded states and cmd_vel.
        _, lin, yaw = live[e['index']]
        assert e['tracking_rms']['lin_vel'] == pytest.approx(lin, abs=0.01), (e, live)
        assert e['tracking_rms']['yaw_rate'] == pytest.approx(yaw, abs=0.01), (e, live)
    assert r['overall']['tracking_rms']['lin_vel'] > 0.1
    # The targets' step in joint travel (a random small policy: a few percent per step).
    assert 0 < r['overall']['command_step'] < 0.5


def test_recorded_pd_policy_replays_open_loop_and_a_candidate_runs(g1_bag):
    from symphony_ros.bag.evaluate import evaluate_bag
    bag, _, recorded, candidate = g1_bag
    ev = evaluate_bag(bag, candidate=candidate)
    rec = ev.report['policy']['recorded']
    assert rec['path'] == recorded and rec['ticks'] >= 140
    # Same states, same command, same previous action: the recorded targets come back.
    assert rec['vs_recorded_actions']['reproduced_share'] >= 0.95, rec
    cand = ev.report['policy']['candidate']
    assert cand['ticks'] == rec['ticks'] and cand['vs_recorded_actions']['rms'] > 1e-3
    run = ev.candidate
    assert run.actions.shape == (cand['ticks'], 29) and np.all(np.abs(run.actions) <= 1.0)
    # The torque a PD target asks for is within the effort limits (the PD law clips it).
    from symphony_ros.robot import get_robot
    assert np.all(np.abs(run.torques) <= np.asarray(get_robot('g1').effort_limits) + 1e-9)


def test_a_humanoid_policy_is_refused_on_a_g1_bag_in_one_line(g1_bag, tmp_path):
    from symphony_ros.bag.evaluate import EvaluationError, evaluate_bag
    bag, _, _, _ = g1_bag
    spec = importlib.util.spec_from_file_location('bag_conftest',
                                                  os.path.join(HERE, 'conftest.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    humanoid = module._export(tmp_path, 0)
    with pytest.raises(EvaluationError) as err:
        evaluate_bag(bag, candidate=humanoid)
    assert 'candidate policy refused' in str(err.value) and '\n' not in str(err.value)

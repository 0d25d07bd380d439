"""Lockstep repeats: the same seed gives the same run, and the bag scores to the sim's reward.

The shipped policy through the full deploy graph (sim -> policy -> watchdog, real DDS, the
sim's watchdog profile) twice with the same seed: every per-step reward the sim published
must be equal bit for bit, and the evaluator's return recomputed from each bag must equal the
sim's live one. Short runs (the episode does not finish), so the partial return is compared.
"""

import sys

import pytest
from launch_helpers import Launcher

from symphony_ros import paths
from symphony_ros.bag.evaluate import evaluate_bag

pytestmark = pytest.mark.ros

TICKS = 150


def _run(ros_env, folder):
    bag = folder / 'bag'
    la = Launcher([sys.executable, '-m', 'symphony_ros.cli.launch_cmd', 'deploy', 'robot:=sim',
                   'timing:=lockstep', f'ticks:={TICKS}', 'seed:=3', 'record:=true',
                   f'record_dir:={bag}', f'policy:={paths.default_policy_path()}'], ros_env)
    try:
        assert la.finish(timeout=240) == 0, la.text
    finally:
        if la.proc.poll() is None:
            la.proc.kill()
    assert f'done: {TICKS} steps' in la.text, la.text
    # Every tick stepped on the policy's command as sent: nothing left to timing.
    assert 'not reproducible' not in la.text, la.text
    # Nor a tick that waited out the sim's lockstep_timeout and stepped on zero torque, nor
    # one taken as altered by a safety rule: no soft limit binds on this trajectory (the sim
    # profile's cut lies 0.25 rad outside the ranges), so such an output was a transition.
    assert 'no command answered' not in la.text, la.text
    assert 'safety rule altered' not in la.text, la.text
    # A planned end: the watchdog is disarmed, no FAULT when the states stop.
    tail = la.text[la.text.index('done: '):]
    assert 'FAULT' not in tail and '~/disarm: disarmed' in tail, la.text
    return la.text, evaluate_bag(str(bag))


def test_two_lockstep_runs_of_one_seed_are_identical_and_score_as_the_sim(ros_env, tmp_path):
    text_a, ev_a = _run(ros_env, tmp_path / 'a')
    text_b, ev_b = _run(ros_env, tmp_path / 'b')
    live_a = [r for _, r in ev_a.timeline.rewards]
    live_b = [r for _, r in ev_b.timeline.rewards]
    assert len(live_a) == TICKS and live_a == live_b, (text_a, text_b)
    for ev, text in ((ev_a, text_a), (ev_b, text_b)):
        overall = ev.report['overall']
        assert overall['steps'] == TICKS, (overall, text)
        assert overall['faults'] == 0, text
        # The recomputed return equals the sim's to rounding, step for step.
        recomputed = [s.total for e in ev.episodes for s in e.steps]
        assert recomputed == pytest.approx(live_a, abs=1e-9)
        assert overall['reward_total'] == pytest.approx(overall['live_reward_total'], abs=1e-9)
    assert f'episode 0 unfinished after {TICKS} steps: return {sum(live_a):.1f}' in text_a

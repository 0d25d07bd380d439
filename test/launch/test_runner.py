"""``symphony launch`` as a real process: signals, escalation, failures, ROS arguments."""

import re
import signal
import time

import pytest
import yaml
from process_helpers import pid_alive


@pytest.mark.parametrize('sig, full_cli', [(signal.SIGINT, True), (signal.SIGTERM, False)],
                         ids=['SIGINT-symphony-launch', 'SIGTERM-launch_cmd'])
def test_signal_stops_every_child_and_grandchild(launcher, sig, full_cli):
    la = launcher('launch_test_graphs:STOP', '--sigint-timeout', '1', full_cli=full_cli)
    la.wait_for(r'^\[(worker|stubborn|parent)\] ready$', count=3)
    la.wait_for(r'^\[launch\] oneshot exited with code 0 \(optional: graph goes on\)$')
    grandchild = int(la.wait_for(r'^\[parent\] grandchild \d+$')[0].split()[-1])
    pids = la.child_pids()
    assert len(pids) == 4 and pid_alive(grandchild)

    la.proc.send_signal(sig)
    assert la.finish() == 0, la.text
    assert [p for p in pids + [grandchild] if pid_alive(p)] == []
    # worker and parent obey SIGINT; stubborn ignores it and needs the SIGTERM step.
    assert re.search(r'still running: stubborn; sending SIGTERM', la.text), la.text
    assert '[launch] worker exited with code 0' in la.text
    assert '[launch] stubborn exited with signal SIGTERM' in la.text


def _ctrl_c_slow_saver(launcher, gaps):
    """Stop the SLOW_STOP graph (saver: 2 s after SIGINT) with SIGINTs ``gaps`` s apart."""
    la = launcher('launch_test_graphs:SLOW_STOP', '--sigint-timeout', '1')
    la.wait_for(r'^\[(saver|worker)\] ready$', count=2)
    la.proc.send_signal(signal.SIGINT)
    for gap in gaps:
        time.sleep(gap)
        la.proc.send_signal(signal.SIGINT)
    assert la.finish() == 0, la.text
    return la.text


def test_a_node_with_its_own_stop_timeout_gets_it_after_sigint(launcher):
    # The trainer's case: Ctrl-C, then a checkpoint write longer than the launcher's default
    # SIGINT grace (1 s here). SIGTERM would have cut the write short.
    text = _ctrl_c_slow_saver(launcher, ())
    assert '[saver] saved' in text and '[launch] saver exited with code 0' in text
    assert 'sending SIGTERM' not in text


def test_one_request_signalled_twice_does_not_escalate(launcher):
    # `timeout -s INT` signals the launcher and then its process group: one request, two
    # SIGINTs (on a busy machine up to tens of ms apart, once the stop has begun). Only a
    # later second Ctrl-C may cut the saver short.
    text = _ctrl_c_slow_saver(launcher, (0.1,))
    assert '[saver] saved' in text and 'sending SIGTERM' not in text


def test_a_second_ctrl_c_escalates_at_once(launcher):
    text = _ctrl_c_slow_saver(launcher, (0.6,))
    assert 'still running: saver; sending SIGTERM' in text, text
    assert '[launch] saver exited with signal SIGTERM' in text
    assert '[saver] saved' not in text


def test_required_child_failure_stops_the_graph(launcher):
    la = launcher('launch_test_graphs:FAIL')
    assert la.finish() == 1, la.text
    assert '[crasher] crashing' in la.text
    assert '[launch] crasher exited with code 3' in la.text
    assert 'required crasher ended: stopping the graph' in la.text
    assert '[launch] worker exited with code 0' in la.text
    assert [p for p in la.child_pids() if pid_alive(p)] == []


def test_missing_required_package_is_a_clear_error(launcher):
    la = launcher('launch_test_graphs:MISSING')
    assert la.finish() == 2
    assert la.text.strip() == ("symphony launch: error: ghost: package 'no_such_package_xyz' "
                               'not found (no ROS 2 distro sourced, or it is not installed)')


@pytest.mark.ros
def test_parameters_files_and_remaps_reach_a_real_node(launcher, tmp_path):
    """The launch values override the node's parameter file (exact-name keys win over it)."""
    params = tmp_path / 'echo.yaml'
    params.write_text(yaml.safe_dump({'echo': {'ros__parameters': {
        'greeting': 'from_file', 'only_in_file': 'yes'}}}))
    la = launcher('launch_test_graphs:ECHO', 'greeting:=from_launch', 'count:=7',
                  f'params_file:={params}', 'chatter_topic:=/remapped/chatter')
    assert la.finish() == 0, la.text
    assert ('[echo] name=echo greeting=from_launch count=7 only_in_file=yes '
            'topic=/remapped/chatter') in la.text

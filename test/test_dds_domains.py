"""Concurrent test processes on one machine get distinct DDS domains (conftest's claim)."""

import os
import subprocess
import sys

CLAIM = ('import os, sys; sys.path.insert(0, "test"); import conftest; '
         'print(os.environ["ROS_DOMAIN_ID"], flush=True); sys.stdin.read()')


def test_concurrent_processes_claim_distinct_domains():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    children = [subprocess.Popen([sys.executable, '-c', CLAIM], cwd=root, text=True,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE)
                for _ in range(3)]
    try:
        # Each child holds its claim until its stdin closes, so all four are held at once.
        domains = [int(c.stdout.readline()) for c in children]
    finally:
        for c in children:
            c.stdin.close()
            c.wait(timeout=60)
    mine = int(os.environ['ROS_DOMAIN_ID'])
    assert len(set(domains + [mine])) == 4 and all(1 <= d <= 100 for d in domains + [mine])


def _root_conftest(pytestconfig):
    """Return the conftest module pytest loaded from this folder (not another 'conftest')."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'conftest.py')
    found = [m for m in pytestconfig.pluginmanager.get_plugins()
             if getattr(m, '__file__', None) == path]
    assert found, 'the root conftest is not loaded'
    return found[0]


def test_a_second_claim_from_the_same_pid_moves_to_another_domain(pytestconfig):
    conftest = _root_conftest(pytestconfig)
    assert len(conftest._claimed) == 1  # the claim this process made at start-up
    # Same pid, so the same starting domain: the held lock is what moves the claim on.
    second = conftest._domain_for_process()
    try:
        assert second != int(os.environ['ROS_DOMAIN_ID'])
    finally:
        os.close(conftest._claimed.pop())

"""A stress matrix stopped by a signal ends at once, its worker processes with it."""

import os
import signal
import subprocess
import sys
import time

import pytest

from process_helpers import child_pids, pid_alive, signal_when
from shipped_models import HUMANOID

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _wait(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_a_background_stress_run_and_its_workers(tmp_path, signum):
    """Started as a script's background job (SIGINT ignored), as `symphony screen &` is.

    A matrix of 600 episodes takes many minutes; stopped, the command says so (exit 130)
    and no worker outlives it: the episodes not yet started are not run.
    """
    argv = [sys.executable, '-m', 'symphony_ros.cli.main', 'stress', HUMANOID,
            '--conditions', 'nominal', 'delay_1', 'delay_2', '--episodes', '200',
            '--workers', '2', '--no-progress', '--out', str(tmp_path / 'out')]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    workers = []

    def started() -> bool:
        workers[:] = child_pids(proc.pid)
        return len(workers) >= 2
    out, _ = signal_when(proc, started, signum)
    assert proc.returncode == 130, out
    assert 'symphony stress: interrupted' in out, out
    # Each worker finishes the episode it is in, then exits.
    assert _wait(lambda: not any(map(pid_alive, workers)), 60), (workers, out)
    assert not (tmp_path / 'out' / 'report.json').exists()

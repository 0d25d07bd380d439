"""The learner's thread policy: a fixed count, or the fastest measured, measured again."""

import pytest
import torch

from symphony_ros.core.threads import ThreadPolicy, candidates


@pytest.fixture(autouse=True)
def keep_torch_threads(monkeypatch):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _feed(policy, ms_by_threads, updates):
    for _ in range(updates):
        policy.record(ms_by_threads[policy.threads] / 1e3)


def test_candidates():
    assert candidates(1) == [1]
    assert candidates(2) == [1, 2]
    assert candidates(6) == [1, 2, 4, 6]


def test_fixed_count_is_set_and_never_changed():
    notes = []
    policy = ThreadPolicy(fixed=1, cpus=4, note=notes.append)
    assert torch.get_num_threads() == 1 and notes == ['threads: 1 (--threads)']
    _feed(policy, {1: 500.0}, 100)
    assert policy.threads == 1 and torch.get_num_threads() == 1
    with pytest.raises(ValueError, match='threads must be at least 1'):
        ThreadPolicy(fixed=0)


def test_the_fastest_count_is_chosen_and_logged():
    notes, clock = [], Clock()
    policy = ThreadPolicy(cpus=4, note=notes.append, clock=clock)
    assert policy.probing
    # Beside a busy process: one thread fastest, all threads slowest.
    order = []
    while policy.probing:
        order.append(policy.threads)
        policy.record({1: 0.069, 2: 0.161, 4: 0.300}[policy.threads])
    # 2 and 4 threads, more than twice as slow as 1 in their first round, are dropped.
    assert order == [1] * 4 + [2] * 4 + [4] * 4 + [1] * 8
    assert policy.threads == 1 and torch.get_num_threads() == 1
    assert notes == ['threads: 1 (mean update time by thread count: 1: 69.0 ms, '
                     '2: 161.0 ms, 4: 300.0 ms)']


def test_the_probe_interleaves_candidates_and_prefers_fewer_threads():
    policy = ThreadPolicy(cpus=2)
    order = []
    for _ in range(2 * 3 * 4):
        order.append(policy.threads)
        policy.record({1: 0.050, 2: 0.047}[policy.threads])
    assert order == ([1] * 4 + [2] * 4) * 3
    assert policy.threads == 1                          # 2 threads gain less than 10 %


def test_a_slowdown_or_time_passing_measures_again():
    clock = Clock()
    policy = ThreadPolicy(cpus=2, every_s=300.0, clock=clock)
    _feed(policy, {1: 60.0, 2: 41.0}, 24)
    assert policy.threads == 2 and not policy.probing
    _feed(policy, {1: 60.0, 2: 50.0}, 20)               # within 1.5x: kept
    assert not policy.probing
    _feed(policy, {1: 69.0, 2: 161.0}, 5)               # a neighbour arrived
    assert policy.probing
    _feed(policy, {1: 69.0, 2: 161.0}, 16)              # 2 threads dropped after a round
    assert policy.threads == 1 and not policy.probing
    _feed(policy, {1: 200.0}, 20)                       # fewer threads cannot help
    assert not policy.probing
    clock.now = 301.0                                   # but after a while, again
    _feed(policy, {1: 60.0, 2: 41.0}, 1)
    assert policy.probing
    _feed(policy, {1: 60.0, 2: 41.0}, 24)
    assert policy.threads == 2 and policy.choices == 3


def test_omp_num_threads_in_the_environment_is_a_fixed_choice(monkeypatch):
    notes = []
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    policy = ThreadPolicy(cpus=4, note=notes.append)
    assert not policy.probing and notes == ['threads: 1 (OMP_NUM_THREADS)']
    assert ThreadPolicy(fixed=2, cpus=4).threads == 2        # --threads wins

"""Fading Replay Buffer: sampling mass, eviction order against an O(N) model, reward scaling."""

import random

import numpy as np
import torch

import pytest

from symphony_ros.core.replay import FadingReplayBuffer, fading_weights, rewind


def _add(buf, ident, terminal=False, reward=None):
    obs = np.full(2, ident, dtype=np.float32)
    buf.add(obs, np.zeros(1), float(ident if reward is None else reward), obs, terminal)


def _intended_insert(items, item, capacity):
    """The recycling rule as a plain list, oldest first: the behaviour the reference intends.

    Every terminal at the oldest end is recycled and placed just before the newest entry.
    The reference's literal roll differs at the oldest end: per insert it recycles only the
    oldest entry when that is terminal, and the next insert overwrites the entry behind it,
    terminal or not; until then both sit after the newest entry. The buffer implements this
    model, not the literal roll; README "The algorithm, as implemented" says so.
    """
    if len(items) < capacity:
        items.append(item)
        return
    recycled = []
    while items[0][1] and len(recycled) < capacity - 1:
        recycled.append(items.pop(0))
    items.pop(0)
    items.extend(recycled)
    items.append(item)


def test_oldest_tenth_holds_about_0_15_percent_of_the_mass():
    w = fading_weights(512_000)
    assert abs(w.sum().item() - 1) < 1e-9
    oldest = w[: 51_200].sum().item()
    assert 0.0012 < oldest < 0.0018
    newest = w[-int(0.6 * 512_000):]
    assert newest.min() / newest.max() > 0.95   # the newest ~60% is nearly uniform


def test_sampling_follows_the_fading_mass():
    torch.manual_seed(0)
    n = 1000
    buf = FadingReplayBuffer(n, 2, 1)
    for i in range(n):
        _add(buf, i)
    ids = torch.cat([buf.sample(4096).obs[:, 0] for _ in range(50)]).long()
    counts = torch.bincount(ids, minlength=n).double()
    expected = fading_weights(n) * counts.sum()
    for lo, hi in ((0, 100), (100, 400), (400, 1000)):
        got, want = counts[lo:hi].sum().item(), expected[lo:hi].sum().item()
        assert abs(got - want) < 5 * want ** 0.5 + 5, (lo, hi, got, want)


def test_ring_order_matches_the_intended_rule_and_keeps_terminals():
    rng = random.Random(0)
    cap = 50
    buf = FadingReplayBuffer(cap, 2, 1)
    model = []
    terminals = set()
    for ident in range(1, 2000):
        terminal = rng.random() < 0.1
        _add(buf, ident, terminal)
        _intended_insert(model, (ident, terminal), cap)
        if terminal:
            terminals.add(ident)
    order = buf.ordered('obs')[:, 0].long().tolist()
    assert order == [ident for ident, _ in model]
    # Every terminal transition ever stored is still there (there are fewer than cap).
    kept = set(order)
    assert terminals & kept == terminals or len(terminals) >= cap


def test_buffer_of_only_terminals_still_accepts_inserts():
    buf = FadingReplayBuffer(4, 2, 1)
    for i in range(10):
        _add(buf, i, terminal=True)
    assert len(buf) == 4
    assert buf.ordered('obs')[-1, 0].item() == 9


def test_warmup_scaling_and_tiling():
    buf = FadingReplayBuffer(10, 2, 1)
    for i, r in enumerate([2.0, -4.0, 6.0]):
        _add(buf, i, reward=r)
    scale = buf.finish_warmup()
    assert scale == 4.0
    assert len(buf) == 10
    rewards = buf.ordered('reward')[:, 0].tolist()
    assert rewards == [0.5, -1.0, 1.5] * 3 + [0.5]
    _add(buf, 99, reward=8.0)          # later rewards are divided by the same scale
    assert buf.ordered('reward')[-1, 0].item() == 2.0
    assert buf.ordered('obs')[0, 0].item() == 1   # the oldest copy was evicted


def test_warmup_with_all_zero_rewards_keeps_scale_one():
    buf = FadingReplayBuffer(4, 2, 1)
    _add(buf, 0, reward=0.0)
    assert buf.finish_warmup() == 1.0


def test_state_dict_round_trip():
    buf = FadingReplayBuffer(8, 2, 1)
    for i in range(13):
        _add(buf, i, terminal=i % 5 == 0)
    other = FadingReplayBuffer(8, 2, 1)
    other.load_state_dict(buf.state_dict())
    assert torch.equal(other.ordered('obs'), buf.ordered('obs'))
    _add(buf, 50)
    _add(other, 50)
    assert torch.equal(other.ordered('obs'), buf.ordered('obs'))


def test_state_dict_holds_the_data_not_the_capacity():
    """Before warm-up only the filled rows are stored; after it, the warm-up rows once."""
    buf = FadingReplayBuffer(1000, 2, 1)
    for i in range(10):
        _add(buf, i, terminal=i == 4)
    assert buf.state_dict()['obs'].shape[0] == 10
    buf.finish_warmup()
    for i in range(10, 15):
        _add(buf, i)
    state = buf.state_dict()
    assert state['obs'].shape[0] == 5 and state['warm_obs'].shape[0] == 10
    other = FadingReplayBuffer(1000, 2, 1)
    other.load_state_dict(state)
    for name in ('obs', 'action', 'reward', 'next_obs', 'done'):
        assert torch.equal(getattr(other, name), getattr(buf, name)), name
    assert other.head == buf.head and other.reward_scale == buf.reward_scale
    for i in range(2000):        # wraps round the ring twice: both stay identical
        _add(buf, 100 + i, terminal=i % 97 == 0)
        _add(other, 100 + i, terminal=i % 97 == 0)
    assert torch.equal(other.ordered('obs'), buf.ordered('obs'))


def test_clean_observations_are_stored_sampled_and_filled_in_for_an_older_buffer():
    buf = FadingReplayBuffer(8, 2, 1, clean_obs=True)
    for i in range(5):
        obs = np.full(2, i, dtype=np.float32)
        buf.add(obs, np.zeros(1), 1.0, obs, False, next_clean_obs=obs + 0.5)
    buf.add(np.zeros(2), np.zeros(1), 1.0, np.ones(2), False)  # none given: next_obs
    b = buf.sample(32)
    gap = b.next_clean_obs - b.next_obs
    assert set(torch.unique(gap).tolist()) <= {0.0, 0.5}
    assert torch.equal(buf.ordered('next_clean_obs')[-1], torch.ones(2))
    again = FadingReplayBuffer(8, 2, 1, clean_obs=True)
    again.load_state_dict(buf.state_dict())
    assert torch.equal(again.ordered('next_clean_obs'), buf.ordered('next_clean_obs'))
    plain = FadingReplayBuffer(8, 2, 1)
    for i in range(5):
        _add(plain, i)
    plain.finish_warmup()
    _add(plain, 9)
    older = FadingReplayBuffer(8, 2, 1, clean_obs=True)
    older.load_state_dict(plain.state_dict())     # saved without them: next_obs stands in
    assert torch.equal(older.next_clean_obs, plain.next_obs)
    assert plain.sample(4).next_clean_obs is None


def _ids(buf):
    return [int(v) for v in buf.ordered('obs')[:, 0].tolist()]


@pytest.mark.parametrize('terminal_every', [0, 7])
def test_a_rewound_buffer_is_the_earlier_one_less_what_was_evicted_or_recycled_since(
        terminal_every):
    buf = FadingReplayBuffer(50, 2, 1)
    for i in range(10):
        _add(buf, i)
    buf.finish_warmup()                     # 50 slots: five tiles of the ten warm-up rows

    def more(into, ids):
        for i in ids:
            _add(into, i, terminal=bool(terminal_every) and i % terminal_every == 0)
    more(buf, range(10, 40))
    then, counts = _ids(buf), (buf.adds, buf.recycled)
    more(buf, range(40, 70))
    assert (buf.recycled > counts[1]) == bool(terminal_every)
    drop = buf.adds - counts[0] + buf.recycled - counts[1]
    back = FadingReplayBuffer(50, 2, 1)
    back.load_state_dict(rewind(buf.state_dict(), drop, counts))
    ids = _ids(back)
    assert len(ids) == 50 - drop and max(ids) < 40 and (back.adds, back.recycled) == counts
    # The earlier buffer's order, with only its oldest (or its recycled terminals) gone.
    assert ids == [i for i in then if i in set(ids)]
    if not terminal_every:
        assert ids == then[-len(ids):]
    more(back, range(100, 110))             # it fills on from its size, then evicts as before
    assert _ids(back)[-10:] == list(range(100, 110)) and len(back) == 50 - drop + 10


def test_a_rewind_past_what_the_buffer_holds_is_refused():
    buf = FadingReplayBuffer(8, 2, 1)
    for i in range(20):
        _add(buf, i)
    with pytest.raises(ValueError, match='nothing of that step is left'):
        rewind(buf.state_dict(), 8)

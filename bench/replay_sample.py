"""One minibatch from the replay, mirrored: the trainer's sampling at the G1 recipe's sizes.

Times `FadingReplayBuffer.sample` followed by `BatchMirror` (the recipe's mirrored
batches), as each update of a run asks, against the same rows gathered with ``tensor[idx]``
(the gather the buffer used before `torch.index_select`), one torch thread, alternating
rounds; both give the same batch (checked).

    python bench/replay_sample.py [--stored 20000] [--batch 256] [--rounds 5]
"""

import argparse
import statistics
import time

import numpy as np
import torch

from symphony_ros.core.augment import BatchMirror
from symphony_ros.core.replay import Batch, FadingReplayBuffer

OBS, ACT, CRITIC = 294, 29, 131
"""The G1 recipe's actor observation (3 frames of 98), joints and privileged critic view."""


def getitem_batch(buffer: FadingReplayBuffer, idx: torch.Tensor) -> Batch:
    """The rows of ``idx`` gathered by indexing, as before index_select."""
    return Batch(buffer.obs[idx], buffer.action[idx], buffer.reward[idx], buffer.next_obs[idx],
                 buffer.done[idx], buffer.critic_obs[idx], buffer.next_critic_obs[idx])


def getitem_half(x: torch.Tensor, m) -> torch.Tensor:
    h = x.shape[0] // 2
    return torch.cat([x[:h], x[h:][:, m[0]] * m[1]])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--stored', type=int, default=20_000)
    p.add_argument('--batch', type=int, default=256)
    p.add_argument('--rounds', type=int, default=5)
    p.add_argument('--reps', type=int, default=200)
    args = p.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    buffer = FadingReplayBuffer(300_000, OBS, ACT, critic_dim=CRITIC)
    for _ in range(args.stored):
        buffer.add(rng.random(OBS), rng.random(ACT), 0.0, rng.random(OBS), False,
                   rng.random(CRITIC), rng.random(CRITIC))
    maps = [(rng.permutation(n), np.where(rng.random(n) < 0.3, -1.0, 1.0))
            for n in (OBS, ACT, CRITIC)]
    mirror = BatchMirror(*maps)
    n = args.batch

    def product():
        return mirror(buffer.sample(n))

    def before():
        idx = buffer.slots(torch.searchsorted(buffer._cdf, torch.rand(n)).clamp_(
            max=buffer.size - 1))
        b = getitem_batch(buffer, idx)
        return b._replace(obs=getitem_half(b.obs, mirror.obs),
                          next_obs=getitem_half(b.next_obs, mirror.obs),
                          action=getitem_half(b.action, mirror.action),
                          critic_obs=getitem_half(b.critic_obs, mirror.critic),
                          next_critic_obs=getitem_half(b.next_critic_obs, mirror.critic))
    for fn in (product, before):     # the same draws give the same batch
        torch.manual_seed(1)
        got = fn()
        if fn is product:
            first = got
    assert all(torch.equal(a, b) for a, b in zip(first, got) if a is not None)
    times = {'index_select (the trainer)': [], 'tensor[idx] (before)': []}
    for _ in range(args.rounds):
        for key, fn in zip(times, (product, before)):
            for _ in range(args.reps):
                t0 = time.perf_counter()
                fn()
                times[key].append(time.perf_counter() - t0)
    print(f'{args.stored:,} stored, batch {n}, obs {OBS}, critic {CRITIC}, 1 thread\n')
    print('| sample + mirror | median ms | p99 ms |')
    print('|---|---|---|')
    for key, values in times.items():
        p99 = np.percentile(values, 99, method='higher')
        print(f'| {key} | {statistics.median(values) * 1e3:.3f} | {p99 * 1e3:.3f} |')
    ratio = statistics.median(times['tensor[idx] (before)']) / statistics.median(
        times['index_select (the trainer)'])
    print(f'\nbefore / now (medians): {ratio:.2f}x')


if __name__ == '__main__':
    main()

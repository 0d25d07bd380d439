"""Fading Replay Buffer: age-weighted sampling, terminal transitions kept, O(1) inserts.

Positions run from the oldest transition (i = 0) to the newest (i = N - 1) and are sampled
with replacement with p_i proportional to tanh((pi * i / N)^e): the oldest tenth of the
buffer holds about 0.15% of the mass while the newest ~60% is nearly uniform.

The reference implementation keeps the buffer in age order by rolling every array on each
insert (O(N)), and when the oldest entry is terminal it rolls that entry round to the new
end instead of dropping it. Here the storage is a ring: the oldest slot is ``head`` and
position i lives in slot (head + i) mod N. Evicting the oldest is overwriting ``head``;
recycling a terminal is stepping ``head`` past it, which makes its slot the newest one
without moving any data. O(1) amortised per insert. The rule is the one the roll intends:
every terminal reaching the oldest end is recycled, just before the newest entry (the
literal roll recycles one per insert and lets the next terminal behind it go).
"""

from __future__ import annotations

import math
from typing import Dict, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch

from ..robot.command_terms import rewidth


FIELDS = ('obs', 'action', 'reward', 'next_obs', 'done')
"""The stored arrays of a transition, one row per slot."""
CRITIC_FIELDS = ('critic_obs', 'next_critic_obs')
"""Stored too by a buffer for a privileged critic (its observations of both states)."""
CLEAN_FIELDS = ('next_clean_obs',)
"""Stored too by a buffer whose learner anchors the actor on what a noiseless sensor saw."""
TERMS_FIELDS = ('terms',)
"""Stored too by a buffer that can re-score its rewards: each step's unweighted reward terms."""


class Batch(NamedTuple):
    """A sampled minibatch; rewards are already divided by the reward scale."""

    obs: torch.Tensor
    action: torch.Tensor
    reward: torch.Tensor
    next_obs: torch.Tensor
    done: torch.Tensor
    critic_obs: Optional[torch.Tensor] = None
    """The critic's observations (a privileged critic's); None: it sees obs."""
    next_critic_obs: Optional[torch.Tensor] = None
    next_clean_obs: Optional[torch.Tensor] = None
    """next_obs without the randomisation's sensor noise and bias; None: not stored."""
    anchor_mask: Optional[torch.Tensor] = None
    """[batch, 1]: 1 where a fine-tune's anchor holds the row, 0 where it lets go
    (`core.anchor_free`); None: it holds every row."""


def fading_weights(n: int) -> torch.Tensor:
    """Normalised sampling mass over positions 0 (oldest) .. n - 1 (newest)."""
    i = torch.arange(n, dtype=torch.float64) / n
    w = torch.tanh((math.pi * i) ** math.e)
    return w / w.sum()


class FadingReplayBuffer:
    """Preallocated transitions on one device with Symphony's fading sampling."""

    def __init__(self, capacity: int, obs_dim: int, act_dim: int,
                 device: torch.device | str = 'cpu', critic_dim: Optional[int] = None,
                 clean_obs: bool = False, term_names: Sequence[str] = ()) -> None:
        """Preallocate ``capacity`` transitions.

        :param critic_dim: also store the critic's views, this wide.
        :param clean_obs: also store each next observation as a noiseless sensor gave it.
        :param term_names: also store each step's unweighted reward terms, these, so that
            :meth:`rescore` can weigh them anew (a reward curriculum).
        """
        if capacity < 2:
            raise ValueError(f'replay capacity must be at least 2, got {capacity}')
        self.capacity, self.device = capacity, torch.device(device)
        self.obs = torch.zeros((capacity, obs_dim), dtype=torch.float32, device=self.device)
        self.next_obs = torch.zeros_like(self.obs)
        self.action = torch.zeros((capacity, act_dim), dtype=torch.float32, device=self.device)
        self.reward = torch.zeros((capacity, 1), dtype=torch.float32, device=self.device)
        self.done = torch.zeros((capacity, 1), dtype=torch.float32, device=self.device)
        self.critic_dim = critic_dim or None
        self.term_names: Tuple[str, ...] = tuple(term_names)
        self.fields = (FIELDS + (CRITIC_FIELDS if critic_dim else ())
                       + (CLEAN_FIELDS if clean_obs else ())
                       + (TERMS_FIELDS if self.term_names else ()))
        self.clean_obs = clean_obs
        if self.term_names:
            self.terms = torch.zeros((capacity, len(self.term_names)), dtype=torch.float32,
                                     device=self.device)
        if clean_obs:
            self.next_clean_obs = torch.zeros_like(self.obs)
        if critic_dim:
            self.critic_obs = torch.zeros((capacity, critic_dim), dtype=torch.float32,
                                          device=self.device)
            self.next_critic_obs = torch.zeros_like(self.critic_obs)
        # Host copy of the terminal flags: the eviction rule reads them without a device sync.
        self._terminal = np.zeros(capacity, dtype=bool)
        self.head, self.size = 0, 0
        self.adds, self.recycled = 0, 0
        """Transitions stored, and terminals recycled, since the buffer was made or restored
        from a file without them (counted from 0 there): what a rewind (:func:`rewind`)
        counts back by between a checkpoint and a newer replay of the same run."""
        self.reward_scale = 1.0
        self._cdf: Optional[torch.Tensor] = None
        # Checkpoints store the data, not the capacity: the warm-up rows once, and for each
        # slot which warm-up row its tile holds (-1: a row of its own, written by add()).
        self._warm: Dict[str, torch.Tensor] = {}
        self._origin = np.full(capacity, -1, dtype=np.int64)

    def __len__(self) -> int:
        return self.size

    def _slot_for_insert(self) -> int:
        if self.size < self.capacity:
            self.size += 1
            self._cdf = None
            return self.size - 1
        slot, skipped = self.head, 0
        # A terminal at the oldest position is recycled to the newest end, never evicted;
        # the bound only matters for a buffer made entirely of terminals.
        while self._terminal[slot] and skipped < self.capacity - 1:
            slot = (slot + 1) % self.capacity
            skipped += 1
        self.head = (slot + 1) % self.capacity
        self.recycled += skipped
        return slot

    def add(self, obs: np.ndarray, action: np.ndarray, reward: float, next_obs: np.ndarray,
            terminated: bool, critic_obs: Optional[np.ndarray] = None,
            next_critic_obs: Optional[np.ndarray] = None,
            next_clean_obs: Optional[np.ndarray] = None,
            terms: Optional[np.ndarray] = None) -> None:
        """Store one transition; ``reward`` is divided by the current reward scale.

        ``next_clean_obs`` (a buffer with ``clean_obs``): None stores ``next_obs`` for it.
        ``terms``: the step's unweighted reward terms (a buffer with ``term_names``).

        :raises ValueError: a buffer for a privileged critic not given the critic's views, or
            one keeping reward terms not given them.
        """
        if self.critic_dim and (critic_obs is None or next_critic_obs is None):
            raise ValueError('this replay buffer stores the critic\'s observations: '
                             'critic_obs and next_critic_obs are required')
        if self.term_names and terms is None:
            raise ValueError('this replay buffer stores reward terms: terms are required')
        slot = self._slot_for_insert()
        self.adds += 1
        if self.term_names:
            self.terms[slot] = torch.as_tensor(terms, dtype=torch.float32)
        if self.critic_dim:
            self.critic_obs[slot] = torch.as_tensor(critic_obs, dtype=torch.float32)
            self.next_critic_obs[slot] = torch.as_tensor(next_critic_obs, dtype=torch.float32)
        self.obs[slot] = torch.as_tensor(obs, dtype=torch.float32)
        self.action[slot] = torch.as_tensor(action, dtype=torch.float32)
        self.reward[slot, 0] = float(reward) / self.reward_scale
        self.next_obs[slot] = torch.as_tensor(next_obs, dtype=torch.float32)
        if self.clean_obs:
            clean = next_obs if next_clean_obs is None else next_clean_obs
            self.next_clean_obs[slot] = torch.as_tensor(clean, dtype=torch.float32)
        self.done[slot, 0] = float(terminated)
        self._terminal[slot] = bool(terminated)
        self._origin[slot] = -1

    def slots(self, positions: torch.Tensor) -> torch.Tensor:
        """Map age positions (0 = oldest) to storage slots."""
        return (positions + self.head) % self.capacity

    def ordered(self, name: str) -> torch.Tensor:
        """Return a stored field in age order, oldest first (a copy)."""
        idx = self.slots(torch.arange(self.size, device=self.device))
        return getattr(self, name)[idx]

    def finish_warmup(self, keep_scale: bool = False) -> float:
        """Scale rewards by r = mean|r| of the warm-up data and tile it to fill the buffer.

        :param keep_scale: keep the current reward scale (a refill after a resume without
            replay: the critic learned with that scale).
        :returns: the reward scale r (1.0 if every warm-up reward was zero).
        """
        if self.size == 0:
            raise ValueError('cannot finish warm-up of an empty replay buffer')
        n = self.size
        order = self.slots(torch.arange(n, device=self.device))
        scale = float(self.reward[order].abs().mean()) * self.reward_scale
        scale = scale if scale > 0.0 and math.isfinite(scale) else 1.0
        if keep_scale:
            scale = self.reward_scale
        tiles = torch.arange(self.capacity, device=self.device) % n
        src = order[tiles]
        for name in self.fields:
            setattr(self, name, getattr(self, name)[src].contiguous())
        self.reward *= self.reward_scale / scale
        self._terminal = self._terminal[src.cpu().numpy()].copy()
        self.reward_scale, self.head, self.size, self._cdf = scale, 0, self.capacity, None
        self._warm = {name: getattr(self, name)[:n].clone() for name in self.fields}
        self._origin = (np.arange(self.capacity) % n).astype(np.int64)
        return scale

    def sample(self, batch_size: int) -> Batch:
        """Sample ``batch_size`` transitions with replacement by fading age weights."""
        if self.size == 0:
            raise ValueError('cannot sample from an empty replay buffer')
        if self._cdf is None:
            cdf = torch.cumsum(fading_weights(self.size), 0)
            self._cdf = cdf.to(device=self.device, dtype=torch.float32)
        u = torch.rand(batch_size, device=self.device)
        pos = torch.searchsorted(self._cdf, u).clamp_(max=self.size - 1)
        return self._batch(self.slots(pos))

    def shaped_batch(self, batch_size: int) -> Batch:
        """Return a batch shaped as :meth:`sample`'s, drawing nothing (slot 0 repeated).

        What compiling the loss needs: its shapes, without a random number or stored data.
        """
        return self._batch(torch.zeros(batch_size, dtype=torch.long, device=self.device))

    def _batch(self, idx: torch.Tensor) -> Batch:
        # index_select, not tensor[idx]: the same rows, gathered ~5x faster on a CPU.
        def rows(field: torch.Tensor) -> torch.Tensor:
            return torch.index_select(field, 0, idx)
        critic = (rows(self.critic_obs), rows(self.next_critic_obs)) if self.critic_dim else ()
        return Batch(rows(self.obs), rows(self.action), rows(self.reward), rows(self.next_obs),
                     rows(self.done), *critic,
                     next_clean_obs=rows(self.next_clean_obs) if self.clean_obs else None)

    def rescore(self, weights: np.ndarray) -> None:
        """Make every stored reward the weighted sum of its step's terms under ``weights``.

        The reward scale stays: the critic's values are in its units. Rows whose terms are
        exact give the reward a run with these weights would have stored, to float32.

        :raises ValueError: a buffer that keeps no terms, or weights of another length.
        """
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        if not self.term_names or len(w) != len(self.term_names):
            raise ValueError(f'rescore: {len(w)} weights for {len(self.term_names)} stored '
                             'reward terms')
        col = torch.as_tensor(w, dtype=torch.float64, device=self.device).reshape(-1, 1)

        def scored(terms: torch.Tensor) -> torch.Tensor:
            return (terms.double() @ col / self.reward_scale).float()
        self.reward = scored(self.terms)
        if 'terms' in self._warm:
            self._warm['reward'] = scored(self._warm['terms'])

    def rewidth(self, names: Sequence[str], before: float, after: float) -> None:
        """Re-score the stored tracking terms ``names`` from kernel width ``before`` to ``after``.

        The rewards stay as they were until :meth:`rescore` sums the terms anew.
        """
        cols = [self.term_names.index(n) for n in names if n in self.term_names]
        for terms in [self.terms] + ([self._warm['terms']] if 'terms' in self._warm else []):
            terms[:, cols] = rewidth(terms[:, cols].double(), before, after).to(terms.dtype)

    def _drop_terms(self) -> None:
        """Keep no reward terms from here on (a saved buffer without them, or with others)."""
        self.fields = tuple(f for f in self.fields if f not in TERMS_FIELDS)
        self.term_names = ()
        self.__dict__.pop('terms', None)

    def state_dict(self) -> Dict[str, object]:
        """Everything needed to restore the buffer exactly, sized by the data it holds.

        The rows of their own (slots below ``size`` not holding a warm-up tile) with their
        slot numbers, and the warm-up rows once: a tile's slot k holds warm-up row k mod n,
        so a buffer tiled at warm-up costs what was collected, not its capacity.
        """
        own = np.flatnonzero(self._origin[:self.size] < 0)
        idx = torch.as_tensor(own, device=self.device)
        tiles_left = len(own) < self.size
        state: Dict[str, object] = {'format': 2, 'capacity': self.capacity,
                                    'head': self.head, 'size': self.size,
                                    'reward_scale': self.reward_scale,
                                    'adds': self.adds, 'recycled': self.recycled,
                                    'own_slots': torch.as_tensor(own),
                                    'warm_rows': len(self._warm.get('obs', ())) * tiles_left,
                                    'term_names': list(self.term_names)}
        for name in self.fields:
            state[name] = getattr(self, name)[idx].cpu()
            if tiles_left:
                state['warm_' + name] = self._warm[name].cpu()
        return state

    def load_state_dict(self, state: Dict[str, object]) -> None:
        """Restore from :meth:`state_dict`, checking shapes against this buffer.

        :raises ValueError: naming the field whose shape does not fit.
        """
        size = int(state['size'])
        if 'own_slots' not in state:  # format 1: every slot stored
            state = dict(state, capacity=self.capacity, own_slots=torch.arange(size),
                         warm_rows=0, **{n: state[n][:size] for n in FIELDS})
        if int(state.get('capacity', -1)) != self.capacity:
            raise ValueError(f'replay capacity {state.get("capacity")} does not match the '
                             f'config ({self.capacity})')
        own = state['own_slots'].numpy().astype(np.int64)
        n_warm = int(state['warm_rows'])
        origin = np.full(self.capacity, -1, dtype=np.int64)
        if n_warm:
            origin[:size] = np.arange(size) % n_warm
        origin[own] = -1
        tiled = np.flatnonzero(origin >= 0)
        if self.term_names and (list(state.get('term_names') or ()) != list(self.term_names)
                                or 'terms' not in state):
            # Saved without these terms: it cannot re-score, and says so when asked to.
            self._drop_terms()
        if self.clean_obs and 'next_clean_obs' not in state:
            # Saved before the anchor looked past the noise: what the actor saw stands in.
            state = dict(state, next_clean_obs=state['next_obs'],
                         **({'warm_next_clean_obs': state['warm_next_obs']} if n_warm else {}))
        missing = [n for n in self.fields if n not in state]
        if missing:
            raise ValueError(f'replay holds no {", ".join(missing)} (a buffer saved by a run '
                             'whose critic saw the actor\'s observation)')
        warm = {n: state['warm_' + n].to(self.device) for n in self.fields if n_warm}
        for name in self.fields:
            dst, rows = getattr(self, name), state[name]
            if tuple(rows.shape) != (len(own),) + tuple(dst.shape[1:]):
                raise ValueError(f'replay field {name!r} has shape {tuple(rows.shape)}, '
                                 f'expected ({len(own)}, {", ".join(map(str, dst.shape[1:]))})')
            dst.zero_()
            if len(tiled):
                src = torch.as_tensor(origin[tiled], device=self.device)
                dst[torch.as_tensor(tiled, device=self.device)] = warm[name][src]
            dst[torch.as_tensor(own, device=self.device)] = rows.to(self.device)
        self._warm, self._origin = warm, origin
        self.head, self.size = int(state['head']), size
        self.reward_scale = float(state['reward_scale'])
        # A file without counts (a run saved before they were kept, or a replay rewound
        # without them) starts them here: the checkpoints written from now on, and the
        # replays, count from the same start, so a branch of a later step rewinds exactly.
        adds, recycled = state.get('adds'), state.get('recycled')
        self.adds, self.recycled = ((0, 0) if adds is None or recycled is None
                                    else (int(adds), int(recycled)))
        self._terminal = self.done[:, 0].cpu().numpy() > 0.5
        self._cdf = None


def age_order(state: Dict[str, object]) -> np.ndarray:
    """Return the positions of a saved buffer's own rows (:meth:`state_dict`), oldest first."""
    own = state['own_slots'].numpy().astype(np.int64)
    return np.argsort((own - int(state['head'])) % int(state['capacity']), kind='stable')


def episode_starts(obs: np.ndarray, next_obs: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Return, for rows in the order they were stored, which begin an episode and its first row.

    A row whose observation is not its predecessor's next observation begins one: a reset
    does, and so does a row after one the buffer evicted or recycled (whose episode's
    earlier rows it no longer has).
    """
    n = len(obs)
    starts = np.ones(n, dtype=bool)
    if n > 1:
        starts[1:] = np.any(obs[1:] != next_obs[:-1], axis=1)
    return starts, np.maximum.accumulate(np.where(starts, np.arange(n), 0))


def observation_rows(state: Dict[str, object]) -> torch.Tensor:
    """Return the distinct observations of a saved buffer (:meth:`FadingReplayBuffer.state_dict`).

    Its own rows then the warm-up rows; a format-1 file (every slot) gives its filled slots.
    """
    obs = state['obs']
    if 'own_slots' not in state:
        return obs[:int(state['size'])]
    warm = state.get('warm_obs')
    return obs if warm is None else torch.cat([obs, warm])


def rewind(state: Dict[str, object], drop: int,
           counts: Optional[Tuple[int, int]] = None) -> Dict[str, object]:
    """Return a saved buffer (:meth:`FadingReplayBuffer.state_dict`) without its newest ``drop``.

    What a buffer held at an earlier step, less what it evicted since: the oldest kept
    becomes slot 0 (a buffer not full fills from its size on), and warm-up tiles among the
    kept become rows of their own. ``counts``: the buffer's (adds, recycled) at that step.
    :raises ValueError: ``drop`` leaves nothing (the buffer turned over since).
    """
    capacity, head, size = int(state['capacity']), int(state['head']), int(state['size'])
    keep = size - drop
    if drop < 0 or keep <= 0:
        raise ValueError(f'the buffer holds {size:,} transitions, {drop:,} newer than the '
                         'step asked for: nothing of that step is left')
    own = state['own_slots'].numpy().astype(np.int64)
    n_warm = int(state['warm_rows'])
    slot_of = (np.arange(keep) + head) % capacity        # new slot i holds old slot_of[i]
    row_of = np.full(capacity, -1, dtype=np.int64)
    row_of[own] = np.arange(len(own))
    rows = row_of[slot_of]
    tiled = rows < 0
    if tiled.any() and not n_warm:
        raise ValueError('the saved buffer has slots that hold neither a row nor a tile')
    out = {k: v for k, v in state.items() if not k.startswith('warm_')}
    fields = [k for k, v in out.items() if isinstance(v, torch.Tensor) and k != 'own_slots']
    for name in fields:
        data = state[name]
        kept = data.new_empty((keep,) + tuple(data.shape[1:]))
        kept[torch.as_tensor(np.flatnonzero(~tiled))] = data[torch.as_tensor(rows[~tiled])]
        if tiled.any():
            tiles = torch.as_tensor(slot_of[tiled] % n_warm)
            kept[torch.as_tensor(np.flatnonzero(tiled))] = state['warm_' + name][tiles]
        out[name] = kept
    out.update(head=0, size=keep, own_slots=torch.arange(keep), warm_rows=0,
               adds=counts[0] if counts else None, recycled=counts[1] if counts else None)
    return out

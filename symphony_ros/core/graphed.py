"""Symphony's update replayed as a CUDA graph: one launch instead of a few hundred.

On a GPU the eager update is bound by Python and kernel launches, not arithmetic (its
matrix products are a small share of its time: README, "Training throughput"). A CUDA
graph records the update's kernels once and replays them with one call, so the launch cost
is paid once per update instead of once per kernel.

Rules a replayed graph imposes, and how they are kept:

- It reads and writes the tensors it was recorded with. The batch is copied into tensors
  kept per graph; the agent updates its baseline ``m`` and the anchor weight in place;
  parameters and optimizer moments are only ever updated in place.
- Its outputs are its own tensors, overwritten by the next replay: read (or copy) the
  returned terms before the next update.
- What decides which kernels run (train_actor, anchor on or off, noise smoothing, the
  batch's fields and shapes, the networks' training modes) picks the graph: a new
  combination is recorded anew after ``WARMUP`` eager updates with it (the first calls
  create cuBLAS handles and autograd's streams, which a capture must not).
- Random draws (the acting noise, gradient dropout) come from the default CUDA generator,
  which graphs advance per replay as eager calls do.

Each warm-up and recording call performs a real update, so the sequence of updates is the
eager one; only the launching differs.
"""

from __future__ import annotations

from typing import Dict, Hashable, List, Optional, TYPE_CHECKING

import torch

from .replay import Batch

if TYPE_CHECKING:  # the agent imports this module
    from .agent import Symphony

WARMUP = 2
"""Eager updates per graph before it is recorded (torch's docs use a few on a side stream)."""


class _Recorded:
    """One recorded update: its graph, the batch tensors it reads, the terms it writes."""

    def __init__(self, graph: torch.cuda.CUDAGraph, batch: List[Optional[torch.Tensor]],
                 terms: Dict[str, torch.Tensor]) -> None:
        self.graph, self.batch, self.terms = graph, batch, terms

    def replay(self, batch: Batch) -> Dict[str, torch.Tensor]:
        for dst, src in zip(self.batch, batch):
            if dst is not None:
                dst.copy_(src, non_blocking=True)
        self.graph.replay()
        return self.terms


class GraphedUpdate:
    """Call as ``agent.update(batch, train_actor)``; records and replays CUDA graphs."""

    def __init__(self, agent: 'Symphony') -> None:
        if agent.device.type != 'cuda':
            raise ValueError(f'CUDA graphs need a CUDA device, the agent is on {agent.device}')
        self.agent = agent
        self._recorded: Dict[Hashable, _Recorded] = {}
        self._eager_calls: Dict[Hashable, int] = {}
        self.recordings = 0
        """Graphs recorded so far (a number that keeps growing means a key keeps changing)."""

    def _key(self, batch: Batch, train_actor: bool) -> Hashable:
        a = self.agent
        # No anchor identity here: set_anchor() drops every graph (see Symphony.set_anchor).
        return (train_actor, a.anchor_active,
                a.noise_smoothing if batch.next_clean_obs is not None else 0.0,
                a.actor.training, a.critic.training,
                tuple(None if t is None else (tuple(t.shape), t.dtype) for t in batch))

    def __call__(self, batch: Batch, train_actor: bool = True) -> Dict[str, torch.Tensor]:
        """One update, replayed from its graph once recorded; eager until then."""
        key = self._key(batch, train_actor)
        recorded = self._recorded.get(key)
        if recorded is not None:
            return recorded.replay(batch)
        calls = self._eager_calls.get(key, 0)
        if calls < WARMUP:
            self._eager_calls[key] = calls + 1
            return self._eager(batch, train_actor)
        recorded = self._record(batch, train_actor)
        self._recorded[key] = recorded
        return recorded.replay(batch)

    def reset(self) -> None:
        """Forget every graph (after tensors the graphs read were replaced)."""
        self._recorded.clear()
        self._eager_calls.clear()

    def _eager(self, batch: Batch, train_actor: bool) -> Dict[str, torch.Tensor]:
        # On a side stream, as torch's docs warm up before a capture.
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            terms = self.agent.eager_update(batch, train_actor)
        torch.cuda.current_stream().wait_stream(side)
        return terms

    def _record(self, batch: Batch, train_actor: bool) -> _Recorded:
        static = [None if t is None else t.clone() for t in batch]
        graph = torch.cuda.CUDAGraph()
        torch.cuda.synchronize()
        # Each graph keeps its own memory pool: graphs replayed in any order must not share
        # one (a gradient one graph writes may be memory another was recorded with).
        try:
            with torch.cuda.graph(graph, capture_error_mode='thread_local'):
                terms = self.agent.eager_update(Batch(*static), train_actor)
        except RuntimeError as exc:
            raise RuntimeError(f'recording the update as a CUDA graph failed ({exc}); '
                               '--cuda-graphs false launches it kernel by kernel') from exc
        self.recordings += 1
        return _Recorded(graph, static, terms)

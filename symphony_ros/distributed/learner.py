"""The learner of a distributed run: a Trainer whose experience comes from Ray collectors.

The learner is the driver process. It owns the agent and the Fading Replay Buffer, asks each
of N :class:`~.workers.Collector` actors for one chunk at a time, stores what they send,
does the updates, and evaluates on an :class:`~.workers.Evaluator` actor. Everything else
(run folder, metrics, TensorBoard, best actor, checkpoints, resume, export) is the
single-process :class:`~symphony_ros.core.trainer.Trainer`'s, which this class extends.

Age in the buffer: transitions are appended in the order their chunks reach the learner,
and in step order within a chunk. "Newest" therefore means "most recently received"; a
chunk is at most one chunk plus one round trip older than its position says, since each
collector has one request in flight.

The update ratio (updates per env step, default G = updates_per_step) is enforced by
waiting, both ways: the learner owes ``ratio`` updates for each transition stored after
warm-up and does them all before it takes the next chunk, so it never runs ahead of the
data; and a collector only steps when asked, one chunk at a time, so collectors run at
most one chunk each ahead of the updates (they wait for the learner, the learner does not
drop their data). The achieved ratio is logged with each evaluation.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import socket
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import ray
from ray.exceptions import RayError, RayTaskError

from ..core.config import TrainConfig
from ..core.preflight import validate
from ..core.run_dir import RANDOMIZATION_LOG
from ..core.trainer import LOSS_TERMS, Trainer
from .chunks import check_chunk, chunk_rows
from .config import CollectorsFailed, DistributedConfig
from .workers import Collector, Evaluator

WAIT_S = 0.5
"""Longest one :meth:`DistributedTrainer.step` waits for a chunk, so stop requests and
pauses are seen within it."""
STALL_S = 60.0
"""s without any chunk after which the learner says once that it is starved."""
BACKOFF_S = 30.0
"""Cap on the wait before a collector that keeps failing is asked again."""
_COLOUR = re.compile(r'\x1b\[[0-9;]*m')
_PROCESS = re.compile(r'\(pid=[^)]*\)|0x[0-9a-f]+|[0-9a-f]{32,}')
CONNECT_S = 5.0
"""s a --ray-address host:port has to accept a TCP connection."""
LOSS_EVERY = 100
"""Updates between two TensorBoard loss points."""


@dataclass
class _Slot:
    """One collector as the learner sees it."""

    index: int
    handle: Any
    request: Any = None
    """ObjectRef of the chunk in flight, or None."""
    rows: int = 0
    """Rows asked for in flight."""
    version: Optional[int] = None
    """Weights version this actor holds (None: unknown, send them)."""
    incarnation: int = 0
    failures: int = 0
    """Consecutive failures (0 after a chunk arrives)."""
    retry_at: float = 0.0
    asked_at: float = 0.0
    steps: int = 0
    busy_s: float = 0.0
    lags: List[int] = field(default_factory=list)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _cause(exc: RayError) -> str:
    """Return the remote traceback (or reason) of a Ray error, without terminal colours."""
    return _COLOUR.sub('', str(exc)).strip()


def _same_fault(cause: str) -> str:
    """Return ``cause`` without what differs between two processes failing the same way."""
    return _PROCESS.sub('', cause)


def _check_reachable(address: str) -> None:
    """Raise ValueError when a host:port address takes no TCP connection.

    ray.init keeps retrying an unreachable GCS for minutes; a typo should fail at once.
    """
    host, _, port = address.rpartition(':')
    if not host or '://' in address or not port.isdigit():
        return   # '', 'auto' or a Ray client URL: ray.init answers those itself
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_S).close()
    except OSError as exc:
        raise ValueError(f'--ray-address {address!r}: no Ray head answers there ({exc})'
                         ) from None


def connect(address: str) -> bool:
    """Join Ray at ``address`` ('auto', host:port) or start a local instance ('').

    :returns: True when this call started Ray (so the caller shuts it down).
    :raises ValueError: naming the address when there is no cluster to join.
    """
    if ray.is_initialized():
        return False
    _check_reachable(address)
    try:
        ray.init(address=address or None, include_dashboard=False, logging_level='warning',
                 configure_logging=True)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f'--ray-address {address!r}: no Ray cluster to join ({first[:200]})'
                         ) from None
    return True


class DistributedTrainer(Trainer):
    """One run whose env steps come from Ray collector actors (see the module docstring).

    :param dist: the collector settings; ``dist.collectors`` must be at least 1.
    :param log: receives one line (or a traceback) per fault: refused chunk, collector
        failure, evaluator failure.
    :param collector_cls: the collector class (tests pass subclasses that fail on purpose).
    :param evaluator_cls: the evaluator class (tests pass subclasses that record).
    """

    keeps_reward_terms = False   # chunks carry each step's summed reward only

    def __init__(self, cfg: TrainConfig, dist: DistributedConfig, resume: bool = False,
                 progress: bool = True, tensorboard: bool = True,
                 log: Callable[[str], None] = _stderr,
                 collector_cls: type = Collector, evaluator_cls: type = Evaluator) -> None:
        dist.check()
        if not dist.enabled:
            raise ValueError('collectors must be at least 1 for a distributed run')
        validate(cfg)
        self._own_ray = connect(dist.ray_address)
        self.slots: List[_Slot] = []
        self._evaluator = None
        try:
            super().__init__(cfg, resume=resume, progress=progress, tensorboard=tensorboard)
            self._setup(dist, log, collector_cls, evaluator_cls)
        except BaseException:
            self.close()
            raise

    def _setup(self, dist: DistributedConfig, log: Callable[[str], None],
               collector_cls: type, evaluator_cls: type) -> None:
        self.dist, self.say = dist, log
        self.ratio = dist.update_ratio or float(self.sym.updates_per_step)
        self.run_id = uuid.uuid4().hex
        self._start_step = self.step_count
        self._debt = 0.0
        # This session's chunks received, stored and refused, collector failures, and
        # transitions stored.
        self.received = self.chunks = self.refused = self.failures = self.stored = 0
        self.learn_steps = 0
        self._tracebacks: set = set()
        self._weights_ref, self._version = None, -1
        self._publish()
        self._cfg_dict = self.cfg.to_dict()
        self._collector = ray.remote(collector_cls).options(num_cpus=1, max_restarts=0)
        # No CPU reserved: it runs a few episodes per eval_every steps beside the collectors.
        self._evaluator_cls = ray.remote(evaluator_cls).options(num_cpus=0, max_restarts=0)
        self.slots = [_Slot(i, self._spawn(i)) for i in range(dist.collectors)]
        self._eval: Optional[tuple] = None
        self._eval_due = False
        self._window = (time.perf_counter(), self.updates, 0)
        self._last_chunk = time.monotonic()
        self._stall_said = False

    # ---- actors ---------------------------------------------------------------------------------
    def _spawn(self, index: int) -> Any:
        return self._collector.remote(self.run_id, index, self._cfg_dict, self.obs_dim,
                                      self.act_dim)

    def _spawn_evaluator(self) -> Any:
        # Started at the first evaluation: warm-up needs none.
        return self._evaluator_cls.remote(self._cfg_dict, self.obs_dim, self.act_dim)

    def _seed(self, slot: _Slot) -> int:
        """Return the seed of a stream per (run seed, collector, incarnation, session start)."""
        seq = np.random.SeedSequence([self.cfg.seed, slot.index, slot.incarnation,
                                      self._start_step])
        return int(seq.generate_state(1)[0])

    def _publish(self) -> None:
        """Put the current actor weights in the object store as version ``updates``."""
        state = {k: v.detach().to('cpu', copy=True)
                 for k, v in self.agent.actor.state_dict().items()}
        self._weights_ref, self._version = ray.put(state), self.updates

    def _in_flight(self) -> int:
        return sum(s.rows for s in self.slots if s.request is not None)

    def _ask(self) -> None:
        """Give each idle collector a request while steps remain to be asked for."""
        budget = self.cfg.steps - self.step_count - self._in_flight()
        now = time.monotonic()
        for s in self.slots:
            if s.request is not None or budget <= 0 or now < s.retry_at:
                continue
            rows = min(self.dist.chunk_steps, budget)
            budget -= rows
            new = s.version != self._version
            s.request = s.handle.collect.remote(
                rows, self.learning, self._seed(s), self._weights_ref if new else None,
                self._version)
            s.rows, s.version, s.asked_at = rows, self._version, now

    def _failed(self, slot: _Slot, exc: RayError) -> None:
        """Log a collector failure (a traceback once), replace the actor, maybe give up."""
        slot.failures += 1
        self.failures += 1
        cause = _cause(exc)
        what = 'raised' if isinstance(exc, RayTaskError) else 'died'
        if _same_fault(cause) not in self._tracebacks:
            self._tracebacks.add(_same_fault(cause))
            self.say(f'collector {slot.index} {what}; replacing it:\n{cause}')
        else:
            last = cause.splitlines()[-1] if cause else what
            self.say(f'collector {slot.index} {what} again ({last[:160]}); replacing it')
        ray.kill(slot.handle, no_restart=True)
        slot.incarnation += 1
        slot.handle, slot.version = self._spawn(slot.index), None
        slot.retry_at = time.monotonic() + min(BACKOFF_S, 0.5 * 2 ** (slot.failures - 1))
        self._give_up_if_all_failing(cause.splitlines()[-1] if cause else what)

    def _give_up_if_all_failing(self, cause: str) -> None:
        """Checkpoint and raise CollectorsFailed once every collector keeps failing.

        Called between chunks (no update owed), so the checkpoint is a consistent one.
        """
        limit = self.dist.max_failures
        if all(s.failures >= limit for s in self.slots):
            self.save()
            raise CollectorsFailed(f'every collector ({len(self.slots)}) failed {limit} '
                                   f'times in a row; last cause: {cause}')

    # ---- the loop -------------------------------------------------------------------------------
    def step(self) -> None:
        """Take the next chunk (waiting up to WAIT_S), store it and do the updates it owes.

        :raises CollectorsFailed: every collector failed ``max_failures`` times in a row
            (a checkpoint is written first).
        """
        t0 = time.perf_counter()
        self._ask()
        rows = self._receive()
        self.wall_s += time.perf_counter() - t0
        if rows and self._bar is not None:
            self._bar.update(rows)
        self._poll_evaluation(wait=False)

    def _receive(self) -> int:
        # Oldest request first, so ray.wait's pick does not favour one collector.
        busy = sorted((s for s in self.slots if s.request is not None),
                      key=lambda s: s.asked_at)
        pending = {s.request: s for s in busy}
        if not pending:
            time.sleep(WAIT_S / 10)   # every collector is backing off
            return 0
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=WAIT_S)
        if not ready:
            self._check_stall()
            return 0
        slot = pending[ready[0]]
        asked, slot.request, slot.rows = slot.rows, None, 0
        try:
            chunk = ray.get(ready[0])
        except RayError as exc:
            self._failed(slot, exc)
            return 0
        self._last_chunk, self._stall_said = time.monotonic(), False
        refused = self.refused
        rows = self.ingest(chunk, asked)
        if self.refused == refused:
            slot.failures = 0
        else:   # a collector that only sends refused chunks is failing too
            slot.failures += 1
            self._give_up_if_all_failing('its chunks are refused (see above)')
        return rows

    def _check_stall(self) -> None:
        if not self._stall_said and time.monotonic() - self._last_chunk > STALL_S:
            self._stall_said = True
            self.say(f'no chunk for {STALL_S:.0f} s: can the cluster place {len(self.slots)} '
                     f'collectors of 1 CPU each? (ray status); cluster CPUs: '
                     f'{ray.cluster_resources().get("CPU", 0):g}')

    def ingest(self, chunk: Any, asked: int) -> int:
        """Store a chunk that passes :func:`check_chunk` and do the updates it owes.

        A refused chunk is logged and counted; nothing of it is stored.
        :returns: the transitions stored.
        """
        self.received += 1
        reason = check_chunk(chunk, self.run_id, self.obs_dim, self.act_dim, asked)
        if reason is not None:
            self.refused += 1
            who = chunk.get('collector', '?') if isinstance(chunk, dict) else '?'
            self.say(f'chunk from collector {who} refused ({self.refused} so far): {reason}')
            return 0
        before = self.step_count
        # Arrays from the object store are read-only views; the buffer wants its own copy.
        obs, action, next_obs = (np.array(chunk[k]) for k in ('obs', 'action', 'next_obs'))
        for i in range(chunk_rows(chunk)):
            self.buffer.add(obs[i], action[i], float(chunk['reward'][i]), next_obs[i],
                            bool(chunk['terminated'][i]))
            self.step_count += 1
            # From warmup_from: a resume without its replay warms up again, at its scale.
            if (not self.learning
                    and self.step_count - self.progress.warmup_from >= self.sym.explore_steps):
                self.buffer.finish_warmup(keep_scale=self._keep_scale)
                self.learning = True
            if self.learning:
                self._debt += self.ratio
                self.learn_steps += 1
        n = self.step_count - before
        self.chunks += 1
        self.stored += n
        self.episodes += int(chunk['episode_end'].sum())
        noise = int(chunk['noise_fall'].sum())
        self.falls += int(chunk['terminated'].sum()) - noise
        self.noise_falls += noise
        if 0 <= chunk['collector'] < len(self.slots):
            slot = self.slots[chunk['collector']]
            slot.steps += n
            slot.busy_s += float(chunk['collect_s'])
            slot.lags.append(self.updates - int(chunk['weights_version']))
        self._log_draws(chunk['randomization'])
        self._pay_debt()
        self._periodic_chunk(before)
        return n

    def _log_draws(self, draws: List[Dict[str, Any]]) -> None:
        """Append a chunk's episode draws to the run's randomisation log, one line each.

        The learner writes for its collectors: the run folder is on its machine only. Each
        line is stamped with the run's step when its chunk arrived (a branch cuts by it).
        """
        if draws:
            path = os.path.join(self.run_dir, RANDOMIZATION_LOG)
            with open(path, 'a', encoding='utf-8') as fh:
                fh.write(''.join(json.dumps({**d, 'step': self.step_count}) + '\n'
                                 for d in draws))

    def _pay_debt(self) -> None:
        terms = None
        while self._debt >= 1.0:
            terms = self.agent.update(self.sample(), self.actor_learns)
            self._debt -= 1.0
            self.updates += 1
            if self.updates - self._version >= self.dist.weights_every:
                self._publish()
            if self.updates % LOSS_EVERY == 0:
                self.mean_s = float(terms['mean_S'])
                for key in LOSS_TERMS:
                    self.log.scalar(f'loss/{key}', float(terms[key].detach()), self.step_count)

    def _periodic_chunk(self, before: int) -> None:
        """Submit an evaluation, write a checkpoint, when a chunk crosses their period."""
        def crossed(every: int) -> bool:
            return before // every < self.step_count // every
        if self.learning and crossed(self.cfg.eval_every):
            self._eval_due = True
        if self._eval_due and self._eval is None and not self.done:
            self._submit_evaluation()
        if crossed(self.cfg.checkpoint_every) and not self.done:
            self.save()   # at the end, run() (or the node's controller) writes the last one

    # ---- evaluation -----------------------------------------------------------------------------
    def _submit_evaluation(self) -> None:
        actor = copy.deepcopy(self.agent.actor).to('cpu').eval()
        if self._evaluator is None:
            self._evaluator = self._spawn_evaluator()
        # Keyed by the step it is taken at, as in one process (the paper protocol's seeds).
        ref = self._evaluator.evaluate.remote(ray.put(actor.state_dict()), self.step_count)
        self._eval, self._eval_due = (ref, actor, self.progress_row()), False

    def _poll_evaluation(self, wait: bool) -> None:
        if self._eval is None:
            return
        ref, actor, at = self._eval
        ready, _ = ray.wait([ref], timeout=None if wait else 0)
        if not ready:
            return
        self._eval = None
        try:
            result = ray.get(ref)
        except RayError as exc:
            self.say(f'evaluation of step {at["step"]} failed; replacing the evaluator:\n'
                     f'{_cause(exc)}')
            ray.kill(self._evaluator, no_restart=True)
            self._evaluator = None
            return
        self.record_evaluation(result, actor, at)

    def evaluate_and_log(self) -> Dict[str, float]:
        """Wait for the evaluation in flight, then evaluate the current actor here (the end)."""
        self._poll_evaluation(wait=True)
        if self.log.rows and self.log.rows[-1]['step'] == self.step_count:
            return dict(self.log.rows[-1])
        return super().evaluate_and_log()

    def progress_row(self) -> Dict[str, float]:
        """Return the trainer's row plus the figures of the collectors.

        Since the previous row: env steps/s of each collector (as received), their own
        stepping rate, the mean weight lag (updates between a chunk's weights and the
        learner's when it arrived), the achieved updates per env step; and the totals of
        refused chunks and collector failures.
        """
        row = super().progress_row()
        t0, updates0, learn0 = self._window
        now = time.perf_counter()
        dt = max(now - t0, 1e-9)
        lags: List[int] = []
        for s in self.slots:
            row[f'collector_{s.index}_steps_per_s'] = s.steps / dt
            lags += s.lags
        busy = sum(s.busy_s for s in self.slots)
        row['collector_busy_steps_per_s'] = (sum(s.steps for s in self.slots) / busy
                                             if busy > 0 else math.nan)
        row['weight_lag'] = float(np.mean(lags)) if lags else math.nan
        learned = self.learn_steps - learn0
        row['updates_per_step'] = (self.updates - updates0) / learned if learned else math.nan
        row['chunks_refused'] = float(self.refused)
        row['collector_failures'] = float(self.failures)
        for s in self.slots:
            s.steps, s.busy_s, s.lags = 0, 0.0, []
        self._window = (now, self.updates, self.learn_steps)
        return row

    def summary(self) -> Dict[str, float]:
        """Return the trainer's headline figures plus chunk and fault counts of this session."""
        out = super().summary()
        out.update(chunks=self.chunks, chunks_refused=self.refused,
                   collector_failures=self.failures, collectors=len(self.slots))
        return out

    def close(self) -> None:
        """Stop the actors, release Ray if this trainer started it, then envs and logs."""
        handles = [s.handle for s in self.slots] + [self._evaluator]
        for handle in handles:
            if handle is not None:
                ray.kill(handle, no_restart=True)
        self.slots, self._evaluator = [], None
        if self._own_ray and ray.is_initialized():
            ray.shutdown()
            self._own_ray = False
        super().close()

"""Drive a :class:`~symphony_ros.core.trainer.Trainer` from a worker thread, with requests.

trainer_node's logic, without ROS: one worker thread steps the trainer, one environment step
at a time under a lock, so a request (pause, checkpoint, export, status) waits at most one
step (tens of ms at full width; an evaluation, when one is running, holds it longer). The
policy is exported to ONNX at each new best test return and once more at the end.

What ``export_policy`` exports: the best actor (``best_actor.pt``, the same file
``symphony export RUN_DIR`` reads) once an evaluation has produced one; before the first
evaluation, the current actor, with no test return in its contract.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import os
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Deque, Dict, Iterator, Optional, Tuple

from ..core.config import TrainConfig
from ..core.snapshot import BEST, ActorSource, load_actor
from ..core.stages import StageWatch, next_stop, reached, under_stages
from ..core.trainer import Trainer
from ..policy.export import export_policy as export_onnx

REQUEST_WAIT = 5.0
"""s the worker yields to pending requests before it steps anyway (a stuck request)."""

Log = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class Exported:
    """One ONNX export: where, which actor, and a one-line description."""

    path: str
    step: int
    """Training step of the exported actor."""
    test_return: Optional[float]
    """Its test return; None for a current actor exported before any evaluation."""
    description: str


class RateMeter:
    """Steps per second over the last ``window`` seconds (0 while nothing advances)."""

    def __init__(self, window: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self.window, self.clock = window, clock
        self._marks: Deque[Tuple[float, int]] = collections.deque()

    def mark(self, count: int) -> None:
        """Record the running total ``count`` now."""
        now = self.clock()
        self._marks.append((now, count))
        while len(self._marks) > 2 and self._marks[1][0] < now - self.window:
            self._marks.popleft()

    def rate(self) -> float:
        """Return the rate over the window, up to now (so a pause decays it to 0)."""
        if not self._marks:
            return 0.0
        now = self.clock()
        t0, c0 = self._marks[0]
        c1 = self._marks[-1][1]
        return (c1 - c0) / (now - t0) if now > t0 else 0.0


class TrainingController:
    """Steps a Trainer from a worker thread; pause, checkpoint and export on request.

    :param trainer: a freshly built (or resumed) trainer; the controller owns it from now on.
    :param policy_path: the ONNX file exports write (atomically, replacing the previous one).
    :param log: receives one line per event (evaluation, export, failure).
    :param on_evaluation: called with each evaluation's metrics row, from the worker thread.
    :param restage: builds the trainer that resumes the run under a stage (`core.stages`),
        given the config in force: at each stage's step the worker checkpoints, closes the
        trainer and goes on with this one. Needed by a run with stages.
    """

    def __init__(self, trainer: Trainer, policy_path: str, log: Log = print,
                 on_evaluation: Optional[Callable[[Dict[str, float]], None]] = None,
                 restage: Optional[Callable[[TrainConfig], Trainer]] = None) -> None:
        if trainer.cfg.stages and restage is None:
            raise ValueError('a run with stages needs a restage function to take them')
        self.trainer = trainer
        self._restage = restage
        self.policy_path = policy_path
        self.log = log
        self._on_evaluation = on_evaluation
        # _lock guards the trainer; _export_lock orders exports, so a slower export of an
        # older best can never land after a newer one.
        self._lock = threading.Lock()
        self._export_lock = threading.Lock()
        # A lock is not fair: the worker would take it straight back after each step and
        # starve a request (seen: 108 s). Requests announce themselves; the worker waits.
        self._requests = 0
        self._requests_cond = threading.Condition()
        self._running = threading.Event()
        self._running.set()
        self._stop = threading.Event()
        self.finished = threading.Event()
        """Set once the configured steps are done and the final export attempted."""
        self.ended = threading.Event()
        """Set when the worker thread ends: finished, stopped or failed (see error)."""
        self.error: Optional[BaseException] = None
        """What ended the worker thread, if it failed."""
        self.last_export: Optional[Exported] = None
        self.final_export: Optional[Exported] = None
        """The export at the end; None until then, or if it failed."""
        self.on_end: Optional[Callable[[], None]] = None
        """Called from the worker thread as it ends (to wake a waiting executor)."""
        self.export_failures = 0
        self._export_due = False
        self._thread: Optional[threading.Thread] = None
        self.meter = RateMeter()
        self.meter.mark(trainer.step_count)
        self._attach(trainer)

    def _attach(self, trainer: Trainer) -> None:
        """Take ``trainer`` on: its evaluations and notes come here; stop at its next stage."""
        trainer.on_evaluation.append(self._evaluated)
        trainer.on_note.append(self.log)
        self._watch = StageWatch(trainer.cfg.stages, trainer.step_count)
        self._stage_at = self._next_stop()

    def _next_stop(self) -> int:
        cfg = self.trainer.cfg
        return next_stop(self._watch.stages, self.trainer.step_count, cfg.steps, cfg.eval_every)

    # ---- requests (any thread) -----------------------------------------------------------
    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Hold the trainer lock for a request, ahead of the worker's next step."""
        with self._requests_cond:
            self._requests += 1
        try:
            with self._lock:
                yield
        finally:
            with self._requests_cond:
                self._requests -= 1
                self._requests_cond.notify_all()

    @property
    def paused(self) -> bool:
        """True while stepping is paused."""
        return not self._running.is_set()

    def pause(self, paused: bool) -> str:
        """Pause (True) or resume (False) stepping; returns a one-line description."""
        if paused:
            self._running.clear()
            # Taking the lock waits for the step in flight: when this returns, none runs.
            with self._exclusive():
                step = self.trainer.step_count
            return f'paused at step {step}'
        self._running.set()
        return f'resumed at step {self.trainer.step_count}'

    def save_checkpoint(self) -> str:
        """Write a checkpoint now (mid-episode is fine); return its path."""
        with self._exclusive():
            return self.trainer.save()

    def export_policy(self) -> Exported:
        """Export the best actor (the current one before any evaluation) to ONNX.

        :raises ExportError, ParityError, CheckpointError: the export failed; nothing written.
        """
        snapshot = None
        best = os.path.join(self.trainer.run_dir, BEST)
        if not os.path.isfile(best):
            with self._exclusive():
                snapshot = self._current_actor()
        with self._export_lock:
            # Read best_actor.pt inside the export lock: exports happen in best order.
            if os.path.isfile(best):
                source, what = load_actor(best), 'best actor'
            else:
                source, what = snapshot, 'current actor (no evaluation yet)'
            result = export_onnx(source, self.policy_path, overwrite=True)
            ret = source.test_return
            ret = float(ret) if ret is not None else None
            shown = f', test return {ret:.2f}' if ret is not None else ''
            done = Exported(result.path, int(source.step), ret,
                            f'{what} of step {source.step}{shown} -> {result.path}')
            self.last_export = done
            return done

    def status(self) -> Dict[str, Any]:
        """Progress figures for diagnostics (read without the lock: a step may be in flight)."""
        t = self.trainer
        if self.finished.is_set():
            phase = 'finished'
        elif self.paused:
            phase = 'paused'
        else:
            phase = 'learning' if t.learning else 'warm-up'
        return {'phase': phase, 'step': t.step_count, 'steps': t.cfg.steps,
                'episodes': t.episodes, 'falls': t.falls, 'updates': t.updates,
                'last_test_return': t.last_return, 'best_test_return': t.best_return,
                'steps_per_s': self.meter.rate(), 'paused': self.paused,
                'policy': self.last_export.path if self.last_export else '',
                'export_failures': self.export_failures}

    # ---- the worker ----------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker thread."""
        self._thread = threading.Thread(target=self._work, name='trainer', daemon=True)
        self._thread.start()

    def stop(self, timeout: Optional[float] = None) -> bool:
        """Ask the worker to stop after its current step and wait; True once it has ended."""
        self._stop.set()
        self._running.set()  # a paused worker must wake up to see the stop
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def step(self) -> bool:
        """Take one step, or finish once done; False when training is over.

        While paused, takes none (and returns True): a step that was waiting for the lock
        when :meth:`pause` ran does not slip through.
        """
        with self._requests_cond:
            self._requests_cond.wait_for(lambda: self._requests == 0, timeout=REQUEST_WAIT)
        with self._lock:
            if self.finished.is_set():
                return False
            if not self._running.is_set():
                return True
            finishing = self.trainer.done
            if finishing:
                self._finish_locked()
            elif self.trainer.step_count >= self._stage_at:
                self._at_stage_locked()
            else:
                self.trainer.step()
            self.meter.mark(self.trainer.step_count)
        # Exports run outside the lock: requests are answered meanwhile.
        if finishing:
            self._export_due = False
            self.final_export = self._export_logged('final')
            self.finished.set()
            return False
        if self._export_due:
            self._export_due = False
            self._export_logged('new best')
        return True

    def _work(self) -> None:
        try:
            while not self._stop.is_set():
                self._running.wait()
                if self._stop.is_set() or not self.step():
                    break
        except BaseException as exc:  # noqa: BLE001 - reported through self.error
            self.error = exc
            self.log(f'training failed: {type(exc).__name__}: {exc}')
        finally:
            self.ended.set()
            if self.on_end is not None:
                self.on_end()

    # ---- internals -------------------------------------------------------------------------
    def _finish_locked(self) -> None:
        t = self.trainer
        # As Trainer.run ends: evaluate the final actor unless that step was just evaluated.
        if not t.log.rows or t.log.rows[-1]['step'] != t.step_count:
            t.evaluate_and_log()
        path = t.save()
        self.log(f'finished {t.step_count} steps; checkpoint {path}')

    def _at_stage_locked(self) -> None:
        """Take the stages due now, or (one waiting for a return) train on to the next look."""
        t = self.trainer
        taken, line = self._watch.look(t.step_count, t.last_return)
        if not taken:
            if line:
                self.log(line)
            self._stage_at = self._next_stop()
            t.step()
            return
        cfg = dataclasses.replace(t.cfg, stages=self._watch.stages)
        said, path = reached(cfg, self._watch.start, t.step_count), t.save()
        t.close()
        self.trainer = self._restage(under_stages(cfg, t.step_count))
        self._attach(self.trainer)
        self.log(f'{said}: checkpoint {path}, resumed under it')

    def _evaluated(self, row: Dict[str, float]) -> None:
        best = self.trainer.best_return
        self.log(f'step {int(row["step"])}: test return {row["test_return_mean"]:.2f} '
                 f'(best {best:.2f})')
        if row.get('new_best'):
            # Exported by the worker once the step has released the lock.
            self._export_due = True
        if self._on_evaluation is not None:
            self._on_evaluation(row)

    def _export_logged(self, why: str) -> Optional[Exported]:
        try:
            done = self.export_policy()
        except Exception as exc:  # noqa: BLE001 - a failed export must not stop training
            self.export_failures += 1
            self.log(f'{why} export failed: {exc}')
            return None
        self.log(f'{why} export: {done.description}')
        return done

    def _current_actor(self) -> ActorSource:
        t = self.trainer
        actor = copy.deepcopy(t.agent.actor).to('cpu').eval()
        return ActorSource(actor, os.path.join(t.run_dir, f'actor_step_{t.step_count}'),
                           t.sym, t.cfg.to_dict(), t.step_count, None, t.cfg.env, t.obs_spec)

    def close(self) -> None:
        """Stop the worker (after its current step) and release the trainer's envs and logs."""
        self.stop()
        self.trainer.close()

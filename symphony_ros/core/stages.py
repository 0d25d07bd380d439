"""A run's stages: curriculum steps at set env steps, taken by the run itself.

A G1 run that walks was made in steps, each a resume with other settings at a chosen step
(models/RESEARCH_LOG.md: stand first, then less exploration noise, then tracking weighed up, then
hindsight commands). Written down as stages, the whole lineage is one command that a resume
continues: ``symphony train`` runs to each stage's ``at`` step, checkpoints, and resumes with
the stage's settings, the way a person resuming by hand would, so each change is recorded in
the run's curriculum and re-scores the replay as a hand-made one does. A stage may set only
what a resume may change (`run_dir.CURRICULUM`, `run_dir.CURRICULUM_OVERRIDES`).

A stage with ``min_return: R`` waits, from its ``at``, for a test return of at least R: it is
taken at the first evaluation from ``at`` on whose return reaches R (the newest at ``at``
counts), and the run records the step it was taken at in the stage (``taken``), since no
schedule gives it. Fixed steps fit one seed's pace; a run that learns to stand 80k steps
later than the run they were fitted to would otherwise take them too early in its own
learning. Stages are taken in order: one after a waiting stage waits too, and is taken at
its own ``at`` or with the stage before it, whichever is later.

The settings in force at a step are the run's own with every stage taken by then applied in
order, so a run stopped anywhere resumes under the right ones, and a stage added to a run
past its step takes effect at the resume.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from ..util.fields import flag_text, flag_type, scalar_fields
from .config import SymphonyConfig, TrainConfig
from .run_dir import CURRICULUM, CURRICULUM_OVERRIDES

STAGE_KEYS = CURRICULUM + CURRICULUM_OVERRIDES
"""What a stage may set: the settings a resume may change."""

GATE = 'min_return'
"""A stage's test-return threshold: it waits from ``at`` for a return that reaches it."""

TAKEN = 'taken'
"""Where a run records the step it took a waiting stage at (not written by hand)."""

Stage = Dict[str, Any]
"""``{'at': step, setting: value, ...}``, values as their flags give them; ``min_return``
and ``taken`` as :data:`GATE` and :data:`TAKEN`."""


def _types() -> Dict[str, Any]:
    train = {n: flag_type(TrainConfig, n, t) for n, t, _ in scalar_fields(TrainConfig)}
    sym = {n: flag_type(SymphonyConfig, n, t) for n, t, _ in scalar_fields(SymphonyConfig)}
    return {k: train[k] if k in CURRICULUM else sym[k] for k in STAGE_KEYS}


def parse_stages(doc: Any, where: str) -> List[Stage]:
    """Return the checked stages of ``doc`` (a list of mappings, or ``{'stages': list}``).

    :raises ValueError: naming ``where``, the stage and the key: not a list of mappings, an
        ``at`` that is not a step after the one before, a key no stage may set, a value its
        flag refuses.
    """
    if isinstance(doc, Mapping) and set(doc) == {'stages'}:
        doc = doc['stages']
    if not isinstance(doc, list) or not doc:
        raise ValueError(f'{where}: expected a list of stages, each a mapping of at: STEP '
                         f'and settings, got {type(doc).__name__}')
    types, out, last = _types(), [], 0
    for i, entry in enumerate(doc, 1):
        label = f'{where}: stage {i}'
        if not isinstance(entry, Mapping):
            raise ValueError(f'{label}: expected a mapping, got {entry!r}')
        at = entry.get('at')
        if isinstance(at, bool) or not isinstance(at, int) or at <= last:
            raise ValueError(f'{label}: at: expected a whole env step after '
                             f'{last:,}, got {at!r}')
        stage: Stage = {'at': at}
        for key, value in entry.items():
            name = str(key).replace('-', '_')
            if name == 'at':
                continue
            if name == GATE:
                stage[GATE] = _threshold(value, label)
                continue
            if name not in types:
                raise ValueError(f'{label}: {key!r} cannot change during a run; a stage may '
                                 f'set {", ".join(STAGE_KEYS)} (and wait for {GATE})')
            try:
                stage[name] = types[name](flag_text(value))
            except (argparse.ArgumentTypeError, ValueError, TypeError) as exc:
                raise ValueError(f'{label}: {key}: {exc}') from None
        if not set(stage) - {'at', GATE}:
            raise ValueError(f'{label}: sets nothing; a stage may set '
                             f'{", ".join(STAGE_KEYS)}')
        out.append(stage)
        last = at
    return out


def _threshold(value: Any, label: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value):
        raise ValueError(f'{label}: {GATE}: expected a test return (a finite number), '
                         f'got {value!r}')
    return float(value)


def load_stages(path: str) -> List[Stage]:
    """Return the checked stages of YAML file ``path``.

    :raises ValueError: naming the file: unreadable, not YAML, or stages `parse_stages` refuses.
    """
    from ..util.strict_yaml import load_yaml_file
    return parse_stages(load_yaml_file(path, path), path)


def schedule(stages: Sequence[Stage]) -> List[Optional[int]]:
    """Return the step each stage is (or was) taken at; None while it waits for a return.

    A stage taken after waiting has its ``taken`` step; one that does not wait is taken at its
    ``at``, or with the stage before it when that one was taken later; a stage after a
    waiting one waits too.
    """
    out: List[Optional[int]] = []
    before: Optional[int] = 0
    for stage in stages:
        if before is None or (GATE in stage and TAKEN not in stage):
            step = None
        else:
            step = int(stage[TAKEN]) if TAKEN in stage else max(stage['at'], before)
        out.append(step)
        before = step
    return out


def passed(stages: Sequence[Stage], step: int) -> List[Stage]:
    """Return the stages taken at ``step`` or before, in order."""
    return [s for s, at in zip(stages, schedule(stages)) if at is not None and at <= step]


def next_stop(stages: Sequence[Stage], step: int, steps: int, eval_every: int) -> int:
    """Return the env step the run trains to next, or ``steps``.

    The next stage's step; for a stage waiting for a return, its ``at``, and from there each
    evaluation's step (every ``eval_every``) until one reaches its ``min_return``.
    """
    for stage, at in zip(stages, schedule(stages)):
        if at is None:
            stop = stage['at'] if step < stage['at'] else (step // eval_every + 1) * eval_every
            return min(stop, steps)
        if at > step:
            return min(at, steps)
    return steps


def take(stages: Sequence[Stage], step: int, test_return: float) -> List[Stage]:
    """Return ``stages`` with each waiting stage that ``test_return`` at ``step`` lets go taken.

    Waiting stages go in order: each whose ``at`` has come and whose ``min_return`` the
    return reaches is recorded as taken at ``step``; the first that is not stops the rest.
    """
    out = [dict(s) for s in stages]
    for index, stage in enumerate(out):
        if schedule(out)[index] is not None:   # a stage before taken now may settle it
            continue
        if stage['at'] > step or not test_return >= stage[GATE]:
            break
        stage[TAKEN] = step
    return out


def waiting(stages: Sequence[Stage], step: int) -> Optional[int]:
    """Return the number (1-based) of the stage waiting at ``step`` for its return, if any."""
    for index, (stage, at) in enumerate(zip(stages, schedule(stages)), 1):
        if at is None:
            return index if stage['at'] <= step else None
    return None


def waiting_text(stages: Sequence[Stage], index: int, test_return: float) -> str:
    """Say that stage ``index`` waits, and the newest test return it has been shown."""
    newest = f'newest test return {test_return:,.1f}' if math.isfinite(test_return) else \
        'no test yet'
    return (f'{stage_text(stages[index - 1], index, len(stages))}: waiting ({newest}); '
            'looked at after each test')


@dataclasses.dataclass
class StageWatch:
    """A trainer's stages from step ``start``, looked at each time it reaches `next_stop`.

    One rule for symphony train and trainer_node: waiting stages that the test return lets
    go are taken (:func:`take`); a stage taken since ``start`` means a checkpoint and a
    resume under it; a stage still waiting is said once.
    """

    stages: List[Stage]
    start: int
    said: Set[int] = dataclasses.field(default_factory=set)

    def look(self, step: int, test_return: float) -> Tuple[bool, str]:
        """Return (whether a stage was taken after ``start``, by ``step``; a line to say).

        The line says that a stage waits for its return, the first time it is seen to;
        '' otherwise.
        """
        self.stages = take(self.stages, step, test_return)
        if taken_between(self.stages, self.start, step):
            return True, ''
        index = waiting(self.stages, step)
        if index is None or index in self.said:
            return False, ''
        self.said.add(index)
        return False, waiting_text(self.stages, index, test_return)


def taken_between(stages: Sequence[Stage], before: int, step: int) -> List[int]:
    """Return the (1-based) numbers of the stages taken after step ``before``, by ``step``.

    A range, not one step: a distributed learner's step moves a chunk at a time, past a
    stage's own step.
    """
    return [i for i, at in enumerate(schedule(stages), 1)
            if at is not None and before < at <= step]


def carry_records(given: Sequence[Stage], stored: Sequence[Stage]) -> List[Stage]:
    """Return ``given`` with the ``taken`` steps of the run's ``stored`` stages it repeats.

    A resume that gives the run's stages again (the recipe it was started with) keeps the
    steps its waiting stages were taken at; a stage that differs starts afresh.
    """
    out = [dict(s) for s in given]
    for new, old in zip(out, stored):
        if new != {k: v for k, v in old.items() if k != TAKEN}:
            break
        if TAKEN in old:
            new[TAKEN] = old[TAKEN]
    return out


def in_force(cfg: TrainConfig, stages: Sequence[Stage], keep: Sequence[str] = ()
             ) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Return the (train settings, algorithm overrides) ``stages`` set, applied in order.

    Only those that differ from ``cfg``'s are returned: the change a resume then records.
    :param keep: settings given on the command line, which the stages do not override.
    """
    merged: Dict[str, Any] = {}
    for stage in stages:
        merged.update({k: v for k, v in settings(stage).items() if k not in keep})
    sym = cfg.symphony()
    train = {k: v for k, v in merged.items()
             if k in CURRICULUM and getattr(cfg, k) != v}
    overrides = {k: v for k, v in merged.items()
                 if k in CURRICULUM_OVERRIDES and getattr(sym, k) != v}
    return train, overrides


def under(cfg: TrainConfig, stages: Sequence[Stage], keep: Sequence[str] = ()) -> TrainConfig:
    """Return ``cfg`` with the settings of ``stages`` applied in order (``keep`` as in_force)."""
    train, overrides = in_force(cfg, stages, keep)
    return with_settings(cfg, train, overrides) if train or overrides else cfg


def under_stages(cfg: TrainConfig, step: int, keep: Sequence[str] = ()) -> TrainConfig:
    """Return ``cfg`` under every stage of its own that env step ``step`` has passed.

    What a run resumed at ``step`` trains under; ``keep``: settings given explicitly, which
    the stages do not override.
    """
    return under(cfg, passed(cfg.stages, step), keep)


def resuming(cfg: TrainConfig, keep: Sequence[str] = ()) -> TrainConfig:
    """Return ``cfg`` under the stages its run has passed at its newest checkpoint.

    What a resume of the run trains under; ``keep`` as :func:`under_stages`.
    """
    if not cfg.stages:
        return cfg
    from .checkpoint import checkpoint_step, latest_checkpoint
    return under_stages(cfg, checkpoint_step(latest_checkpoint(cfg.run_dir) or '') or 0, keep)


def reached(cfg: TrainConfig, before: int, step: int) -> str:
    """Say the stages of ``cfg`` taken after ``before``, by ``step`` (`stage_text`)."""
    total = len(cfg.stages)
    return '; '.join(stage_text(cfg.stages[i - 1], i, total)
                     for i in taken_between(cfg.stages, before, step))


def settings(stage: Stage) -> Stage:
    """Return what ``stage`` sets: the stage without its step, threshold and record."""
    return {k: v for k, v in stage.items() if k not in ('at', GATE, TAKEN)}


def stage_text(stage: Stage, index: int, total: int) -> str:
    """Say one stage: 'stage 2 of 4 at step 440,000: act_noise_clip 10'.

    A waiting stage: '... at step 440,000 once a test return reaches 2,000' until taken,
    then '... at step 440,000, taken at 470,000 (test return 2,000 reached)'.
    """
    said = ', '.join(f'{k} {v}' for k, v in settings(stage).items())
    when = f'at step {stage["at"]:,}'
    if TAKEN in stage:
        when += f', taken at {stage[TAKEN]:,} (test return {stage[GATE]:,g} reached)'
    elif GATE in stage:
        when += f' once a test return reaches {stage[GATE]:,g}'
    return f'stage {index} of {total} {when}: {said}'


def with_settings(cfg: TrainConfig, train: Mapping[str, Any],
                  overrides: Mapping[str, Any]) -> TrainConfig:
    """Return ``cfg`` with ``train`` settings and algorithm ``overrides`` set."""
    kw: Dict[str, Any] = dict(train)
    if overrides:
        kw['overrides'] = dict(cfg.overrides, **overrides)
    return dataclasses.replace(cfg, **kw)


__all__ = ['GATE', 'STAGE_KEYS', 'Stage', 'StageWatch', 'TAKEN', 'carry_records', 'in_force',
           'load_stages', 'next_stop', 'parse_stages', 'passed', 'reached', 'resuming',
           'schedule', 'settings', 'stage_text', 'take', 'taken_between', 'under_stages',
           'waiting', 'waiting_text', 'with_settings']

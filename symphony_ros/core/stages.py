"""A run's stages: curriculum steps at set env steps, taken by the run itself.

A G1 run that walks was made in steps, each a resume with other settings at a chosen step
(models/README.md: stand first, then less exploration noise, then tracking weighed up, then
hindsight commands). Written down as stages, the whole lineage is one command that a resume
continues: ``symphony train`` runs to each stage's ``at`` step, checkpoints, and resumes with
the stage's settings, the way a person resuming by hand would, so each change is recorded in
the run's curriculum and re-scores the replay as a hand-made one does. A stage may set only
what a resume may change (`run_dir.CURRICULUM`, `run_dir.CURRICULUM_OVERRIDES`).

The settings in force at a step are the run's own with every stage whose ``at`` has passed
applied in order, so a run stopped anywhere resumes under the right ones, and a stage added
to a run past its step takes effect at the resume.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Dict, List, Mapping, Sequence, Tuple

from ..util.fields import flag_text, flag_type, scalar_fields
from .config import SymphonyConfig, TrainConfig
from .run_dir import CURRICULUM, CURRICULUM_OVERRIDES

STAGE_KEYS = CURRICULUM + CURRICULUM_OVERRIDES
"""What a stage may set: the settings a resume may change."""

Stage = Dict[str, Any]
"""``{'at': step, setting: value, ...}``, values as their flags give them."""


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
            if name not in types:
                raise ValueError(f'{label}: {key!r} cannot change during a run; a stage may '
                                 f'set {", ".join(STAGE_KEYS)}')
            try:
                stage[name] = types[name](flag_text(value))
            except (argparse.ArgumentTypeError, ValueError, TypeError) as exc:
                raise ValueError(f'{label}: {key}: {exc}') from None
        if len(stage) == 1:
            raise ValueError(f'{label}: sets nothing; a stage may set '
                             f'{", ".join(STAGE_KEYS)}')
        out.append(stage)
        last = at
    return out


def load_stages(path: str) -> List[Stage]:
    """Return the checked stages of YAML file ``path``.

    :raises ValueError: naming the file: unreadable, not YAML, or stages `parse_stages` refuses.
    """
    from ..util.strict_yaml import load_yaml_file
    return parse_stages(load_yaml_file(path, path), path)


def passed(stages: Sequence[Stage], step: int) -> List[Stage]:
    """Return the stages whose ``at`` is ``step`` or before, in order."""
    return [s for s in stages if s['at'] <= step]


def next_stop(stages: Sequence[Stage], step: int, steps: int) -> int:
    """Return the env step the run trains to next: the first stage after ``step``, or ``steps``."""
    return min([s['at'] for s in stages if s['at'] > step] + [steps])


def in_force(cfg: TrainConfig, stages: Sequence[Stage], keep: Sequence[str] = ()
             ) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Return the (train settings, algorithm overrides) ``stages`` set, applied in order.

    Only those that differ from ``cfg``'s are returned: the change a resume then records.
    :param keep: settings given on the command line, which the stages do not override.
    """
    merged: Dict[str, Any] = {}
    for stage in stages:
        merged.update({k: v for k, v in stage.items() if k != 'at' and k not in keep})
    sym = cfg.symphony()
    train = {k: v for k, v in merged.items()
             if k in CURRICULUM and getattr(cfg, k) != v}
    overrides = {k: v for k, v in merged.items()
                 if k in CURRICULUM_OVERRIDES and getattr(sym, k) != v}
    return train, overrides


def under_stages(cfg: TrainConfig, step: int, keep: Sequence[str] = ()) -> TrainConfig:
    """Return ``cfg`` under every stage of its own that env step ``step`` has passed.

    What a run resumed at ``step`` trains under; ``keep``: settings given explicitly, which
    the stages do not override.
    """
    train, overrides = in_force(cfg, passed(cfg.stages, step), keep)
    return with_settings(cfg, train, overrides) if train or overrides else cfg


def resuming(cfg: TrainConfig, keep: Sequence[str] = ()) -> TrainConfig:
    """Return ``cfg`` under the stages its run has passed at its newest checkpoint.

    What a resume of the run trains under; ``keep`` as :func:`under_stages`.
    """
    if not cfg.stages:
        return cfg
    from .checkpoint import checkpoint_step, latest_checkpoint
    return under_stages(cfg, checkpoint_step(latest_checkpoint(cfg.run_dir) or '') or 0, keep)


def reached(cfg: TrainConfig, step: int) -> str:
    """Say the stage of ``cfg`` whose step ``step`` is (`stage_text`); '' if none is."""
    for index, stage in enumerate(cfg.stages, 1):
        if stage['at'] == step:
            return stage_text(stage, index, len(cfg.stages))
    return ''


def stage_text(stage: Stage, index: int, total: int) -> str:
    """Say one stage: 'stage 2 of 4 at step 440,000: act_noise_clip 10'."""
    settings = ', '.join(f'{k} {v}' for k, v in stage.items() if k != 'at')
    return f'stage {index} of {total} at step {stage["at"]:,}: {settings}'


def with_settings(cfg: TrainConfig, train: Mapping[str, Any],
                  overrides: Mapping[str, Any]) -> TrainConfig:
    """Return ``cfg`` with ``train`` settings and algorithm ``overrides`` set."""
    kw: Dict[str, Any] = dict(train)
    if overrides:
        kw['overrides'] = dict(cfg.overrides, **overrides)
    return dataclasses.replace(cfg, **kw)


__all__ = ['STAGE_KEYS', 'Stage', 'in_force', 'load_stages', 'next_stop', 'parse_stages',
           'passed', 'reached', 'resuming', 'stage_text', 'under_stages', 'with_settings']

"""The run folder: its ``config.json``, and the checks made before a run may use the folder.

A run folder holds one run: its identity (``config.json``: the TrainConfig and resolved
Symphony config), checkpoints, ``best_actor.pt``, metrics and logs. Everything here reads or
refuses; the only write is :func:`write_run_config`, made once every check has passed, so a
refused run leaves the folder as it was.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Dict, List, Mapping

from ..robot.ranges import spec_changes
from ..util.atomic import atomic_write
from ..util.fields import flag
from .checkpoint import latest_checkpoint
from .config import SymphonyConfig, TrainConfig
from .envs import canonical_env_id, randomization, run_env_options
from .snapshot import BEST

CONFIG_FILE = 'config.json'
RANDOMIZATION_LOG = 'randomization.jsonl'
"""One JSON line per training episode of a randomised run: that episode's draws."""
RESUMABLE = ('steps', 'device', 'cuda_graphs', 'compile', 'exact_resume', 'threads',
             'keep_actors', 'keep_checkpoints', 'refill_steps', 'stages')
"""TrainConfig fields a resume may change. The others are the run's identity, except
``run_dir``: where a run folder lives (relative path, moved, copied) is not part of it."""

RANDOMIZATION = ('randomize', 'randomize_scale', 'randomize_ramp')
"""The TrainConfig fields of the training randomisation (a change restarts its ramp)."""


def changes_randomization(entry: Mapping[str, Any]) -> bool:
    """Return whether a curriculum entry (or a stage) sets the randomisation: its ramp restarts."""
    return any(k in entry for k in RANDOMIZATION)


CURRICULUM = RANDOMIZATION + ('reward_weights', 'commands', 'relabel_commands',
                              'tracking_sigma', 'gait_free_error', 'stand_gait', 'assist',
                              'anchor_floor', 'anchor_free_error')
"""TrainConfig fields a resume may change as a curriculum step: the training randomisation,
the reward weights and tracking width of a run whose replay can re-score its steps, the
commands drawn and how many of them are relabelled, the error past which the gait terms
pay nothing and what they ask of a robot told to stand, the hand that pulls the robot toward
its command, the weight the anchor to a fine-tune's starting actor keeps and the steps it
lets go.
Each change is recorded in the run's ``curriculum`` with the step it took effect, since the
run's policy was shaped by every setting it trained under, not only the last."""
CURRICULUM_OVERRIDES = ('lr', 'noise_clip', 'act_noise_clip', 'target_noise_clip',
                        'act_noise_color')
"""Algorithm settings a resume may change as a curriculum step, recorded the same way: a
smaller step size as the randomisation widens keeps a trained actor from being unlearned,
and less exploration noise, or noise of another colour, lets a balancing actor try to walk."""
BEST_RESETS = ('reward_weights', 'commands', 'tracking_sigma', 'gait_free_error',
               'stand_gait')
"""Curriculum changes after which the best test return starts over (and best_actor.pt with
it): the test returns before them summed other reward terms or followed other commands."""
SCHEDULE_FIELDS = RESUMABLE + CURRICULUM + ('curriculum', 'init_source', 'run_dir')
"""TrainConfig fields that are not part of a run's identity (a resume does not compare)."""

Identity = Dict[str, Dict[str, object]]
"""What ``config.json`` holds: ``train_config`` and ``symphony_config`` as plain dicts."""


class RunDirError(ValueError):
    """A run folder that cannot be used as asked (another run, nothing to resume...)."""


def identity(cfg: TrainConfig, sym: SymphonyConfig) -> Identity:
    """Return the run identity of ``cfg`` and its resolved ``sym`` (``config.json``'s content)."""
    return {'train_config': cfg.to_dict(), 'symphony_config': sym.to_dict()}


def read_run_config(run_dir: str) -> Identity:
    """Read the ``config.json`` of a run folder.

    :raises RunDirError: naming the file, when it is missing, unreadable or malformed.
    """
    path = os.path.join(run_dir, CONFIG_FILE)
    if not os.path.isfile(path):
        raise RunDirError(f'--resume: {run_dir} holds no run ({CONFIG_FILE} missing)')
    try:
        with open(path) as f:
            stored = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunDirError(f'{path}: not a readable run config ({exc})') from None
    if not (isinstance(stored, dict) and isinstance(stored.get('train_config'), dict)
            and isinstance(stored.get('symphony_config'), dict)):
        raise RunDirError(f'{path}: expected train_config and symphony_config objects')
    return stored


def write_run_config(run_dir: str, ident: Identity) -> None:
    """Write ``config.json`` (atomically), making the folder if needed."""
    os.makedirs(run_dir, exist_ok=True)
    path = os.path.join(run_dir, CONFIG_FILE)
    atomic_write(path, lambda f: f.write(json.dumps(ident, indent=2).encode()))


def resume_config(run_dir: str, given: Dict[str, object],
                  given_overrides: Dict[str, object]) -> TrainConfig:
    """Return the TrainConfig to resume the run in ``run_dir``: its config.json plus ``given``.

    A setting given must agree with the stored one, except :data:`RESUMABLE` (more steps,
    another device), :data:`CURRICULUM` and :data:`CURRICULUM_OVERRIDES` (the trainer
    records the change) and ``run_dir`` (a run folder may be moved or named another way).

    :param given: TrainConfig fields set explicitly (flags), by name.
    :param given_overrides: algorithm settings set explicitly, compared with the run's
        resolved Symphony config (``--lr`` equal to the named config's value agrees).
    :raises RunDirError: naming the flag, the stored value and the given one.
    """
    stored = read_run_config(run_dir)
    path = os.path.join(run_dir, CONFIG_FILE)
    train, sym = dict(stored['train_config']), stored['symphony_config']
    pairs = [(k, v, train.get(k)) for k, v in given.items() if k not in SCHEDULE_FIELDS]
    pairs += [(k, v, sym.get(k)) for k, v in given_overrides.items()
              if k not in CURRICULUM_OVERRIDES]
    for name, mine, theirs in pairs:
        if name == 'env':  # a run of Humanoid-v4 resumes as symphony/Humanoid-v4
            mine, theirs = canonical_env_id(str(mine)), canonical_env_id(str(theirs))
        if mine != theirs:
            raise RunDirError(f'--resume: {flag(name)} {mine} disagrees with the run: {path} '
                              f'has {name} {theirs}; leave {flag(name)} out to keep it')
    if 'stages' in given:   # the run's stages given again keep the steps they were taken at
        from .stages import carry_records
        given = dict(given, stages=carry_records(given['stages'], train.get('stages') or []))
    train.update({k: v for k, v in given.items() if k in RESUMABLE + CURRICULUM},
                 run_dir=run_dir)
    train['overrides'] = dict(train.get('overrides') or {}, **{
        k: v for k, v in given_overrides.items() if k in CURRICULUM_OVERRIDES})
    try:
        return TrainConfig(**train)
    except (TypeError, ValueError) as exc:
        raise RunDirError(f'{path}: train_config: {exc}') from None


def scale_in_force(cfg: TrainConfig, step: int) -> float:
    """Return the randomisation scale run ``cfg`` trains under at env step ``step``."""
    return cfg.randomize_scale * randomize_width(cfg, step) if cfg.randomize != 'none' else 0.


def randomize_width(cfg: TrainConfig, step: int) -> float:
    """Return the fraction of ``cfg.randomize_scale`` in force at env step ``step``.

    Without a ramp, the whole scale. With one, a linear widening over ``randomize_ramp``
    steps from the scale in force before: at a new run's start, none, or that of its
    ``--init-from`` source when it trained under the same ranges; after a resume that
    changed the randomisation, the scale then in force (when the same ranges only widen, or
    another file gives every range the same width: ``same_widths``), from that step. So
    neither a curriculum step nor a fine-tune jumps back to the nominal robot its actor has
    outgrown.
    """
    start, base = 0, source_width(cfg.init_source, cfg.randomize, cfg.randomize_scale)
    changes = [e for e in cfg.curriculum if changes_randomization(e)]
    if changes:   # a change of lr or reward weights alone leaves the ramp as it was
        last = changes[-1]
        start = int(last['step'])
        same = ('randomize' not in last or last.get('same_widths')) and cfg.randomize_scale > 0
        base = min(1.0, float(last['scale_before']) / cfg.randomize_scale) if same else 0.0
    if not cfg.randomize_ramp:
        return 1.0
    return base + (1.0 - base) * min(1.0, max(0, step - start) / cfg.randomize_ramp)


def best_starts_at(curriculum: List[Dict[str, Any]]) -> int:
    """Return the env step from which a run's best test return counts (0: from its start).

    The step of its last :data:`BEST_RESETS` change: best_actor.pt is the best actor since.
    """
    return max((int(e['step']) for e in curriculum or [] if any(k in e for k in BEST_RESETS)),
               default=0)


def source_width(init_source: Dict[str, object], randomize: str, scale: float) -> float:
    """Return the share of a run's scale its --init-from source trained under at its end.

    0 when the source trained under other ranges (another file or name) or none: then the
    run's own widening starts from the nominal robot.
    """
    if (init_source or {}).get('randomize') != randomize or scale <= 0:
        return 0.0
    return min(1.0, float(init_source.get('scale_in_force') or 0.0) / scale)


def stored_width(train: Mapping[str, Any], step: int) -> float:
    """Return the fraction of a stored run config's scale its ramp had reached at ``step``.

    1 without a ramp or a randomisation: the whole scale was in force.
    """
    scale = float(train.get('randomize_scale', 1.0))
    if not train.get('randomize_ramp') or train.get('randomize', 'none') == 'none' or scale <= 0:
        return 1.0
    return min(1.0, stored_scale_in_force(train, step) / scale)


def stored_scale_in_force(train: Dict[str, object], step: int) -> float:
    """Return the randomisation scale a stored run config trained under at env step ``step``.

    0 for a config this version cannot read (an older run's fields): widening from none is
    the cautious reading.
    """
    try:
        cfg = TrainConfig(**train)
    except (TypeError, ValueError):
        return 0.0
    return scale_in_force(cfg, step)


def _differs(name: str, before: TrainConfig, cfg: TrainConfig) -> bool:
    """Return whether setting ``name`` changed (weights and commands as the env takes them)."""
    if name in ('reward_weights', 'commands'):   # the same in another order or spelling
        return run_env_options(dataclasses.replace(cfg, **{name: getattr(before, name)})
                               ) != run_env_options(cfg)
    return getattr(before, name) != getattr(cfg, name)


def extend_curriculum(stored: Identity, cfg: TrainConfig, step: int) -> TrainConfig:
    """Return ``cfg`` whose ``curriculum`` is the stored run's plus this resume's change.

    :param stored: the run's stored identity (config.json).
    :param step: the env step the resume continues from.
    :raises RunDirError: a change of randomisation in a run that evaluates under it
        (--eval-randomized): its test returns, and so best_actor.pt, would compare episodes
        of different robots. (A change of reward weights restarts the comparison instead:
        the trainer forgets the best test return.)
    """
    train = stored['train_config']
    before = TrainConfig(**{k: train[k] for k in CURRICULUM + ('curriculum',) if k in train})
    past = list(train.get('curriculum') or [])
    changed = {k: [getattr(before, k), getattr(cfg, k)] for k in CURRICULUM
               if _differs(k, before, cfg)}
    robots = [k for k in changed if k in RANDOMIZATION]
    if robots and cfg.eval_randomized:
        names = ', '.join(flag(k) for k in robots)
        raise RunDirError(f'--resume: {names}: this run tests under its randomisation '
                          '(eval_randomized), so its test returns would compare different '
                          'robots; start a new run with --init-from instead')
    sym = cfg.symphony()
    # A setting added since the run started was at its default then.
    default = SymphonyConfig()
    was = {k: stored['symphony_config'].get(k, getattr(default, k)) for k in CURRICULUM_OVERRIDES}
    changed.update({k: [was[k], getattr(sym, k)] for k in CURRICULUM_OVERRIDES
                    if was[k] != getattr(sym, k)})
    if not changed:
        return dataclasses.replace(cfg, curriculum=past)
    entry = dict(step=step, scale_before=round(scale_in_force(before, step), 6), **changed)
    if set(changed) & set(RANDOMIZATION) == {'randomize'} and _same_widths(cfg.env,
                                                                           *changed['randomize']):
        entry['same_widths'] = True
    return dataclasses.replace(cfg, curriculum=past + [entry])


HOW_DRAWN = ('robot_wide', 'hard_share', 'hard_depth', 'hard_depth_start', 'hard_tests')
"""Ranges-file keys that change how episodes draw, not how wide a range is."""


def _same_widths(env: str, old: str, new: str) -> bool:
    """Return whether ranges files ``old`` and ``new`` give every knob and noise one width.

    They may differ in how draws are taken (``robot_wide``, the hard corner): the ramp then
    goes on, since nothing it widens has changed. A file that no longer loads counts as
    different.
    """
    try:
        a, b = (randomization(env, which) for which in (old, new))
    except ValueError:
        return False
    if a is None or b is None:
        return False
    return all(change.split(' ', 1)[0] in HOW_DRAWN
               for change in spec_changes(a.to_dict(), b.to_dict()))


def _writable_folder(path: str) -> None:
    """Check that ``path`` is a folder or can be made one; write nothing."""
    if not path.strip():
        raise RunDirError("--run-dir '': expected a folder path")
    if os.path.exists(path) and not os.path.isdir(path):
        raise RunDirError(f'--run-dir {path}: exists and is not a folder')
    probe = os.path.abspath(path)
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise RunDirError(f'--run-dir {path}: {probe} is a file, not a folder')
    if not os.access(probe, os.W_OK | os.X_OK):
        raise RunDirError(f'--run-dir {path}: cannot write in {probe} (permission denied)')


def _identity_diff(theirs: Identity, mine: Identity) -> list:
    """Return (field, stored, given) for each identity field that differs.

    :data:`SCHEDULE_FIELDS` are not compared; a TrainConfig field added since the run was
    written counts as its default; ``env`` is compared by canonical id.
    """
    ignore = SCHEDULE_FIELDS
    stored = dict(TrainConfig().to_dict(), **theirs['train_config'])
    a = {k: v for k, v in stored.items() if k not in ignore}
    b = {k: v for k, v in mine['train_config'].items() if k not in ignore}
    for d in (a, b):  # a run of Humanoid-v4 resumes as symphony/Humanoid-v4
        d['env'] = canonical_env_id(str(d.get('env', '')))
        d['overrides'] = {k: v for k, v in (d.get('overrides') or {}).items()
                          if k not in CURRICULUM_OVERRIDES}
    diff = [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    diff += [(k, theirs['symphony_config'].get(k), v)
             for k, v in mine['symphony_config'].items()
             if theirs['symphony_config'].get(k) != v and k not in CURRICULUM_OVERRIDES]
    return diff


def check_run_dir(run_dir: str, mine: Identity, resume: bool) -> None:
    """Refuse a run folder that cannot be used as asked; write nothing.

    A fresh run needs a folder without a started run; a resume needs this run's
    ``config.json`` (same identity, see :func:`_identity_diff`) and a checkpoint.

    :param mine: the identity of the run about to use the folder (:func:`identity`).
    :raises RunDirError: naming the folder or file and what is wrong with it.
    """
    _writable_folder(run_dir)
    path = os.path.join(run_dir, CONFIG_FILE)
    best = os.path.join(run_dir, BEST)
    started = latest_checkpoint(run_dir) or (best if os.path.exists(best) else None)
    if not resume:
        # A config.json alone (a run refused or killed before its first checkpoint)
        # holds nothing to lose: the folder may be used again.
        if started:
            raise RunDirError(f'{run_dir} already holds a run ({started}); pass '
                              '--resume to continue it or choose another --run-dir')
        return
    diff = _identity_diff(read_run_config(run_dir), mine)
    if diff:
        raise RunDirError(f'{path} was written by another run configuration (differs in: '
                          + ', '.join(f'{k} stored {x!r}, given {y!r}' for k, x, y in diff)
                          + ')')
    if latest_checkpoint(run_dir) is None:
        raise RunDirError(f'--resume: {run_dir} has no checkpoint yet; start it '
                          'afresh without --resume')


__all__ = ['CONFIG_FILE', 'CURRICULUM', 'CURRICULUM_OVERRIDES', 'RANDOMIZATION_LOG',
           'RESUMABLE', 'SCHEDULE_FIELDS', 'Identity', 'RunDirError', 'check_run_dir',
           'extend_curriculum', 'identity', 'randomize_width', 'read_run_config',
           'resume_config', 'scale_in_force', 'source_width', 'stored_scale_in_force',
           'write_run_config']

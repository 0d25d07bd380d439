"""``symphony train``: flags are the fields of TrainConfig and SymphonyConfig."""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import math
import os
import shlex
import signal
import sys
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from ..core.checkpoint import CheckpointError
from ..core.config import OVERRIDABLE, SymphonyConfig, TrainConfig
from ..core.run_dir import CURRICULUM, CURRICULUM_OVERRIDES, RESUMABLE
from ..core.stages import (STAGE_KEYS, Stage, StageWatch, load_stages, next_stop, reached,
                           resuming)
from ..util.fields import field_docs, field_range, flag, flag_type, scalar_fields
from ..distributed.config import CollectorsFailed, DistributedConfig
from .errors import CliError
from .recipe import CHOICES, apply_recipe
from .signals import handling


def add_field_flag(p: Any, cls: type, name: str, typ: type, default: Any = None,
                   **kw: Any) -> None:
    """Add the flag of dataclass field ``name``: its docstring as help, its range checked.

    Every flag made from a config field goes through here, so one added later is checked
    against the field's declared range at parse time like the others.
    """
    rng = field_range(cls, name)
    extra = [f'default: {default}'] if default is not None else []
    extra += [f'range: {rng.text()}'] if rng is not None else []
    help_text = field_docs(cls).get(name, '') + (f' ({"; ".join(extra)})' if extra else '')
    if typ is bool:
        kw.setdefault('metavar', '{true,false}')
    p.add_argument(flag(name), type=flag_type(cls, name, typ), default=None, help=help_text,
                   **kw)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add one flag per TrainConfig field plus algorithm overrides."""
    for name, typ, default in scalar_fields(TrainConfig):
        kw = {'choices': list(CHOICES[name])} if name in CHOICES else {}
        add_field_flag(p, TrainConfig, name, typ, default, **kw)
    group = p.add_argument_group('algorithm overrides (default: the named config)')
    types = {n: t for n, t, _ in scalar_fields(SymphonyConfig)}
    for name in OVERRIDABLE:
        add_field_flag(group, SymphonyConfig, name, types[name])
    p.add_argument('--robot', default=None,
                   help='robot to train, by shipped name (g1) or robot-file path; with --task, '
                        'sets --env to <task>:<robot>')
    p.add_argument('--task', default=None, help='task for --robot (velocity; the default)')
    p.add_argument('--recipe', default=None, metavar='FILE',
                   help='YAML file of train flags (without dashes) and values, or a shipped '
                        'recipe by name (g1_velocity: config/recipes/); flags given win')
    group = p.add_argument_group('distributed training on Ray (default: one process, no Ray)')
    for name, typ, default in scalar_fields(DistributedConfig):
        add_field_flag(group, DistributedConfig, name, typ, default)
    p.add_argument('--resume', action='store_true',
                   help='continue the run in --run-dir from its last checkpoint; its '
                   'config.json gives every setting not given (a flag given must agree, '
                   f'except {", ".join(map(flag, RESUMABLE))} and the curriculum settings '
                   f'{", ".join(map(flag, CURRICULUM + CURRICULUM_OVERRIDES))}, whose change '
                   'is recorded)')
    p.add_argument('--stages', type=_stages_file, default=None, metavar='FILE',
                   help=field_docs(TrainConfig)['stages'] + ' FILE: a YAML list of mappings, '
                   'each at: STEP and settings among ' + ', '.join(STAGE_KEYS) + '; none: '
                   'no stages')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')


def _stages_file(path: str) -> List[Dict[str, Any]]:
    if path == 'none':   # a resume or a branch that drops the run's stages
        return []
    try:
        return load_stages(path)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def given_settings(args: argparse.Namespace) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Return the TrainConfig fields and algorithm overrides set explicitly on the command line."""
    values = {n: getattr(args, n) for n, _, _ in scalar_fields(TrainConfig)
              if getattr(args, n, None) is not None}
    robot, task = getattr(args, 'robot', None), getattr(args, 'task', None)
    if robot is not None or task is not None:
        if robot is None:
            raise CliError('--task needs --robot (a shipped robot name or a robot file)')
        if 'env' in values:
            raise CliError('--env and --robot/--task both name the environment; give one')
        from ..robot.envs import task_env_id
        values['env'] = task_env_id(task or 'velocity', robot)
    if getattr(args, 'stages', None) is not None:
        values['stages'] = args.stages
    overrides = {n: getattr(args, n) for n in OVERRIDABLE if getattr(args, n) is not None}
    return values, overrides


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Build a TrainConfig: explicit flags over dataclass defaults.

    With ``--resume`` the run's config.json is the base; a flag given must agree with it
    (see :func:`core.run_dir.resume_config`).
    """
    values, overrides = given_settings(args)
    if args.resume:
        from ..core.run_dir import resume_config
        run_dir = values.get('run_dir', TrainConfig.run_dir)
        return resume_config(run_dir, values, overrides)
    return TrainConfig(**values, overrides=overrides)


def distributed_from_args(args: argparse.Namespace) -> DistributedConfig:
    """Build the DistributedConfig of the Ray flags (a flag not given keeps its default)."""
    return DistributedConfig(**{n: getattr(args, n) for n, _, _ in
                                scalar_fields(DistributedConfig)
                                if getattr(args, n, None) is not None})


def _say(line: str) -> None:
    # tqdm.write keeps a running progress bar intact; stdout is left to the JSON summary.
    from tqdm import tqdm
    tqdm.write(line, file=sys.stderr)


def _clock(seconds: float) -> str:
    minutes, s = divmod(int(seconds), 60)
    return f'{minutes // 60}:{minutes % 60:02d}:{s:02d}'


def evaluation_line(row: Dict[str, float], before: Optional[Dict[str, float]] = None) -> str:
    """One line per evaluation, for logs of runs without a progress bar.

    ``before``: the previous evaluation's row, to say the training steps per fall since it:
    under randomisation nearly every episode ends in a fall, and how long the robot stays up
    between falls is what tells a policy learning to ride the ranges out.
    """
    best = '  new best' if row.get('new_best') else ''
    return (f'step {int(row["step"]):,}  test return {row["test_return_mean"]:.1f} '
            f'\u00b1 {row["test_return_std"]:.1f}{best}  episodes {int(row["episodes"]):,} '
            f'(falls {int(row["falls"]):,}{_since(row, before)})  '
            f'{row["steps_per_s"]:.1f} steps/s  wall {_clock(row["wall_s"])}')


def _since(row: Dict[str, float], before: Optional[Dict[str, float]]) -> str:
    if before is None:
        return ''
    steps, falls = row['step'] - before['step'], row['falls'] - before['falls']
    return (f'; {steps / falls:,.0f} steps per fall since the last test' if falls > 0
            else '; none since the last test')


def evaluation_lines() -> Callable[[Dict[str, float]], str]:
    """Return a function saying each evaluation row of one run, each against the one before."""
    last: List[Dict[str, float]] = []

    def line(row: Dict[str, float]) -> str:
        text = evaluation_line(row, last[-1] if last else None)
        last[:] = [dict(row)]
        return text
    return line


def _json_number(value: Any) -> Any:
    """Round a float for the closing line; one not measured yet is null.

    A change of reward weights resets the best test return to -inf until the next test, and
    JSON has no infinities.
    """
    if not isinstance(value, float):
        return value
    return round(value, 3) if math.isfinite(value) else None


@contextmanager
def _stop_on_first_signal(trainer: Any, caught: List[int]) -> Iterator[None]:
    """First SIGINT/SIGTERM: finish the step and checkpoint. Second: abort at once."""
    def handler(signum: int, frame: Any) -> None:
        caught.append(signum)
        if len(caught) > 1:
            raise KeyboardInterrupt
        trainer.request_stop()
        # os.write, not print: the interrupted main thread may be inside a write to
        # stderr (the progress bar), and a buffered stream refuses a reentrant call.
        os.write(sys.stderr.fileno(), (
            f'\nsymphony train: {signal.Signals(signum).name}: writing a checkpoint at the '
            'step reached (again to abort; the last checkpoint stays intact)\n').encode())
    with handling(handler):
        yield


def run(args: argparse.Namespace) -> int:
    """Train, stage by stage (--stages); every input problem becomes a CliError (exit 2).

    :returns: 0 when the steps are done, 128 + signal after a stop request (checkpointed),
        1 when training went numerically wrong (the last good checkpoint kept).
    """
    explicit = {k for k, v in vars(args).items() if v is not None}
    taken, overridden = apply_recipe(args)
    if args.recipe:
        _say(f'symphony train: note: recipe {args.recipe}: {taken} settings taken'
             + (f', {overridden} given on the command line instead' if overridden else ''))
    try:
        cfg = config_from_args(args)
    except (ValueError, CheckpointError) as exc:
        raise CliError(str(exc)) from None
    resume = args.resume
    while True:
        cfg = resuming(cfg, keep=explicit) if resume else cfg
        code, (before, step), stages = _segment(cfg, args, resume)
        if code is not None:
            return code
        cfg = dataclasses.replace(cfg, stages=stages)   # with the steps waiting ones were taken
        # The next segment loads a second replay buffer; any cycle still holding the last
        # one's (hundreds of MB to GB) must go first, not at the next full collection.
        gc.collect()
        _say(f'symphony train: {reached(cfg, before, step)}: resuming with it')
        resume, explicit = True, set()


def _segment(cfg: TrainConfig, args: argparse.Namespace, resume: bool
             ) -> Tuple[Optional[int], Tuple[int, int], List[Stage]]:
    """Train to the run's end or its next stage.

    :returns: (exit code, or None when a stage was taken at the step reached, checkpointed
        and to be resumed under the stages returned; (the step it started at, the step
        reached); the stages, with the steps waiting ones were taken at). A stage waiting
        for a test return is looked at after each evaluation from its step on; the same
        trainer goes on while it waits.
    """
    from ..core.trainer import NonFiniteError
    from ..distributed.entry import make_trainer
    if cfg.compile:
        _say('symphony train: --compile: compiling the loss before the first step (20-70 s on '
             'a CPU; a few s once inductor has it cached)')
    try:
        trainer = make_trainer(cfg, distributed_from_args(args), resume=resume,
                               progress=not args.no_progress, log=_say)
    except (ValueError, CheckpointError) as exc:
        raise CliError(str(exc)) from None
    for note in trainer.notes:
        _say(f'symphony train: note: {note}')
    if resume:
        best = trainer.best_return
        _say(f'symphony train: resumed {cfg.run_dir} at step {trainer.step_count:,} (best test '
             f'return so far {best:.1f})' if math.isfinite(best) else
             f'symphony train: resumed {cfg.run_dir} at step {trainer.step_count:,}')
    _say(f'symphony train: where it stands, from another shell: symphony inspect '
         f'{shlex.quote(cfg.run_dir)}')
    say_evaluation = evaluation_lines()
    trainer.on_evaluation.append(lambda row: _say(say_evaluation(row)))
    trainer.on_checkpoint.append(lambda saved: _say(saved.line()))
    trainer.on_note.append(lambda line: _say(f'symphony train: {line}'))
    caught: List[int] = []
    watch = StageWatch(cfg.stages, trainer.step_count)
    try:
        with _stop_on_first_signal(trainer, caught):
            while True:
                stop = next_stop(watch.stages, trainer.step_count, cfg.steps, cfg.eval_every)
                summary = trainer.run(max_steps=stop - trainer.step_count)
                step = trainer.step_count
                if caught or step < stop or step >= cfg.steps:
                    break
                taken, line = watch.look(step, trainer.last_return)
                if taken:
                    trainer.save()
                    return None, (watch.start, step), watch.stages
                if line:
                    _say(f'symphony train: {line}')
    except NonFiniteError as exc:
        _say(f'symphony train: error: {exc}')
        return 1, (watch.start, trainer.step_count), watch.stages
    except CollectorsFailed as exc:
        _say(f'symphony train: stopped at step {trainer.step_count:,}: {exc}; checkpoint '
             f'written in {cfg.run_dir} (--resume once the collectors are fixed)')
        return 1, (watch.start, trainer.step_count), watch.stages
    except Exception:
        # The second signal's KeyboardInterrupt, raised inside torch.save's write, comes out
        # as torch's RuntimeError: an abort asked for, not a failure to show as a traceback.
        if len(caught) > 1:
            raise KeyboardInterrupt from None
        raise
    finally:
        trainer.close()
    print(json.dumps({k: _json_number(v) for k, v in summary.items()}, allow_nan=False))
    if caught:
        _say(f'symphony train: stopped at step {trainer.step_count:,}, checkpoint written in '
             f'{cfg.run_dir}; continue with the same command plus --resume')
        return 128 + caught[0], (watch.start, trainer.step_count), watch.stages
    return 0, (watch.start, trainer.step_count), watch.stages

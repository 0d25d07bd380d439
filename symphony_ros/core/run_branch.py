"""Branching a training run: a new run folder that resumes from one of another run's checkpoints.

A change of reward, ranges or commands is tried from a step a run has passed, and the run
itself goes on untouched. The branch holds what ``--resume`` reads: ``config.json`` as the
run was configured at that step (from the checkpoint, so later curriculum steps are not
carried), the checkpoint, its replay, ``metrics.csv`` to that step and the actors kept to
it. Only the newest checkpoint keeps a replay; for an older one the newest replay is
rewound: the transitions stored since are dropped, which leaves the buffer as it was at
that step less what was evicted since (not when the rewards were re-scored or the buffer
refilled since: then a resume refills it, ``--refill-steps``). Counted exactly from the
counts checkpoints record; for runs saved before they did, one transition a step, and the
terminal transitions the ring recycled since (about one position in a hundred on the G1)
stay. ``randomization.jsonl`` comes to the last episode that ended before the step (its lines
are stamped with it), so ``symphony inspect --falls`` on the branch reads the run's history
as it was; a log whose lines carry no step stays with the source, as TensorBoard's do. Files are
hard-linked where the file system allows (a run replaces its files, never rewrites them),
and the folder appears whole or not at all.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import shutil
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from ..robot.command_terms import CommandLayout
from ..robot.critic_dynamics import DIM as DYNAMICS_DIM
from ..robot.obs_specs import SPEC_FACTORIES, scale_mismatch
from ..robot.randomize import episode_step
from ..robot.tracking import window_steps
from ..util.atomic import atomic_write
from .checkpoint import (CheckpointError, atomic_torch_save, checkpoint_step, ckpt_path,
                         list_checkpoints, load_checkpoint, replay_path, safe_torch_load)
from .critic_grow import grow_agent, grow_replay, grown_terms
from .envs import make_env, obs_scales, obs_terms
from .obs_extend import (FROM_CRITIC, Extension, added_terms, extend_agent, extend_replay,
                         source_columns)
from .obs_history import history_agent, history_replay
from .obs_rescale import frame_factors, input_factors, rescale_agent, rescale_replay
from .replay import rewind
from .run_dir import CONFIG_FILE, RANDOMIZATION_LOG, RunDirError, read_run_config
from .snapshot import ACTORS, BEST, kept_actors

METRICS = 'metrics.csv'
BRANCH_FILE = 'branch.json'
"""Where a branch says what it came from (``symphony inspect`` shows it)."""
RESCORED = ('reward_weights', 'tracking_sigma')
"""Curriculum steps after which a resume re-scored the replay in place."""


@dataclass(frozen=True)
class Branch:
    """What :func:`branch_run` made."""

    source: str
    target: str
    step: int
    """The step of the checkpoint the branch resumes from."""
    actors: int
    """Kept actors carried over (those at or before ``step``)."""
    best: bool
    """Whether best_actor.pt came along (not when the source's is from after ``step``)."""
    replay: str
    """How its replay came: the checkpoint's own, rewound from a newer one (saying how),
    or '' (none: a resume refills the buffer, :attr:`why_not` says why)."""
    why_not: str = ''
    """Why no replay came along."""
    draws: Optional[int] = None
    """Episode lines of ``randomization.jsonl`` carried (None: the source's carry no step,
    or it has no log)."""
    obs_spec: Optional[str] = None
    """The spec the branch was moved onto (None: the run's own)."""
    critic_grown: Tuple[str, ...] = ()
    """The terms its critic was given (its env's view grew since the run was saved)."""
    history: Optional[int] = None
    """The frames its actor was moved onto reading (None: the run's one)."""
    critic_dynamics: bool = False
    """Whether its critic was given the episodes' dynamics (``--critic-dynamics``)."""


def pick_checkpoint(run_dir: str, at: Optional[int], every: Optional[int] = None) -> str:
    """Return the checkpoint of ``run_dir`` nearest step ``at`` (None: the newest).

    Checkpoints wait for an episode's end, so one taken for step S sits a few hundred steps
    past it; the nearest is taken, and one further than ``every`` (the run's checkpoint
    interval; None: read from its config.json) is refused.
    :raises RunDirError: no checkpoint, or none near ``at`` (naming the nearest kept).
    """
    found = list_checkpoints(run_dir)
    if not found:
        raise RunDirError(f'{run_dir}: no checkpoint (checkpoints/ckpt_<step>.pt)')
    if at is None:
        return found[-1]
    if every is None:
        every = int(read_run_config(run_dir)['train_config'].get('checkpoint_every') or 0)
    steps = [checkpoint_step(p) for p in found]
    nearest = min(range(len(found)), key=lambda i: abs(steps[i] - at))
    if abs(steps[nearest] - at) > every:
        before = [s for s in steps if s <= at][-1:]
        after = [s for s in steps if s > at][:1]
        kept = ' and '.join(f'{s:,}' for s in before + after)
        raise RunDirError(f'{run_dir}: no checkpoint near step {at:,} (the nearest kept: '
                          f'{kept}); a run keeps its newest two unless trained with '
                          '--keep-checkpoints true')
    return found[nearest]


def branch_run(source: str, target: str, at: Optional[int] = None,
               seed: Optional[int] = None, obs_spec: Optional[str] = None,
               history: Optional[int] = None, slim: bool = False,
               critic_dynamics: bool = False, odometry: Optional[str] = None) -> Branch:
    """Make run folder ``target`` resume from ``source``'s checkpoint nearest step ``at``.

    ``seed``: the branch's own (None: the run's, so that the same change from the same step
    trains alike); another one draws minibatches, noise and episodes anew from that step,
    which tells a change's effect from the run's own swings. ``obs_spec``: a spec with the
    run's terms scaled otherwise, onto which networks, optimizer and replay are moved
    computing what they computed (`symphony_ros.core.obs_rescale`). A privileged critic
    saved before its env's view grew is given the new terms (`symphony_ros.core.critic_grow`).
    ``history``: the frames a single-frame run's actor is moved onto reading, stacked
    (`symphony_ros.core.obs_history`). ``slim``: the checkpoint, config and metrics alone,
    no replay, kept actors or randomisation log: the few MB a run needs to go on on another
    machine (a G1 run's replay is hundreds of MB), where a resume refills the buffer.
    ``critic_dynamics``: the privileged critic is given the episodes' dynamics at weight 0
    (`symphony_ros.robot.critic_dynamics`); no stored step holds them, so no replay comes
    and a resume refills the buffer. ``odometry``: the branch's observation reads its
    odometry from there (`TrainConfig.odometry`; the replay keeps the simulator's). An
    ``obs_spec`` that appends terms to a run reading stacked frames brings no replay either.

    :raises RunDirError: ``target`` exists, ``source`` is no run, no checkpoint is near,
        ``obs_spec`` lays out other terms than the run's spec, the critic's view grew by
        a term that cannot be computed from stored steps, or ``history`` is asked of a run
        that stacks frames already (or together with ``obs_spec``).
    """
    if os.path.exists(target):
        raise RunDirError(f'{target}: exists; a branch is a new run folder')
    stored = read_run_config(source)
    if history is not None:
        _check_history(stored['train_config'], history, obs_spec)
    if critic_dynamics:
        _check_dynamics(stored['train_config'])
    path = pick_checkpoint(source, at)
    step = checkpoint_step(path)
    respec = _respec(stored['train_config'], obs_spec) if obs_spec else None
    try:
        state = load_checkpoint(ckpt_path(source, step))
    except CheckpointError as exc:
        raise RunDirError(str(exc)) from None
    grow = _grow(state, respec, path)
    changes = _changes(state, respec, grow, path, history, critic_dynamics)
    stacked = bool(respec and respec.added
                   and int(state['train_config'].get('history') or 1) > 1)
    if odometry:
        _check_odometry(state['train_config'], respec, odometry)
        changes = (_compose([c for c in (changes[0],) if c] + [
            lambda s: dict(s, train_config=dict(s['train_config'], odometry=odometry))]),
            changes[1])
    partial = os.path.join(os.path.dirname(os.path.abspath(target)),
                           f'.{os.path.basename(os.path.normpath(target))}.partial')
    shutil.rmtree(partial, ignore_errors=True)      # a branch cut short before
    try:
        _fill(source, partial, target, state, seed, respec, changes[0], history,
              critic_dynamics, odometry)
        if slim:
            replay, why_not = '', 'a slim branch (--slim) carries none'
            actors, best, draws = 0, False, None
        else:
            replay, why_not = _replay_or_why(source, partial, state, stored, changes[1],
                                             critic_dynamics, stacked)
            actors = _link_actors(source, partial, step)
            best = _link_best(source, partial, step)
            draws = _carry_draws(source, partial, step)
        record = {'source': os.path.abspath(source), 'step': step, 'replay': replay,
                  'seed': int(state['train_config'].get('seed', 0)) if seed is None else seed,
                  **_record_changes(respec, grow, history, critic_dynamics, slim),
                  **({'odometry': odometry} if odometry else {})}
        atomic_write(os.path.join(partial, BRANCH_FILE),
                     lambda f: f.write(json.dumps(record, indent=2).encode()))
        os.rename(partial, target)
    except FileNotFoundError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise RunDirError(f'{source}: {exc.filename} went while it was branched (the run, '
                          'still training, pruned it); branch again') from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return Branch(source, target, step, actors, best, replay, why_not, draws,
                  respec.after if respec else None,
                  tuple(name for name, _ in grow.terms) if grow else (), history,
                  critic_dynamics)


def _replay_or_why(source: str, partial: str, state: dict, stored: dict, change: Change,
                   dynamics: bool, stacked: bool) -> Tuple[str, str]:
    """Give the branch its replay, or say why none comes (as `_replay`)."""
    if dynamics:
        return '', 'no stored step holds the dynamics its critic now sees'
    if stacked:
        return '', 'no stored step holds the new terms of its older frames'
    return _replay(source, partial, state, stored, change)


def _check_odometry(train: dict, respec: Optional['Respec'], odometry: str) -> None:
    """Refuse an odometry source the branch's observation cannot take, before any write.

    :raises RunDirError: naming the source and the spec.
    """
    spec = respec.after if respec else train.get('obs_spec')
    try:
        make_env(train['env'], obs_spec=spec or None, odometry=odometry).close()
    except (ValueError, TypeError) as exc:
        raise RunDirError(f'--odometry {odometry}: {exc}') from None


def _record_changes(respec: Optional['Respec'], grow: Optional['Grow'], history: Optional[int],
                    critic_dynamics: bool, slim: bool) -> Dict[str, object]:
    """Return branch.json's entries for what the branch changed (none: {})."""
    out: Dict[str, object] = {}
    if respec:
        out['obs_spec'] = {'from': respec.before, 'to': respec.after}
    if grow:
        out['critic_grown'] = [name for name, _ in grow.terms]
    if history:
        out['history'] = history
    if critic_dynamics:
        out['critic_dynamics'] = True
    if slim:
        out['slim'] = True
    return out


def _check_dynamics(train: dict) -> None:
    """Refuse a dynamics branch of a run without a privileged critic, or whose critic has them.

    :raises RunDirError: naming what is wrong.
    """
    if not train.get('privileged_critic'):
        raise RunDirError('--critic-dynamics: the run trains without a privileged critic '
                          '(--privileged-critic true), which the dynamics would go to')
    if train.get('critic_dynamics'):
        raise RunDirError('--critic-dynamics: the run\'s critic sees the dynamics already')


def _check_history(train: dict, frames: int, obs_spec: Optional[str]) -> None:
    """Refuse a history branch of a run that stacks already, or with another move.

    :raises RunDirError: naming what is wrong.
    """
    if frames < 2:
        raise RunDirError(f'--history {frames}: expected 2 frames or more')
    if int(train.get('history') or 1) > 1:
        raise RunDirError(f'--history {frames}: the run reads {train["history"]} frames '
                          'already; a branch stacks the frames of a single-frame run')
    if obs_spec and obs_spec != train.get('obs_spec'):
        raise RunDirError(f'--history with --obs-spec: one move a branch (branch onto '
                          f'{obs_spec}, then branch that with --history)')


Change = Optional[Callable[[dict], dict]]


def _changes(state: dict, respec: Optional['Respec'], grow: Optional['Grow'], path: str,
             history: Optional[int] = None, dynamics: bool = False) -> Tuple[Change, Change]:
    """Return what the branch does to the checkpoint and to a saved replay (None: nothing)."""
    ckpt, replay = [], []
    if respec:
        actor_f, critic_f = _input_factors(state, respec)
        ckpt.append(lambda s: _rescale_checkpoint(s, respec, path))
        replay.append(lambda r: rescale_replay(r, actor_f, critic_f))
    if respec and respec.added:
        ext = _extension(state, respec, path)
        ckpt.append(lambda s: _extend_checkpoint(s, ext))
        replay.append(lambda r: extend_replay(r, ext))
    if grow:
        ckpt.append(grow.checkpoint)
        replay.append(grow.replay)
    if history:
        ckpt.append(lambda s: _history_checkpoint(s, history))
        replay.append(lambda r: history_replay(r, history))
    if dynamics:
        ckpt.append(_dynamics_checkpoint)
    return _compose(ckpt), _compose(replay)


def _compose(steps: list) -> Change:
    """Return the steps applied in turn (None: no step)."""
    if not steps:
        return None

    def run(x: dict) -> dict:
        for step in steps:
            x = step(x)
        return x
    return run


@dataclass(frozen=True)
class Respec:
    """A branch's move onto another observation spec.

    The run's terms scaled otherwise, then the terms it appends (`core.obs_extend`).
    """

    before: str
    after: str
    scales_before: dict
    """The run's spec's factors (JSON form); its checkpoint must have trained on them."""
    scales_after: dict
    frame: np.ndarray
    """Factor (after / before) of each element of one observation frame (the run's terms)."""
    added: Tuple[Tuple[str, int], ...] = ()
    """Terms the new spec appends to the run's."""


def _respec(train: dict, spec: str) -> Optional[Respec]:
    """Return the move of a run configured as ``train`` onto ``spec`` (None: its own spec).

    :raises RunDirError: a spec the env does not know, or one with other terms than the
        run's (or the run's and some `FROM_CRITIC` terms after them).
    """
    env, now = train['env'], train.get('obs_spec')
    if spec == now:
        return None
    terms = obs_terms(env, now) if now else None
    if terms is None:
        raise RunDirError(f'--obs-spec {spec}: the run ({env}) observes no robot spec to '
                          'rescale')
    after = obs_terms(env, spec)
    added: Tuple[Tuple[str, int], ...] = ()
    if after != terms:
        try:
            added = added_terms(terms, after or ())
        except ValueError as exc:
            alike = [n for n in SPEC_FACTORIES if n != now and obs_terms(env, n) == terms]
            raise RunDirError(
                f'--obs-spec {spec}: not the terms of the run\'s {now!r} on {env} ({exc}); '
                'a branch scales the run\'s terms otherwise or appends terms its critic saw: '
                f'expected one of {", ".join(alike) or "none"} or a spec that appends '
                f'{", ".join(FROM_CRITIC)}') from None
        if not train.get('privileged_critic'):
            raise RunDirError(f'--obs-spec {spec}: it adds {", ".join(n for n, _ in added)}, '
                              'which a branch takes from the privileged critic\'s view; this '
                              'run has none (--privileged-critic false)')
    before, scales = obs_scales(env, now), obs_scales(env, spec)
    return Respec(now, spec, before, scales, frame_factors(terms, before, scales), added)


def _extension(state: dict, respec: Respec, path: str) -> Extension:
    """Return where the branch's new terms go and come from, read off the new spec's env.

    :raises RunDirError: the checkpoint's sizes are not the run's spec's.
    """
    env = make_env(state['train_config']['env'], obs_spec=respec.after)
    try:
        u = env.unwrapped
        frames = int(state['train_config'].get('history') or 1)
        obs_dim = int(state['obs_dim']) // frames
        n = sum(size for _, size in respec.added)
        if obs_dim + n != u.builder.dim or int(state['obs_dim']) % frames:
            raise RunDirError(f'{path}: an actor of {int(state["obs_dim"])} inputs is not one '
                              f'of {frames} frame(s) of {respec.before!r} ({u.builder.dim - n})')
        hidden = tuple(u.critic_terms[len(u.builder.spec.terms):])
        scale = u.builder.spec.scale_vector()
        factor = np.ones(u.builder.dim) if scale is None else scale
        mirror = u.mirror_maps()[0]
        return Extension(obs_dim, respec.added,
                         source_columns(respec.added, hidden, obs_dim),
                         tuple(float(f) for f in factor[obs_dim:]),
                         (np.asarray(mirror.index), np.asarray(mirror.sign)), frames)
    except ValueError as exc:
        raise RunDirError(f'{path}: {exc}') from None
    finally:
        env.close()


def _fill(source: str, partial: str, target: str, state: dict, seed: Optional[int],
          respec: Optional['Respec'], change: Change, history: Optional[int] = None,
          dynamics: bool = False, odometry: Optional[str] = None) -> None:
    """Write the branch's config, metrics and checkpoint (``change``: made to it first)."""
    step = int(state['step'])
    os.makedirs(os.path.join(partial, 'checkpoints'))
    train = dict(state['train_config'], run_dir=target)
    if seed is not None:
        train['seed'] = seed
    if respec:
        train['obs_spec'] = respec.after
    if history:
        train['history'] = history
    if dynamics:
        train['critic_dynamics'] = True
    if odometry:
        train['odometry'] = odometry
    config = {'train_config': train,
              'symphony_config': state['symphony_config']}
    atomic_write(os.path.join(partial, CONFIG_FILE),
                 lambda f: f.write(json.dumps(config, indent=2).encode()))
    if change:
        atomic_torch_save(change(state), ckpt_path(partial, step))
    else:
        _link(ckpt_path(source, step), ckpt_path(partial, step))
    metrics = os.path.join(source, METRICS)
    if os.path.isfile(metrics):
        with open(metrics, newline='') as f:
            text = _rows_to(f.read(), step)
        atomic_write(os.path.join(partial, METRICS), lambda f: f.write(text.encode()))


@dataclass(frozen=True)
class Grow:
    """A branch's critic given the terms its env's view gained since the run was saved."""

    at: int
    """Where the new terms begin in the critic's view (the checkpoint's critic_dim)."""
    terms: Tuple[Tuple[str, int], ...]
    layout: CommandLayout
    """The env's command layout at the run's tracking width."""
    steps: int
    """The stride window (control steps of a gait cycle)."""
    term_names: Tuple[str, ...]
    """The env's reward terms now."""

    def checkpoint(self, state: dict) -> dict:
        """Return checkpoint ``state`` with critics that take the new terms (at weight 0)."""
        n = sum(size for _, size in self.terms)
        return dict(state, agent=grow_agent(state['agent'], self.at, n),
                    critic_dim=self.at + n)

    def replay(self, replay: dict) -> dict:
        """Return saved buffer ``replay`` with the new terms computed from its steps."""
        return grow_replay(replay, self.layout, self.steps, self.term_names)


def _grow(state: dict, respec: Optional[Respec], path: str) -> Optional[Grow]:
    """Return how the checkpoint's critic grows to its env's view (None: it sees it all).

    The view is the new spec's env's, after the terms ``respec`` appends (which the branch
    gives the critic first, `_extend_checkpoint`).
    :raises RunDirError: a view grown by what stored steps do not give.
    """
    train = state['train_config']
    if not train.get('privileged_critic'):
        return None
    spec = respec.after if respec else None
    env = make_env(train['env'], obs_spec=spec or train.get('obs_spec') or None)
    try:
        u = env.unwrapped
        if not hasattr(u, 'critic_terms'):     # a view laid out by no terms: none grows
            return None
        # A critic that sees the dynamics has them after the env's view.
        dynamics = DYNAMICS_DIM if train.get('critic_dynamics') else 0
        at = (int(state['critic_dim']) - dynamics
              + sum(n for _, n in (respec.added if respec else ())))
        terms = grown_terms(at, tuple(u.critic_terms))
        if not terms:
            return None
        if dynamics:
            raise ValueError('its critic sees the dynamics after its view, which grew since '
                             f'(by {", ".join(n for n, _ in terms)}): branch the run from '
                             'before the dynamics were given')
        sigma = float(train.get('tracking_sigma') or 0.0) or u.task.tracking_sigma
        layout = dataclasses.replace(u.command_layout(), sigma=sigma)
        return Grow(at, terms, layout,
                    window_steps(u.task.gait_period, u.dt), tuple(u.reward_term_names))
    except (AttributeError, ValueError) as exc:
        raise RunDirError(f'{path}: {exc}') from None
    finally:
        env.close()


def _rescale_checkpoint(state: dict, respec: Respec, path: str) -> dict:
    """Return checkpoint ``state`` moved onto ``respec.after``.

    :raises RunDirError: the checkpoint was trained on other factors than the spec's now.
    """
    trained = state.get('obs_scales')
    why = scale_mismatch(trained, respec.scales_before, respec.before) if trained else None
    if why:
        raise RunDirError(f'{path}: {why}: it cannot be moved onto {respec.after!r}')
    actor_f, critic_f = _input_factors(state, respec)
    out = dict(state, agent=rescale_agent(state['agent'], actor_f, critic_f),
               obs_spec=respec.after, obs_scales=respec.scales_after)
    out['train_config'] = dict(state['train_config'], obs_spec=respec.after)
    return out


def _extend_checkpoint(state: dict, ext: Extension) -> dict:
    """Return checkpoint ``state`` (on the new spec's factors) with the new inputs."""
    n = ext.size
    out = dict(state, agent=extend_agent(state['agent'], ext),
               obs_dim=int(state['obs_dim']) + n * ext.frames)
    if state.get('critic_dim'):
        out['critic_dim'] = int(state['critic_dim']) + n
    return out


def _history_checkpoint(state: dict, frames: int) -> dict:
    """Return checkpoint ``state`` with an actor that reads ``frames`` stacked frames."""
    obs_dim = int(state['obs_dim'])
    agent = history_agent(state['agent'], obs_dim, frames, bool(state.get('critic_dim')))
    return dict(state, agent=agent, obs_dim=obs_dim * frames,
                train_config=dict(state['train_config'], history=frames))


def _dynamics_checkpoint(state: dict) -> dict:
    """Return checkpoint ``state`` with critics that take the dynamics after their view."""
    at = int(state['critic_dim'])
    return dict(state, agent=grow_agent(state['agent'], at, DYNAMICS_DIM),
                critic_dim=at + DYNAMICS_DIM,
                train_config=dict(state['train_config'], critic_dynamics=True))


def _input_factors(state: dict, respec: Respec) -> Tuple[np.ndarray, np.ndarray]:
    try:
        return input_factors(respec.frame, int(state['obs_dim']),
                             int(state.get('critic_dim') or state['obs_dim']))
    except ValueError as exc:
        raise RunDirError(f'--obs-spec {respec.after}: {exc}') from None


def _replay(source: str, partial: str, state: dict, stored: dict,
            rescale: Change = None) -> Tuple[str, str]:
    """Give the branch the replay of its step: (how it came, why none came).

    ``rescale``: applied to the replay before its one write (the checkpoint's own is then
    written anew, not linked, so the source's file is left as it was).
    """
    step = int(state['step'])
    if os.path.exists(replay_path(source, step)):
        if rescale is None:
            _link(replay_path(source, step), replay_path(partial, step))
        else:
            atomic_torch_save(rescale(safe_torch_load(replay_path(source, step))),
                              replay_path(partial, step))
        return 'the checkpoint\'s own', ''
    newest = checkpoint_step(list_checkpoints(source)[-1])
    if not os.path.exists(replay_path(source, newest)):
        return '', 'the run keeps no replay (--exact-resume false)'
    since = (stored['train_config'].get('curriculum') or [])[
        len(state['train_config'].get('curriculum') or []):]
    rescored = [c for c in since if any(k in c for k in RESCORED)]
    if rescored:
        return '', (f'the run\'s rewards changed at step {rescored[0]["step"]:,}, after '
                    'this checkpoint was written, and its replay was re-scored')
    refilled = int(load_checkpoint(ckpt_path(source, newest))['progress'].get('warmup_from')
                   or 0)
    if refilled > step:
        return '', (f'the run\'s buffer was refilled at step {refilled:,}, after this '
                    'checkpoint (a resume without its replay)')
    newer = safe_torch_load(replay_path(source, newest))
    then, now = state.get('replay_counts'), (newer.get('adds'), newer.get('recycled'))
    exact = then is not None and None not in then and None not in now
    drop = (now[0] - then[0] + now[1] - then[1]) if exact else newest - step
    try:
        rewound = rewind(newer, drop, tuple(then) if exact else None)
    except ValueError as exc:
        return '', f'replay_{newest:09d}.pt: {exc}'
    atomic_torch_save(rescale(rewound) if rescale else rewound, replay_path(partial, step))
    how = 'counted' if exact else 'counted one a step: the run saved no counts'
    return (f'rewound from step {newest:,}: its newest {drop:,} transitions dropped ({how}), '
            f'{rewound["size"]:,} kept'), ''


def read_branch(run_dir: str) -> Optional[dict]:
    """Return what a branch came from (branch.json), None for a run not made by a branch."""
    try:
        with open(os.path.join(run_dir, BRANCH_FILE)) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and 'source' in record else None


def _rows_to(text: str, step: int) -> str:
    """Return metrics.csv's ``text`` without the rows after ``step``."""
    rows = list(csv.reader(io.StringIO(text)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator='\n')
    writer.writerows(rows[:1] + [r for r in rows[1:] if r and int(float(r[0])) <= step])
    return out.getvalue()


def _carry_draws(source: str, partial: str, step: int) -> Optional[int]:
    """Copy the source's randomisation log to its last line stamped before ``step``.

    Lines are in the order episodes ended, so unstamped lines before a stamped one (a log
    begun before lines were stamped) ended before it too; lines after the last stamped
    before ``step`` are the source's own future. Return the lines copied (None: no log, or
    none stamped before ``step``).
    """
    path = os.path.join(source, RANDOMIZATION_LOG)
    if not os.path.isfile(path):
        return None
    with open(path, encoding='utf-8') as f:
        lines = f.readlines()
    upto = 0
    for n, line in enumerate(lines, 1):
        stamp = _stamp(line)
        if stamp is None:
            continue
        if stamp >= step:
            break
        upto = n
    if not upto:
        return None
    text = ''.join(lines[:upto])
    atomic_write(os.path.join(partial, RANDOMIZATION_LOG), lambda f: f.write(text.encode()))
    return upto


def _stamp(line: str) -> Optional[int]:
    """Return a log line's training step (None: unstamped, or not a record)."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return episode_step(record) if isinstance(record, dict) else None


def _link_actors(source: str, partial: str, step: int) -> int:
    kept = [path for at, path in kept_actors(source) if at <= step]
    if kept:
        os.makedirs(os.path.join(partial, ACTORS))
    for path in kept:
        _link(path, os.path.join(partial, ACTORS, os.path.basename(path)))
    return len(kept)


def _link_best(source: str, partial: str, step: int) -> bool:
    path = os.path.join(source, BEST)
    if not os.path.isfile(path):
        return False
    try:
        taken = int(safe_torch_load(path).get('step', step + 1))
    except CheckpointError:
        return False
    if taken > step:
        return False
    _link(path, os.path.join(partial, BEST))
    return True


def _link(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        shutil.copy2(src, dst)      # another file system, or one without hard links


__all__ = ['BRANCH_FILE', 'Branch', 'branch_run', 'pick_checkpoint', 'read_branch']

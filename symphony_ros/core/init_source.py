"""What ``--init-from`` names: a run's checkpoint, or an actor alone.

A run folder or ``checkpoints/ckpt_<step>.pt`` gives networks and optimizer; ``best_actor.pt``
or an exported policy (``.onnx``, e.g. a shipped model whose run is gone) gives an actor
alone, beside which the critic starts fresh.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np
import torch

from .agent_inputs import insert_columns
from .checkpoint import (CheckpointError, check_checkpoint, hashed_torch_load,
                         latest_checkpoint, load_replay)
from .envs import canonical_env_id, mirror_maps, obs_terms
from .networks import Actor
from .run_dir import randomize_width, stored_scale_in_force
from .snapshot import ActorSource, actor_snapshot


@dataclass(frozen=True)
class SourceCheckpoint:
    """A run's training checkpoint named by ``--init-from``, validated, with its file's hash."""

    path: str
    state: Dict[str, Any]
    sha256: str


def read_init_source(source: str) -> Union[ActorSource, SourceCheckpoint]:
    """Read what ``--init-from`` names, each file once: an actor alone, or a run's checkpoint.

    Once, so that the lineage's hash is of the bytes the run started from, even when the
    file is replaced meanwhile (``best_actor.pt`` of a run still training).

    :raises CheckpointError: an unreadable file or folder, naming it and why.
    """
    if source.lower().endswith('.onnx'):
        # Lazy: policy builds on core, not the other way round, and only this needs it.
        from ..policy.errors import PolicyError
        from ..policy.unfold import actor_from_policy
        try:
            return actor_from_policy(source)
        except PolicyError as exc:
            raise CheckpointError(f'--init-from {exc}') from None
    path = latest_checkpoint(source) if os.path.isdir(source) else source
    if path is None:
        raise CheckpointError(f'--init-from {source}: the folder holds no checkpoint '
                              '(expected checkpoints/ckpt_<step>.pt)')
    state, sha = hashed_torch_load(path)
    if state.get('kind') == 'actor':
        return actor_snapshot(state, path, sha)
    return SourceCheckpoint(path, check_checkpoint(state, path), sha)


def appended_terms(env: str, theirs: Optional[str], ours: Optional[str]) -> Tuple[str, ...]:
    """Return the terms observation spec ``ours`` appends to ``theirs`` on ``env``.

    Empty when the specs are equal, unknown, or differ other than by terms at the end: only
    terms at the end can be given to a trained actor at weight 0 without moving its inputs.
    """
    if not theirs or not ours or theirs == ours:
        return ()
    old, new = obs_terms(env, theirs), obs_terms(env, ours)
    if old is None or new is None or len(new) <= len(old) or new[:len(old)] != old:
        return ()
    return tuple(name for name, _ in new[len(old):])


def widen_inputs(actor: Actor, obs_dim: int,
                 obs_mirror: Optional[Tuple[np.ndarray, np.ndarray]] = None) -> Actor:
    """Return a copy of ``actor`` that reads ``obs_dim`` inputs, the new last ones at weight 0.

    Only the first Linear sees the inputs, so zero columns for the added ones leave every
    action unchanged: the actor acts as before until learning gives the new inputs weight.

    :param obs_mirror: the (index, sign) map of the widened observation, required for a
        symmetric actor: its own map is of the inputs it read, and only the caller knows
        how the new ones mirror (`obs_history.stacked_mirror` for stacked frames).
    :raises ValueError: fewer inputs than the actor reads, or a symmetric actor without
        ``obs_mirror``.
    """
    if obs_dim < actor.obs_dim:
        raise ValueError(f'widen_inputs: {obs_dim} inputs is fewer than {actor.obs_dim}')
    if actor.symmetric and obs_mirror is None:
        raise ValueError('widen_inputs: a symmetric actor needs the mirror map of its '
                         f'{obs_dim} inputs')
    wide = copy.deepcopy(actor)
    old = actor.net.linear_in
    new = torch.nn.Linear(obs_dim, old.out_features, dtype=old.weight.dtype,
                          device=old.weight.device)
    with torch.no_grad():
        new.weight.copy_(insert_columns(old.weight, actor.obs_dim, obs_dim - actor.obs_dim))
        new.bias.copy_(old.bias)
    wide.net[0] = new
    wide.obs_dim = obs_dim
    if actor.symmetric:
        wide.set_mirror(obs_mirror, (actor.mirror_act_index.cpu().numpy(),
                                     actor.mirror_act_sign.cpu().numpy()))
    return wide


class InitFrom:
    """The trainer's ``--init-from``: start a new run from another run's networks or actor.

    A mixin of :class:`~symphony_ros.core.trainer.Trainer`, kept apart so that what a run may
    start from, and each refusal, reads in one file; it uses the trainer's ``cfg``, ``sym``,
    ``agent``, ``buffer``, ``notes``, dims, ``obs_spec``, ``progress`` and ``_load_agent``.
    """

    def _init_from(self, source: str) -> None:
        """Start from another run's networks; this run's steps, RNGs and buffer are its own.

        The warm-up then acts with the loaded actor, and the reward scale the critic learned
        with is kept, so the critic's values stay meaningful. A checkpoint whose critic saw
        another observation gives its actor alone: the critic starts fresh.
        """
        src = read_init_source(source)
        if isinstance(src, ActorSource):
            self._init_actor(src)
            return
        path, state = src.path, src.state
        theirs = int(state['train_config'].get('history', 1))
        if theirs != self.cfg.history:
            widen = ('; its best_actor.pt gives its actor alone, widened to this run\'s '
                     'frames' if theirs == 1 else '')
            raise CheckpointError(f'{path}: its run took the last {theirs} observation(s) at '
                                  f'once, this run {self.cfg.history} (--history {theirs} '
                                  f'fits it{widen})')
        actor_only = self._load_agent(state, path, actor_only=True)
        self._record_source(path, src.sha256, int(state['step']), state['train_config'])
        self.buffer.reward_scale = float(state.get('reward_scale', 1.0))
        self._keep_scale = not actor_only
        self._note_anchored_source(path, state['train_config'], actor_only)
        if self.cfg.init_buffer:
            self._take_buffer(path, state, actor_only)
            return
        what = ('the actor (its critic saw another observation: ' + self._fresh_critic() + ')'
                if actor_only else 'networks and optimizer')
        self._note_init(what, path, int(state['step']), state['train_config'].get('env'),
                        '--init-buffer true takes its replay instead')

    def _note_anchored_source(self, path: str, theirs: Dict[str, object],
                              actor_only: bool) -> None:
        """Say so when this run takes, unanchored, the critic of a run that was anchored.

        That critic learned beside an actor the anchor held, and may disagree with it: let
        go, the actor follows it (a G1 fine-tune fell in its first training episodes).
        """
        weight = float(theirs.get('anchor_weight') or 0.0)
        if actor_only or not weight or self.cfg.anchor_weight:
            return
        self.notes.append(f'{path} trained with --anchor-weight {weight:g}: its critic learned '
                          'beside an actor the anchor held and may disagree with it; without '
                          'an anchor this run\'s actor follows that critic (a G1 fine-tune '
                          'like this fell within a few hundred updates): give --anchor-weight '
                          '(and --anchor-floor), or resume the source run instead')

    def _record_source(self, path: str, sha256: Optional[str], step: int,
                       theirs: Dict[str, object]) -> None:
        """Record in this run's config which file it began from and the steps behind it.

        ``sha256``: of the bytes `read_init_source` loaded, never of a second read. A source
        trained under randomisation also leaves its ranges' name and the scale in force at
        its last step, from which this run's ramp widens on the same ranges.
        """
        before = int((theirs.get('init_source') or {}).get('steps') or 0)
        record = {'path': path, 'sha256': sha256, 'steps': int(step) + before}
        scale = stored_scale_in_force(theirs, int(step))
        if scale > 0:
            record.update(randomize=theirs.get('randomize'), scale_in_force=scale)
        self.cfg = dataclasses.replace(self.cfg, init_source=record)
        width = randomize_width(self.cfg, 0) if self.cfg.randomize_ramp else 0.0
        if width > 0:
            self.notes.append(f'--randomize-ramp: widens from {width:.2f} of the scale, the '
                              f'share its source at {path} trained under, as it ended')

    def _fresh_critic(self) -> str:
        return ('this critic and the optimizer start fresh' +
                ('' if self.cfg.actor_frozen_steps else '; --actor-frozen-steps N keeps the '
                 'actor as loaded while the critic learns'))

    def _note_init(self, what: str, path: str, step: int, env: object, instead: str) -> None:
        frozen, warmup = self.cfg.actor_frozen_steps, self.sym.explore_steps
        if not frozen:
            risk = ('the first updates learn from those alone and can unlearn a trained '
                    f'actor ({instead})')
        elif frozen <= warmup:
            # Updates begin after the warm-up, so a shorter freeze gives the critic nothing.
            risk = (f'--actor-frozen-steps {frozen:,} ends within the warm-up, so the critic '
                    f'has no update of its own before the actor learns: give more than '
                    f'{warmup:,}')
        else:
            risk = (f'the actor acts as loaded for the first {frozen:,} steps, the critic '
                    f'learning alone for the last {frozen - warmup:,} of them')
        if self.cfg.anchor_weight:
            floor = self.cfg.anchor_floor
            risk += (f'; then --anchor-weight {self.cfg.anchor_weight:g} holds it near that '
                     f'actor, fading over {self.cfg.anchor_steps:,} steps'
                     + (f' to {floor:g}' if floor else ''))
        self.notes.append(f'{what} from {path} (step {step:,}, env {env}); the buffer is '
                          f'filled by {self.sym.explore_steps:,} warm-up steps with that '
                          f'actor; {risk}')

    def _init_actor(self, src: ActorSource) -> None:
        """Start this run's actor from ``src`` (an actor alone); critic and optimizer fresh.

        :raises CheckpointError: the actor does not fit this run, or --init-buffer asks for
            a replay it does not have.
        """
        if self.cfg.init_buffer:
            raise CheckpointError(f'--init-buffer: {src.path} holds an actor alone, no replay '
                                  'buffer; give a run folder or its checkpoint')
        if src.history != self.cfg.history and src.history > 1:
            raise CheckpointError(f'{src.path}: its actor takes the last {src.history} '
                                  f'observations at once (observation.history), this run '
                                  f'{self.cfg.history} (--history {src.history} fits it)')
        added = self._added_terms(src)
        if added and self.cfg.history > 1:
            raise CheckpointError(f'{src.path}: its actor reads {src.obs_spec}; --history '
                                  f'{self.cfg.history} takes it only on the same --obs-spec')
        stacked = src.history == 1 < self.cfg.history
        dims = (int(src.actor.obs_dim), int(src.actor.act_dim))
        ours = self.obs_dim // self.cfg.history if stacked else self.obs_dim
        if (dims[0] * (self.cfg.history if stacked else 1), dims[1]) != (
                self.obs_dim, self.act_dim) and not added:
            raise CheckpointError(f'{src.path}: its actor maps {dims[0]} observations to '
                                  f'{dims[1]} actions; this run\'s env {self.cfg.env} has '
                                  f'{ours} and {self.act_dim}'
                                  + (f' ({self.cfg.history} frames of them)' if stacked else ''))
        if src.obs_spec and src.obs_spec != self.obs_spec and not added:
            raise CheckpointError(f'{src.path}: its actor reads observation {src.obs_spec}, '
                                  f'this run {self.obs_spec} (--obs-spec; a spec that only '
                                  'appends terms to its own is taken, the new inputs at '
                                  'weight 0)')
        width = src.symphony_config.hidden_dim
        if width != self.sym.hidden_dim:
            raise CheckpointError(f'{src.path}: its actor is {width} wide, this run\'s '
                                  f'{self.sym.hidden_dim} (--hidden-dim {width} fits it)')
        actor = src.actor
        if added or stacked:
            # Its maps are of the inputs it read; the widened ones are this run's env's.
            mirror = (mirror_maps(self.env, False, '--symmetric-actor')[0]
                      if actor.symmetric else None)
            actor = widen_inputs(actor, self.obs_dim, mirror)
        self._record_source(src.path, src.sha256, src.step, src.train_config)
        self.agent.actor.load_state_dict(actor.state_dict())
        widened = (f'; it read {src.obs_spec}, this run adds {", ".join(added)}, given weight 0 '
                   'so it acts as loaded until it learns to use them' if added else '')
        if stacked:
            widened += (f'; it read one observation, this run {self.cfg.history}: the older '
                        'ones at weight 0, so it acts as loaded until it learns to use them')
        self._note_init('the actor (an actor alone: ' + self._fresh_critic() + widened + ')',
                        src.path, src.step, src.env, 'a run folder with --init-buffer true '
                        'takes its replay instead')

    def _added_terms(self, src: ActorSource) -> Tuple[str, ...]:
        """Return the terms this run's observation appends to ``src``'s (see appended_terms)."""
        if int(src.actor.act_dim) != self.act_dim:
            return ()
        return appended_terms(self.cfg.env, src.obs_spec, self.obs_spec)

    def _take_buffer(self, path: str, state: Dict[str, object], actor_only: bool) -> None:
        """Load the replay saved with checkpoint ``path`` (--init-buffer); learn from it at once.

        :raises CheckpointError: naming the checkpoint and what keeps its buffer out.
        """
        theirs = state['train_config']
        why = self._load_source_buffer(path, state, actor_only)
        if why:
            raise CheckpointError(f'--init-buffer: {path}: its buffer cannot be taken: {why}')
        self.progress.learning = True
        self.notes.append(f'networks, optimizer and replay buffer ({len(self.buffer):,} '
                          f'transitions) from {path} (step {int(state["step"]):,}, env '
                          f'{theirs.get("env")}); learning starts at once, without warm-up')

    def _load_source_buffer(self, path: str, state: Dict[str, object],
                            actor_only: bool) -> Optional[str]:
        """Load checkpoint ``path``'s replay into the buffer; return why it cannot be, if so."""
        theirs = state['train_config']
        if actor_only:
            return 'its critic saw another observation'
        if canonical_env_id(str(theirs.get('env'))) != canonical_env_id(self.cfg.env):
            return f'it trained on {theirs.get("env")}, whose rewards this run does not score'
        source = os.path.dirname(os.path.dirname(os.path.abspath(path)))
        replay = load_replay(source, int(state['step']))
        if replay is None:
            return ('no replay buffer was saved with it (only the newest checkpoint of a run '
                    'with --exact-resume true keeps one)')
        try:
            self.buffer.load_state_dict(replay)
        except (KeyError, ValueError) as exc:
            return str(exc)
        if self.cfg.noise_smoothing and self.buffer.clean_obs and 'next_clean_obs' not in replay:
            self.notes.append(f'--noise-smoothing: the {len(self.buffer):,} transitions taken '
                              'over carry no observation without its noise, so the term counts '
                              'only on those this run adds')
        self._rewidth('--init-buffer', float(theirs.get('tracking_sigma') or 0.0),
                      self.cfg.tracking_sigma)
        before = theirs.get('reward_weights') or ''
        if before != self.cfg.reward_weights:
            if not self.buffer.term_names:
                return (f'its reward weights were {before or "the task default"}, this run\'s '
                        f'{self.cfg.reward_weights or "the task default"}, and it keeps no '
                        'reward terms to score its steps anew (saved by an older version, or '
                        'by a run with --collectors)')
            self._rescore('--init-buffer', before, self.cfg.reward_weights)
        return None


__all__ = ['InitFrom', 'SourceCheckpoint', 'appended_terms', 'read_init_source',
           'widen_inputs']

"""Resuming a run: its newest checkpoint read back into the trainer, with its checks.

The checks a resume owes the person: networks of the run's shape, observation factors and
randomisation ranges as trained, the curriculum step a resume may take.

A mixin of :class:`~symphony_ros.core.trainer.Trainer`, kept apart so that what a resume
restores, and each refusal, reads in one file; it uses the trainer's ``cfg``, ``sym``,
``agent``, ``buffer``, ``env``, ``device``, ``notes``, dims, ``obs_spec``, ``obs_scales``,
``randomization``, ``progress`` and ``run_dir``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Dict, List, Optional

import torch

from .checkpoint import (CheckpointError, latest_checkpoint, list_checkpoints, load_checkpoint,
                         load_replay, replay_path)
from .config import curriculum_text
from ..robot.command_terms import TRACKING_TERMS
from .envs import set_rng_state, tracking_sigma, wrapper_attr
from .progress import Progress
from .run_dir import (BEST_RESETS, RunDirError, changes_randomization, extend_curriculum,
                      read_run_config, scale_in_force)


class Resume:
    """The trainer's ``--resume`` and the checkpoint loading ``--init-from`` shares."""

    def _load_agent(self, state: Dict[str, object], path: str,
                    actor_only: bool = False) -> bool:
        """Load a checkpoint's networks and optimizer, refusing one of another shape.

        :param actor_only: when the checkpoint's critic sees another observation than this
            run's (--privileged-critic on one side), take its actor alone (--init-from).
        :returns: whether the actor alone was taken.
        """
        for key in ('obs_dim', 'act_dim'):
            if state[key] != getattr(self, key):
                raise CheckpointError(f'{path}: {key} {state[key]} does not match the env '
                                      f'({getattr(self, key)})')
        theirs = int(state.get('critic_dim') or state['obs_dim'])
        alone = theirs != self.agent.critic_dim
        if alone and not actor_only:
            raise CheckpointError(f'{path}: its critic sees {theirs} values, this run\'s '
                                  f'{self.agent.critic_dim} (--privileged-critic differs, or '
                                  'the env\'s view grew since the run was saved: symphony '
                                  'branch RUN NEW gives a critic the terms it lacks)')
        try:
            if alone:
                self.agent.actor.load_state_dict(state['agent']['actor'])
            else:
                self.agent.load_state_dict(state['agent'])
        except (RuntimeError, KeyError) as exc:
            raise CheckpointError(f'{path}: networks do not fit the run\'s config '
                                  f'({str(exc).splitlines()[0][:160]})') from None
        return alone

    def _record_curriculum(self) -> None:
        """Record a change of randomisation, reward weights or lr this resume makes.

        config.json and the policy card keep it. New reward weights re-score the replay.
        :raises RunDirError: new reward weights for a replay that keeps no reward terms.
        """
        stored = read_run_config(self.run_dir)
        self.cfg = extend_curriculum(stored, self.cfg, self.step_count)
        if len(self.cfg.curriculum) > len(stored['train_config'].get('curriculum') or []):
            last = self.cfg.curriculum[-1]
            if 'tracking_sigma' in last:
                self._rewidth('--resume', *last['tracking_sigma'])
            if 'reward_weights' in last:
                self._rescore('--resume', *last['reward_weights'])
            changed = [k for k in BEST_RESETS if k in last]
            if changed and self.progress.best_return > -math.inf:
                # The returns before summed other terms or followed other commands; what
                # `symphony inspect` counts the best from (run_dir.best_starts_at) too.
                self.progress.best_return = -math.inf
                self.notes.append(f'{" and ".join(k.replace("_", " ") for k in changed)} '
                                  'changed: the best test return starts over (best_actor.pt '
                                  'from the next test)')
            self.notes.append(f'training changed at step {self.step_count:,}: '
                              f'{curriculum_text(last)} (randomisation scale in force before: '
                              f'{last["scale_before"]:g}{self._ramp_text(last)}); config.json '
                              "records it in the run's curriculum, and the policy card too")

    def _ramp_text(self, change: Dict[str, Any]) -> str:
        """Return where a change of randomisation puts the ramp, for the resume's note.

        The ramp restarts from the width `run_dir.randomize_width` gives (none, for other
        ranges): a fine-tune of a robust actor under a new ranges file trains near the nominal
        robot for a long while, which the person resuming should be told.
        """
        if not (self.cfg.randomize_ramp and changes_randomization(change)):
            return ''
        now, full = scale_in_force(self.cfg, self.step_count), self.cfg.randomize_scale
        text = (f', now {now:g}, widening to {full:g} by step '
                f'{self.step_count + self.cfg.randomize_ramp:,}')
        if now < change['scale_before']:
            text += ' (--randomize-ramp 0 in the same resume: the whole scale at once)'
        return text

    def _rescore(self, how: str, before: str, after: str) -> None:
        """Score the replay's steps anew under this run's reward weights (``before`` -> ``after``).

        The best test return starts over: the returns before the change summed other terms.
        :raises RunDirError: a replay that keeps no reward terms (naming why it matters).
        """
        if not len(self.buffer):
            return  # nothing stored: the warm-up about to refill it scores with the new ones
        said = {w: w or "the task default" for w in (before, after)}
        if not self.buffer.term_names:
            raise RunDirError(
                f'{how}: --reward-weights {said[after]}: the replay buffer was scored with '
                f'{said[before]} and keeps no reward terms to score its steps anew (saved by '
                'an older version, or by a run with --collectors); leave --reward-weights out, '
                'or start a new run with --init-from')
        self.buffer.rescore(self.reward_weights)
        self.progress.best_return = -math.inf
        self.notes.append(f'reward weights {said[before]} -> {said[after]}: the replay\'s '
                          f'{len(self.buffer):,} steps re-scored from their reward terms; the '
                          'best test return starts over (best_actor.pt from the next test)')

    def _rewidth(self, how: str, before: float, after: float) -> None:
        """Score the replay's tracking terms anew at this run's tracking width.

        ``before``, ``after``: --tracking-sigma as given (0: the robot file's width).
        :raises RunDirError: a replay that keeps no reward terms.
        """
        old = tracking_sigma(dataclasses.replace(self.cfg, tracking_sigma=before))
        new = tracking_sigma(dataclasses.replace(self.cfg, tracking_sigma=after))
        if not len(self.buffer) or old == new:
            return
        if not self.buffer.term_names:
            raise RunDirError(f'{how}: --tracking-sigma {after:g}: the replay buffer keeps no '
                              'reward terms to score its steps anew (saved by an older '
                              'version, or by a run with --collectors); leave it out, or start '
                              'a new run with --init-from')
        self.buffer.rewidth(TRACKING_TERMS, old, new)
        self.buffer.rescore(self.reward_weights)
        self.notes.append(f'tracking width {old:g} -> {new:g}: the replay\'s '
                          f'{len(self.buffer):,} steps\' tracking terms re-scored (each the same '
                          'error under the new width)')

    def _refill_from(self, path: str, state: Dict[str, object], step: int) -> None:
        """Refill the buffer of a checkpoint saved without its replay, by the trained actor.

        At the reward scale the critic learned with. --refill-steps acts outside the step
        count, so the ramp, evaluations and schedules stay at the checkpoint's step; else
        the config's warm-up, counted as training steps.
        """
        refill = self.cfg.refill_steps
        if refill:
            self._refill_left, self._refill_counts = refill, [0, 0]
            self.notes.append(f'{path} has no replay buffer saved with it: the buffer is '
                              f'refilled by {refill:,} steps of the trained actor (with its '
                              'acting noise) before learning goes on; the step count, the '
                              f'ramp and the evaluations stay at step {step:,}')
        else:
            self.notes.append(f'{path} has no replay buffer saved with it: the buffer is '
                              f'refilled by {self.sym.explore_steps:,} steps of warm-up with '
                              'the trained actor (the resume is not exact; learning on so '
                              'small a buffer can undo a trained actor: on the G1 one fell in '
                              'every nominal episode within 10k steps; `symphony branch` '
                              'rewinds a newer replay to an older checkpoint instead)')
        self.buffer.reward_scale = float(state.get('reward_scale', 1.0))
        self._keep_scale = self.progress.learning or self._keep_scale
        self.progress.learning, self.progress.warmup_from = False, step

    def _check_scales(self, state: Dict[str, object], path: str) -> None:
        """Refuse a checkpoint trained on other observation factors than the spec's now.

        The spec is resumed by name; had its factors changed since, the networks would be fed
        inputs of other sizes than they learned on without a word. Checkpoints written
        before factors were recorded carry none and are not compared.
        """
        from symphony_ros.robot.obs_specs import scale_mismatch
        stored = state.get('obs_scales')
        if stored is None or self.obs_scales is None:
            return
        why = scale_mismatch(stored, self.obs_scales, str(self.obs_spec))
        if why:
            raise CheckpointError(f'{path}: {why}: resume with the code the run was trained '
                                  'with, or start a new run')

    def _note_range_changes(self, stored: Optional[Dict[str, Any]]) -> None:
        """Say when the randomisation a run resumes by name draws from other ranges now.

        A resume names its set (``default``, a YAML path), and a set may change between
        versions or edits; training goes on under today's ranges, which the checkpoints record
        from here on, so the person is told which knobs moved rather than left to guess.
        """
        from symphony_ros.robot.ranges import spec_changes
        now = self.randomization
        if not stored or not now or stored.get('name') != now.get('name'):
            return
        if stored.get('scale') != now.get('scale'):
            return  # a resume that changes the scale says so in the curriculum
        changes = spec_changes(stored, now)
        if changes:
            self.notes.append(f'--randomize {now["name"]}: the set has other ranges than when '
                              f'this run\'s checkpoint was written ({"; ".join(changes)}); '
                              'training goes on under the ranges of now, which its checkpoints '
                              'and contract record')

    def _restore(self) -> List[Dict[str, float]]:
        """Read the newest checkpoint into this trainer; write nothing."""
        path = latest_checkpoint(self.run_dir)
        try:
            state = load_checkpoint(path)
        except CheckpointError as exc:
            older = list_checkpoints(self.run_dir)[:-1]
            intact = (f'; the previous checkpoint {older[-1]} is intact: delete {path} to '
                      'resume from it' if older else '')
            raise CheckpointError(f'{exc}{intact}') from None
        self._check_scales(state, path)
        self._note_range_changes(state.get('randomization'))
        self._load_agent(state, path)
        step = int(state['step'])
        self.progress = Progress.from_dict(state['progress'], step)
        replay = load_replay(self.run_dir, step)
        if replay is not None:
            try:
                self.buffer.load_state_dict(replay)
            except (KeyError, ValueError) as exc:
                raise CheckpointError(f'{replay_path(self.run_dir, step)}: {exc}') from None
            if self.cfg.refill_steps:
                self.notes.append(f'--refill-steps {self.cfg.refill_steps:,}: {path} has its '
                                  'replay buffer saved with it, which the resume takes; no '
                                  'refill')
        else:
            self._refill_from(path, state, step)
        load_corner = wrapper_attr(self.env, 'load_corner_state')
        if load_corner is not None:
            try:
                load_corner(state.get('corner'))
            except (KeyError, TypeError, ValueError) as exc:
                raise CheckpointError(f'{path}: corner: {exc}') from None
        corner = wrapper_attr(self.env, 'corner')
        if corner is not None:
            self.notes.append(f'hard corner: its depth goes on from {corner.depth:g} (moved '
                              f'{corner.moves} times so far)' if state.get('corner') else
                              f'hard corner: its depth follows the actor from {corner.depth:g} '
                              '(the checkpoint has none)')
        was = int(state['train_config'].get('seed', self.cfg.seed))
        if was != self.cfg.seed:
            # A branch given another seed: from here it draws anew (torch is seeded already).
            self._reseed_env = True
            self.notes.append(f'seed {self.cfg.seed}: the checkpoint was written by seed {was}; '
                              'minibatches, noise and episodes are drawn anew from here')
        else:
            torch.set_rng_state(state['rng']['torch'])
            if state['rng']['cuda'] and self.device.type == 'cuda':
                torch.cuda.set_rng_state_all(state['rng']['cuda'])
            set_rng_state(self.env, json.loads(state['rng']['env']))
        return list(state.get('metrics', []))


__all__ = ['Resume']

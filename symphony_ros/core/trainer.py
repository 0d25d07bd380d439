"""The Symphony training loop.

Warm-up, reward scaling, G updates per step, evaluation, checkpoints and exact resume.

Usable from the CLI (``symphony train``), from the ROS trainer node (which calls
:meth:`Trainer.step` from a timer and reacts to :attr:`Trainer.on_evaluation`), and from tests.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
import weakref
from typing import Callable, Dict, List, Optional

import numpy as np
import torch

from ..robot.pd import action_reach_note
from ..robot.velocity_commands import commands_note
from .acting_noise import episode_noise
from .agent import Symphony, deliberate_fall
from .anchor_free import anchor_free
from .augment import BatchMirror
from .checkpoint import Saved, latest_checkpoint, save_checkpoint
from .config import TrainConfig
from .corner_test import CornerTest
from .critic_check import loss_noise_note
from .envs import (critic_dim, env_dims, episode_limit, get_rng_state, make_run_env,
                   make_test_env, mirror_maps, obs_scales, obs_terms, reward_terms,
                   wrapper_attr)
from .evaluation import EvalResult, evaluate_run
from .init_source import InitFrom
from .input_balance import faint_terms_note
from .networks import noise_std
from .preflight import resolve_device, run_obs_spec, stored_obs_spec, validate
from .progress import Progress
from .relabel import command_relabel, relabel_note
from .replay import Batch, FadingReplayBuffer
from .resume import Resume
from .run_dir import (RANDOMIZATION_LOG, check_run_dir, identity, randomize_width,
                      write_run_config)
from .run_lock import lock_run_dir, unlock_run_dir
from .run_log import TERM_PREFIX, RunLog
from .snapshot import keep_actor, save_best_actor
from .threads import ThreadPolicy

LOSS_TERMS = ('loss', 'actor', 'critic', 'swaddling', 'mean_S', 'q_t_mean')
"""Update terms checked for finiteness every update and logged (``loss/<term>``) every 100
steps; ``q_t_mean`` is the batch's mean target value the advantage baseline follows, whose
climb or slide beside a test return's tells a critic's drift from an actor's."""


class NonFiniteError(RuntimeError):
    """Training went numerically wrong (NaN or Inf); the last good checkpoint is kept."""


def _progress(name: str, doc: str) -> property:
    """Expose ``Progress.name`` as a trainer attribute (callers and tests read these)."""
    return property(lambda self: getattr(self.progress, name),
                    lambda self, value: setattr(self.progress, name, value), doc=doc)


class Trainer(InitFrom, Resume):
    """One training run in one run folder.

    Everything that can refuse the run (config, env, device, run folder, checkpoint) is
    checked before the first file is written, so a refused run leaves the folder as it was.
    """

    _closed = False
    """Set by :meth:`close`, which then does nothing more."""

    _refill_left = 0
    """Steps of --refill-steps still to act before learning resumes (0: none)."""

    _reseed_env = False
    """Seed the env at the next reset: a resume under another seed than its checkpoint's."""

    keeps_reward_terms = True
    """Whether the replay keeps each step's unweighted reward terms (envs that report them),
    so that a resume or a start from it may weigh them anew (``--reward-weights``)."""

    step_count = _progress('step', 'Environment steps taken.')
    episodes = _progress('episodes', 'Training episodes finished.')
    falls = _progress('falls', 'Training episodes that fell while the actor acted.')
    noise_falls = _progress('noise_falls', 'Falls in the deliberate fall (noise alone acting).')
    updates = _progress('updates', 'Gradient updates done.')
    learning = _progress('learning', 'True once warm-up is over.')
    best_return = _progress('best_return', 'Best mean test return so far (-inf before any).')
    wall_s = _progress('wall_s', 'Seconds spent stepping, updating and evaluating.')
    mean_s = _progress('mean_s', 'Latest mean action strength S (nan before any update).')
    last_return = _progress('last_return', 'Latest mean test return (nan before any).')

    def __init__(self, cfg: TrainConfig, resume: bool = False, progress: bool = True,
                 tensorboard: bool = True) -> None:
        # A refused run lets go of what it took (the folder's lock, the envs) at once: the
        # caller may be a node or a notebook that lives on and tries again.
        self._lock: Optional[str] = None
        self.thread_policy: Optional[ThreadPolicy] = None
        try:
            self._open_run(cfg, resume)
            self._make_envs(self.cfg)
            self._make_learner(self.cfg)
            self._start(self.cfg, resume, progress, tensorboard)
        except BaseException:
            self.close()
            raise

    def _open_run(self, cfg: TrainConfig, resume: bool) -> None:
        """Check the settings against the run folder, lock it, seed the generators."""
        self.sym = validate(cfg)
        self.cfg, self.run_dir = cfg, cfg.run_dir
        if cfg.obs_spec is None and resume:
            # Resuming with no spec given means the run's own (config.json names it).
            cfg = dataclasses.replace(cfg, obs_spec=stored_obs_spec(cfg.run_dir))
        check_run_dir(self.run_dir, identity(cfg, self.sym), resume)
        # A folder that exists is locked before a checkpoint is read from it; a new one once made.
        self._lock = lock_run_dir(self.run_dir) if os.path.isdir(self.run_dir) else None
        if cfg.obs_spec is None:
            cfg = dataclasses.replace(cfg, obs_spec=run_obs_spec(cfg, resume))
        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed % 2**32)

    def _make_envs(self, cfg: TrainConfig) -> None:
        """Build the training and test envs, and what the learner's sizes follow from them."""
        self.notes: List[str] = []
        """Lines for the user about this run's setup, said once (the CLI prints them)."""
        # Evaluation sees the nominal robot unless asked (randomization.jsonl: the draws).
        self.env = make_run_env(cfg, randomized=True, notes=self.notes,
                                log_path=os.path.join(self.run_dir, RANDOMIZATION_LOG))
        stamp = wrapper_attr(self.env, 'set_step_clock')
        if stamp is not None:
            # A weak reference: a clock holding the trainer would make trainer and env a
            # cycle, which outlives close() until a full collection (a stage's trainer then
            # kept its replay buffer beside the next one's, and a G1 run ran out of memory).
            me = weakref.ref(self)
            stamp(lambda: me().progress.step)
        self.test_env = make_test_env(cfg, notes=self.notes)
        self.corner_test = CornerTest.for_run(self.env, lambda: make_run_env(cfg, True))
        """The ranges' corner test (``hard_tests``), run at each evaluation; or None."""
        robot = getattr(self.env.unwrapped, 'robot', None)
        if getattr(robot, 'action_kind', None) == 'pd_position':
            self.notes.append(action_reach_note(robot, noise_std(self.sym.acting_noise_clip),
                                                self.sym.act_noise_color))
        mismatch = loss_noise_note(self.sym)
        if mismatch:
            self.notes.append(mismatch)
        task = getattr(self.env.unwrapped, 'task', None)
        if cfg.commands and task is not None:
            self.notes.append(commands_note(task))
        self.obs_dim, self.act_dim = env_dims(self.env)
        # The spec actually used (config.json records it), so an export never guesses it.
        self.obs_spec = cfg.obs_spec
        self.obs_scales = obs_scales(cfg.env, cfg.obs_spec) if cfg.obs_spec else None
        """The spec's per-term factors (checkpoints record them; a resume compares)."""
        self.limit = cfg.episode_limit or episode_limit(self.env)
        self.critic_dim = critic_dim(self.env) if cfg.privileged_critic else None
        """Size of the privileged critic's observation (None: the critic sees obs)."""

    def _make_learner(self, cfg: TrainConfig) -> None:
        """Build the agent, its replay buffer and the batch transforms the run asks for."""
        self.agent = Symphony(self.obs_dim, self.act_dim, self.sym, self.device,
                              self.critic_dim)
        if self.device.type == 'cuda' and cfg.cuda_graphs:
            self.agent.use_cuda_graphs()
            self.notes.append(f'{torch.cuda.get_device_name(self.device)}: each update is '
                              'replayed as a CUDA graph (--cuda-graphs false: launched one '
                              'kernel at a time)')
        spec = wrapper_attr(self.env, 'full_spec')
        self.randomization = spec.to_dict() if spec is not None else None
        """The training env's ranges at full width (checkpoints record them; a resume
        compares, since a named set such as ``default`` may change between versions)."""
        # The anchor then holds the actor, on noisy observations, to what the starting actor
        # does on clean ones: the reaction to noise is what a fine-tune under noise unlearns.
        # --noise-smoothing compares the actor with itself on the two.
        clean = (bool(cfg.anchor_weight or cfg.noise_smoothing) and spec is not None
                 and spec.adds_sensor_noise)
        terms = reward_terms(self.env) if self.keeps_reward_terms else None
        self.reward_weights = terms[1] if terms else None
        """Weights of the env's unweighted reward terms (None: the replay keeps none)."""
        self.buffer = FadingReplayBuffer(self.sym.capacity, self.obs_dim, self.act_dim,
                                         self.device, self.critic_dim, clean_obs=clean,
                                         term_names=terms[0] if terms else ())
        self.agent.noise_smoothing = cfg.noise_smoothing
        self.acting_noise = episode_noise(self.sym.act_noise_color, self.act_dim, self.limit)
        """The episode's coloured acting noise (--act-noise-color), or None: white."""
        if clean and cfg.anchor_weight:
            self.notes.append('--anchor-weight: the randomisation adds sensor noise, so the '
                              'actor is anchored, on the noisy observations, to the starting '
                              'actor\'s actions on the same observations without the noise')
        self.mirror = (BatchMirror(*mirror_maps(self.env, cfg.privileged_critic),
                                   device=self.device) if cfg.mirror else None)
        """Mirrors half of each minibatch (--mirror), or None."""
        self.relabel = (command_relabel(self.env, cfg.relabel_commands, self.device, terms)
                        if cfg.relabel_commands else None)
        """Writes new commands into a share of each minibatch (--relabel-commands), or None."""
        if self.relabel is not None:
            self.notes.append(relabel_note(self.relabel))
        self.anchor_free = (anchor_free(self.env, cfg.anchor_free_error, self.device)
                            if cfg.anchor_free_error else None)
        """Marks the rows the anchor lets go (--anchor-free-error), or None."""
        if self.anchor_free is not None:
            e = cfg.anchor_free_error
            self.notes.append(f'--anchor-free-error {e:g}: the anchor lets go of the sampled '
                              f'steps whose base misses its command by more than {e:g} m/s '
                              '(a kick threw it) and holds the rest')

    def _start(self, cfg: TrainConfig, resume: bool, progress: bool, tensorboard: bool) -> None:
        """Take the starting point (fresh, --init-from, or --resume) and open the run's log."""
        self.progress = Progress()
        self._keep_scale = False
        self._ckpt_due, self._obs, self._ep_step = False, None, 0
        self._critic_obs: Optional[np.ndarray] = None
        self.on_evaluation: List[Callable[[Dict[str, float]], None]] = []
        self.on_checkpoint: List[Callable[[Saved], None]] = []
        self.last_saved: Optional[Saved] = None
        self.on_note: List[Callable[[str], None]] = []
        """Called with one line for a person (e.g. each choice of thread count)."""
        if cfg.init_from and not resume:
            self._init_from(cfg.init_from)
            self._symmetrize()
            self.agent.anchor = None  # a source's own anchor is not this run's
            if cfg.anchor_weight:
                self.agent.set_anchor()
        rows = self._restore() if resume else []
        self._symmetrize()
        if resume:
            self._record_curriculum()
        write_run_config(self.run_dir, identity(self.cfg, self.sym))
        self._lock = self._lock or lock_run_dir(self.run_dir)
        self.log = RunLog(self.run_dir, rows, tensorboard, title=self._title())
        self._progress = progress
        self._bar = None
        self._stop_requested = False
        self._rate_mark = (self.step_count, time.perf_counter())
        self._anchor_drift = float('nan')
        self._compile()

    def _compile(self) -> None:
        """Under --compile, compile the loss now for each thread count the run may use.

        At the start, not at the first update: a compiler that fails refuses the run at once,
        and the thread policy never times a compile as an update.
        """
        if not self.cfg.compile:
            return
        if self.device.type != 'cpu':
            self.notes.append('--compile: no effect on a CUDA device (--cuda-graphs is its '
                              'way to cut the launches)')
            return
        self.agent.use_compile()
        self.agent.anchor_weight = self.anchor_weight
        counts = ThreadPolicy(self.cfg.threads or None).counts
        found, t0, state = torch.get_num_threads(), time.perf_counter(), torch.get_rng_state()
        try:
            batch = self.sample(shaped_only=True)
            for n in counts:
                torch.set_num_threads(n)
                self.agent.warm_compile(batch)
        except Exception as exc:  # inductor fails in many types; each means the same here
            reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ''
            raise ValueError(f'--compile: torch.compile could not compile the loss '
                             f'({type(exc).__name__}: {reason}); it needs a C++ compiler '
                             '(g++) and the Python headers; train with --compile false') from None
        finally:
            torch.set_num_threads(found)
            torch.set_rng_state(state)
        self.notes.append(f'--compile: the loss compiled for {", ".join(map(str, counts))} '
                          f'thread(s) in {time.perf_counter() - t0:.0f} s')

    def _symmetrize(self) -> None:
        """Give the actor its mirror maps under --symmetric-actor (once; a source keeps its).

        After an --init-from source is taken, so a trained plain actor goes on symmetric: its
        own answer averaged with its mirrored one, which the anchor then holds it to.
        """
        if self.agent.actor.symmetric and not self.cfg.symmetric_actor:
            self.cfg = dataclasses.replace(self.cfg, symmetric_actor=True)
            self.notes.append('--init-from: the source\'s actor is symmetric by construction, '
                              'and so is this run\'s (--symmetric-actor true)')
        if not self.cfg.symmetric_actor or self.agent.actor.symmetric:
            return
        obs, action, _ = mirror_maps(self.env, False, '--symmetric-actor')
        self.agent.actor.set_mirror(obs, action)

    # ---- run folder ---------------------------------------------------------------------
    def _title(self) -> str:
        name = os.path.basename(os.path.normpath(os.path.abspath(self.run_dir)))
        return f'{name}: {self.sym.name} on {self.cfg.env}, seed {self.cfg.seed}'

    # ---- acting -------------------------------------------------------------------------
    def _act(self, obs: np.ndarray, noise: bool, fall: bool = False) -> np.ndarray:
        x = torch.as_tensor(obs, dtype=torch.float32, device=self.device).unsqueeze(0)
        eps = None
        if noise and self.acting_noise is not None:
            eps = self.acting_noise.at(self._ep_step).to(self.device)
        return (self.agent.act(x, noise=noise, fall=fall, eps=eps)[0]
                .cpu().numpy().astype(np.float64))

    def policy(self, obs: np.ndarray) -> np.ndarray:
        """Deterministic action a = tanh(S*A) for evaluation."""
        with torch.no_grad():
            x = torch.as_tensor(obs, dtype=torch.float32, device=self.device).unsqueeze(0)
            return self.agent.actor.deterministic(x)[0].cpu().numpy().astype(np.float64)

    # ---- the loop -------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        """True once the configured number of steps has been taken."""
        return self.step_count >= self.cfg.steps

    def step(self) -> None:
        """One environment step, then G updates once warm-up is over.

        :raises NonFiniteError: an action, observation, reward or loss term is NaN or Inf.
        """
        p = self.progress
        t0 = time.perf_counter()
        refill = self._refill_left > 0
        if self._obs is None:
            first = p.episodes == 0 and p.step == 0
            set_width = wrapper_attr(self.env, 'set_width')
            if self.cfg.randomize_ramp and set_width is not None:
                width = randomize_width(self.cfg, p.step)
                set_width(width)
                self.log.scalar('train/randomize_width', width, p.step)
            corner = wrapper_attr(self.env, 'corner')
            if corner is not None:
                self.log.scalar('train/corner_depth', corner.depth, p.step)
            reseed = first or self._reseed_env
            self._obs, info = self.env.reset(seed=self.cfg.seed if reseed else None)
            self._reseed_env = False
            self._critic_obs = self._critic_view(info)
            self._ep_step = 0
            if self.acting_noise is not None:
                self.acting_noise.reset()
        # The paper's deliberate fall: near the time limit only noise acts, which feeds
        # terminal transitions into the buffer.
        fall = p.learning and deliberate_fall(self._ep_step + 1, self.limit,
                                              self.sym.fall_steps)
        action = self._act(self._obs, noise=True, fall=fall)
        self._finite('action', action)
        next_obs, reward, terminated, truncated, info = self.env.step(action)
        self._finite('observation', next_obs)
        self._finite('reward', reward)
        next_critic = self._critic_view(info)
        self._ep_step += 1
        truncated = truncated or self._ep_step >= self.limit
        self.buffer.add(self._obs, action, reward, next_obs, terminated, self._critic_obs,
                        next_critic, info.get('clean_obs') if self.buffer.clean_obs else None,
                        info.get('reward_raw') if self.buffer.term_names else None)
        self._obs, self._critic_obs = next_obs, next_critic
        if refill:
            self._refill_step(terminated, truncated)
        else:
            p.step += 1
            if not p.learning and p.step - p.warmup_from >= self.sym.explore_steps:
                self._finish_warmup()
            if p.learning:
                self._update()
            if terminated or truncated:
                p.episodes += 1
            if terminated:
                p.noise_falls += int(fall)
                p.falls += int(not fall)
        if terminated or truncated:
            self._obs = None
        p.wall_s += time.perf_counter() - t0
        if not refill:
            self._periodic(episode_end=self._obs is None)

    def _finish_warmup(self) -> None:
        self._note_input_balance()      # before the warm-up data is tiled over the buffer
        self.buffer.finish_warmup(keep_scale=self._keep_scale)
        self.progress.learning = True

    def _refill_step(self, terminated: bool, truncated: bool) -> None:
        """Count a --refill-steps step: outside the run's steps, episodes and falls."""
        self._refill_left -= 1
        self._refill_counts[0] += int(terminated or truncated)
        self._refill_counts[1] += int(terminated)
        if self._refill_left == 0:
            self._finish_warmup()
            episodes, falls = self._refill_counts
            self._note(f'refill done: {self.cfg.refill_steps:,} steps of the trained actor '
                       f'({episodes:,} episodes ended, {falls:,} by a fall) in the buffer; '
                       f'learning goes on from step {self.step_count:,}')

    def _critic_view(self, info: Dict[str, object]) -> Optional[np.ndarray]:
        """Return a privileged critic's observation from a step's info (None: no such critic)."""
        if self.critic_dim is None:
            return None
        view = info.get('critic_obs')
        if view is None:
            raise ValueError(f'--privileged-critic: env {self.cfg.env} gave no '
                             'info[\'critic_obs\'] at this step')
        self._finite('critic observation', view)
        return view

    def _finite(self, term: str, value: object) -> None:
        """Stop at the first NaN/Inf, naming the step and the term (no checkpoint after it)."""
        if isinstance(value, torch.Tensor):
            ok = bool(torch.isfinite(value).all())
        else:
            ok = bool(np.isfinite(np.asarray(value, dtype=np.float64)).all())
        if not ok:
            last = latest_checkpoint(self.run_dir)
            kept = (f'the last good checkpoint {last} is kept' if last
                    else 'no checkpoint was written')
            raise NonFiniteError(
                f'step {self.step_count:,}: {term} went non-finite (NaN or Inf); training '
                f'stopped, {kept} (a learning rate too high, or an env returning NaN?)')

    def _check_parameters(self) -> None:
        for part in ('actor', 'critic'):
            for name, value in getattr(self.agent, part).named_parameters():
                self._finite(f'{part} parameter {name}', value.detach())

    def _note(self, line: str) -> None:
        for callback in self.on_note:
            callback(line)

    def _note_input_balance(self) -> None:
        """Name the observation terms the warm-up shows the actor's first layer barely sees."""
        terms = obs_terms(self.cfg.env, self.obs_spec) if self.obs_spec else None
        frame = self.obs_dim // self.cfg.history    # the newest frame: each has the same terms
        if terms is None or sum(size for _, size in terms) != frame:
            return
        note = faint_terms_note(self.buffer.ordered('obs').cpu().numpy()[:, :frame], terms,
                                self.obs_spec)
        if note:
            self._note(note)

    def _update(self) -> None:
        # Made at the first update, so the callbacks attached after construction hear it.
        if self.thread_policy is None and (self.device.type == 'cpu' or self.cfg.threads):
            self.thread_policy = ThreadPolicy(self.cfg.threads or None, note=self._note)
        terms, seen = None, []
        self.agent.anchor_weight = self.anchor_weight
        for _ in range(self.sym.updates_per_step):
            t0 = time.perf_counter()
            terms = self.agent.update(self.sample(), self.actor_learns)
            if self.device.type == 'cpu':
                self.thread_policy.record(time.perf_counter() - t0)
            seen.append(torch.stack([terms[k].detach().float().reshape(()) for k in LOSS_TERMS]))
        # One device sync per environment step, not per update.
        values = torch.stack(seen)
        if not bool(torch.isfinite(values).all()):
            bad = LOSS_TERMS[int((~torch.isfinite(values)).any(0).nonzero()[0])]
            self._finite(f'loss term {bad}', values)
        self.progress.updates += self.sym.updates_per_step
        if self.step_count % 100 == 0:
            self.progress.mean_s = float(terms['mean_S'])
            if self.thread_policy is not None:
                self.log.scalar('train/threads', self.thread_policy.threads, self.step_count)
            for key in LOSS_TERMS:
                self.log.scalar(f'loss/{key}', float(terms[key].detach()), self.step_count)
            if 'noise_gap' in terms:
                self.log.scalar('loss/noise_gap', float(terms['noise_gap']), self.step_count)
            if 'anchor' in terms:
                self._anchor_drift = float(terms['anchor'])
                self.log.scalar('loss/anchor', self._anchor_drift, self.step_count)
                self.log.scalar('train/anchor_weight', self.agent.anchor_weight,
                                self.step_count)

    @property
    def anchor_weight(self) -> float:
        """The anchor's weight now: --anchor-weight fading linearly to --anchor-floor."""
        cfg = self.cfg
        left = min(1.0, max(0.0, 1.0 - (self.step_count - cfg.actor_frozen_steps) /
                            cfg.anchor_steps))
        return cfg.anchor_floor + (cfg.anchor_weight - cfg.anchor_floor) * left

    @property
    def actor_learns(self) -> bool:
        """Whether updates train the actor now: not those of the first --actor-frozen-steps."""
        return self.step_count > self.cfg.actor_frozen_steps

    def sample(self, shaped_only: bool = False) -> Batch:
        """Return a minibatch from the replay, half of it mirrored under --mirror.

        :param shaped_only: a batch of the same shapes that draws no stored transition.
        """
        n = self.sym.batch_size
        batch = self.buffer.shaped_batch(n) if shaped_only else self.buffer.sample(n)
        if self.anchor_free is not None:     # by the command the step was taken under
            batch = self.anchor_free(batch)
        if self.relabel is not None:
            batch = self.relabel(batch, self.buffer.reward_scale)
        return batch if self.mirror is None else self.mirror(batch)

    def _periodic(self, episode_end: bool) -> None:
        if self._bar is not None:
            self._bar.update(1)
        if self.learning and self.step_count % self.cfg.eval_every == 0:
            self.evaluate_and_log()
        if self.step_count % self.cfg.checkpoint_every == 0:
            self._ckpt_due = True
        # Checkpoints wait for an episode boundary: the env is then freshly reset, so a
        # resume reproduces the uninterrupted run exactly without serialising the simulator.
        if self._ckpt_due and episode_end:
            self.save()

    def evaluate_and_log(self) -> Dict[str, float]:
        """Evaluate the deterministic actor, log a metrics row and track the best actor.

        :raises NonFiniteError: the test return is NaN/Inf (never recorded as a best).
        """
        p = self.progress
        t0 = time.perf_counter()
        cfg = self.cfg
        result = evaluate_run(self.test_env, self.policy, cfg.eval_protocol, cfg.seed,
                              self.step_count, cfg.eval_episodes, max_steps=self.limit)
        corner = (self.corner_test.run(self.policy, cfg.seed, self.step_count, self.limit)
                  if self.corner_test is not None else {})
        p.wall_s += time.perf_counter() - t0
        return self.record_evaluation(result, self.agent.actor,
                                      dict(self.progress_row(), **corner))

    def progress_row(self) -> Dict[str, float]:
        """Return the run's counters now: a metrics row without its test figures.

        ``steps_per_s`` covers the steps since the previous call.
        """
        p = self.progress
        steps0, t_mark = self._rate_mark
        now = time.perf_counter()
        sps = (p.step - steps0) / max(now - t_mark, 1e-9)
        self._rate_mark = (p.step, now)
        row = {'step': p.step, 'episodes': p.episodes, 'falls': p.falls,
               'noise_falls': p.noise_falls, 'mean_S': p.mean_s, 'steps_per_s': sps,
               'updates': p.updates, 'reward_scale': self.buffer.reward_scale, 'wall_s': p.wall_s}
        if self.cfg.anchor_weight:
            # The actor's mean squared action distance from its start, last seen, and the
            # anchor's weight now: how far a fine-tune has moved while it was held.
            row.update(anchor_weight=self.anchor_weight, anchor_drift=self._anchor_drift)
        return row

    def record_evaluation(self, result: EvalResult, actor: torch.nn.Module,
                          at: Dict[str, float]) -> Dict[str, float]:
        """Log the row ``at`` (from :meth:`progress_row`) with ``result``, the test of ``actor``.

        Kept apart from the evaluation itself so that a learner which evaluates elsewhere
        (symphony_ros.distributed) logs and keeps its best actor the same way.

        :raises NonFiniteError: the test return is NaN/Inf (never recorded as a best).
        """
        p = self.progress
        self._finite('test return', result.mean)
        row = dict(at, test_return_mean=result.mean, test_return_std=result.std,
                   **{f'{TERM_PREFIX}{name}': v for name, v in result.terms.items()})
        self.log.record(row)
        p.last_return = result.mean
        if result.mean > p.best_return:
            p.best_return = result.mean
            row['new_best'] = 1.0
        # The paper protocol keeps the current actor, the fixed one the best.
        if self.cfg.eval_protocol == 'paper' or row.get('new_best') or self.cfg.keep_actors:
            self._check_parameters()
        info = self._info(result.mean, int(at['step']))
        if self.cfg.eval_protocol == 'paper' or row.get('new_best'):
            save_best_actor(self.run_dir, actor, info)
        if self.cfg.keep_actors:
            keep_actor(self.run_dir, actor, info)
        for callback in self.on_evaluation:
            callback(row)
        return row

    def request_stop(self) -> None:
        """Make :meth:`run` end after the current step with a checkpoint (signal-safe)."""
        self._stop_requested = True

    @property
    def stopped(self) -> bool:
        """True once :meth:`request_stop` was called."""
        return self._stop_requested

    def run(self, max_steps: Optional[int] = None) -> Dict[str, float]:
        """Train until done (or for ``max_steps`` more steps, or a stop request).

        A stop request writes a checkpoint at the step reached, so ``--resume`` loses nothing.
        :returns: :meth:`summary`.
        :raises NonFiniteError: training went numerically wrong (see :meth:`step`).
        """
        stop_at = self.cfg.steps if max_steps is None else min(self.cfg.steps,
                                                               self.step_count + max_steps)
        if self._progress and self._bar is None:
            from tqdm import tqdm
            self._bar = tqdm(total=self.cfg.steps, initial=self.step_count, unit='step',
                             dynamic_ncols=True, desc=f'{self.sym.name} {self.cfg.env}')
        try:
            while self.step_count < stop_at and not self._stop_requested:
                was_learning = self.learning
                self.step()
                if self._bar is not None and (self.step_count % 50 == 0
                                              or self.learning != was_learning
                                              or self._refill_left % 1000 == 999):
                    self._show_progress()
            if self.done:
                if not self.log.rows or self.log.rows[-1]['step'] != self.step_count:
                    self.evaluate_and_log()
                self.save()
            elif self._stop_requested and self._refill_left:
                self._note('stopped during the refill: nothing saved, the checkpoint resumed '
                           'from stands (a --resume refills again)')
            elif self._stop_requested:
                self.save()
        finally:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
        return self.summary()

    def _show_progress(self) -> None:
        """Postfix and time estimate of the bar: nothing shown before there is something.

        Warm-up steps are many times faster than learning ones, so the bar's remaining
        time is hidden until learning starts (tqdm's estimate would be far too short).
        """
        bar = self._bar
        if not self.learning:
            bar.bar_format = ('{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}, {rate_fmt}, '
                              'remaining: after warm-up{postfix}]')
        elif bar.bar_format is not None:
            bar.bar_format = None
            bar.start_t, bar.last_print_n = bar._time(), bar.n  # rate from learning steps
        p = self.progress
        phase = 'learn' if self.learning else 'warm-up'
        if self._refill_left:
            phase = f'refill, {self._refill_left:,} steps to go'
        post = {'phase': phase, 'falls': str(p.falls)}
        if math.isfinite(p.last_return):
            post['test'] = f'{p.last_return:.0f}'
        if math.isfinite(p.mean_s):
            post['S'] = f'{p.mean_s:.2f}'
        bar.set_postfix(post, refresh=bool(self._refill_left))   # no step moves the bar

    def summary(self) -> Dict[str, float]:
        """Headline figures of the run so far."""
        p = self.progress
        return {'step': p.step, 'episodes': p.episodes, 'falls': p.falls,
                'updates': p.updates, 'last_test_return': p.last_return,
                'best_test_return': p.best_return, 'wall_s': p.wall_s}

    def __enter__(self) -> 'Trainer':
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release environments and logs; torch gets its thread count back.

        ``with Trainer(cfg) as trainer:`` calls it however the block ends, so that the run
        folder's lock and the environments are released after an error too.
        """
        if self._closed:
            return
        self._closed = True
        if self.thread_policy is not None:
            self.thread_policy.restore()
            self.thread_policy = None
        # Only the parts built: a refused start closes what it got to.
        for name in ('log', 'env', 'test_env', 'corner_test'):
            part = getattr(self, name, None)
            if part is not None:
                part.close()
        if self._lock is not None:
            unlock_run_dir(self._lock)
            self._lock = None

    # ---- checkpoints ---------------------------------------------------------------------
    def _info(self, test_return: float, step: Optional[int] = None) -> Dict[str, object]:
        return dict(identity(self.cfg, self.sym), obs_dim=self.obs_dim, act_dim=self.act_dim,
                    critic_dim=self.agent.critic_dim, obs_spec=self.obs_spec,
                    obs_scales=self.obs_scales, randomization=self.randomization,
                    test_return=test_return, step=self.step_count if step is None else step)

    def save(self) -> str:
        """Write a checkpoint now (also mid-episode: a resume then starts a new episode).

        :returns: the checkpoint's path; :attr:`last_saved` has its sizes and write time.
        :raises NonFiniteError: a network parameter is NaN/Inf (the last good one is kept).
        """
        self._check_parameters()
        state = self._info(self.last_return)
        state.update({
            'agent': self.agent.state_dict(),
            'progress': dataclasses.asdict(self.progress),
            'mid_episode': self._obs is not None,
            'reward_scale': self.buffer.reward_scale,
            # What `symphony branch` counts a newer replay back by to rewind it to here.
            'replay_counts': [self.buffer.adds, self.buffer.recycled],
            'rng': {'torch': torch.get_rng_state(), 'env': json.dumps(get_rng_state(self.env)),
                    'cuda': (torch.cuda.get_rng_state_all() if self.device.type == 'cuda'
                             else [])},
            'metrics': self.log.rows})
        corner = wrapper_attr(self.env, 'corner_state')
        if corner is not None and corner() is not None:
            state['corner'] = corner()
        replay = self.buffer.state_dict() if self.cfg.exact_resume else None
        saved = save_checkpoint(self.run_dir, self.step_count, state, replay,
                                keep_all=self.cfg.keep_checkpoints)
        self._ckpt_due, self.last_saved = False, saved
        for callback in self.on_checkpoint:
            callback(saved)
        return saved.path

"""The Symphony training loop.

Warm-up, reward scaling, G updates per step, evaluation, checkpoints and exact resume.

Usable from the CLI (``symphony train``), from the ROS trainer node (which calls
:meth:`Trainer.step` from a timer and reacts to :attr:`Trainer.on_evaluation`), and from tests.
"""

from __future__ import annotations

import json
import os
import time
from typing import Callable, Dict, List, Optional

import numpy as np
import torch

from .agent import Symphony
from .checkpoint import (CheckpointError, latest_checkpoint, load_checkpoint, load_replay,
                         save_checkpoint)
from .config import SymphonyConfig, TrainConfig
from .envs import (canonical_env_id, check_env_name, default_obs_spec, env_dims,
                   episode_limit, get_rng_state, make_env, make_randomized_env,
                   randomization, set_rng_state)
from .evaluation import EvalResult, evaluate
from .replay import FadingReplayBuffer
from .run_log import TERM_PREFIX, RunLog
from .snapshot import save_best_actor

CONFIG_FILE = 'config.json'


class RunDirError(ValueError):
    """A run folder that cannot be used as asked (another run, nothing to resume...)."""


def resolve_device(name: str) -> torch.device:
    """Map auto/cpu/cuda to a device; cuda without CUDA is an error."""
    if name == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    if name == 'cuda' and not torch.cuda.is_available():
        raise ValueError('--device cuda asked for, but torch sees no CUDA device '
                         f'(torch {torch.__version__})')
    if name not in ('cpu', 'cuda'):
        raise ValueError(f'unknown device {name!r}; expected auto, cpu or cuda')
    return torch.device(name)


def validate(cfg: TrainConfig) -> SymphonyConfig:
    """Check a TrainConfig before anything is created; return its Symphony config."""
    if cfg.steps <= 0:
        raise ValueError(f'steps must be positive, got {cfg.steps}')
    for name in ('eval_every', 'eval_episodes', 'checkpoint_every'):
        if getattr(cfg, name) <= 0:
            raise ValueError(f'{name} must be positive, got {getattr(cfg, name)}')
    check_env_name(cfg.env)
    randomization(cfg.env, cfg.randomize, cfg.randomize_scale)
    return cfg.symphony()


class Trainer:
    """One training run in one run folder."""

    def __init__(self, cfg: TrainConfig, resume: bool = False, progress: bool = True,
                 tensorboard: bool = True) -> None:
        self.sym = validate(cfg)
        self.cfg, self.run_dir = cfg, cfg.run_dir
        self._claim_run_dir(resume)
        self.device = resolve_device(cfg.device)
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed % 2**32)
        # Training only: evaluation sees the nominal robot (randomization.jsonl: the draws).
        self.env = make_randomized_env(
            cfg.env, cfg.obs_spec, randomization(cfg.env, cfg.randomize, cfg.randomize_scale),
            os.path.join(self.run_dir, 'randomization.jsonl'))
        self.test_env = make_env(cfg.env, cfg.obs_spec)
        self.obs_dim, self.act_dim = env_dims(self.env)
        # Record the spec actually used, so an export never guesses it from the env's default.
        self.obs_spec = cfg.obs_spec or default_obs_spec(cfg.env)
        self.limit = cfg.episode_limit or episode_limit(self.env)
        self.agent = Symphony(self.obs_dim, self.act_dim, self.sym, self.device)
        self.buffer = FadingReplayBuffer(self.sym.capacity, self.obs_dim, self.act_dim,
                                         self.device)
        self.step_count, self.episodes, self.falls, self.updates = 0, 0, 0, 0
        self.learning, self.wall_s, self.mean_s = False, 0.0, float('nan')
        self.best_return, self.last_return = -float('inf'), float('nan')
        self._ckpt_due, self._obs, self._ep_step = False, None, 0
        self.on_evaluation: List[Callable[[Dict[str, float]], None]] = []
        rows = self._restore() if resume else []
        self.log = RunLog(self.run_dir, rows, tensorboard)
        self._progress = progress
        self._bar = None
        self._stop_requested = False
        self._rate_mark = (self.step_count, time.perf_counter())

    # ---- run folder -------------------------------------------------------------------
    def _claim_run_dir(self, resume: bool) -> None:
        path = os.path.join(self.run_dir, CONFIG_FILE)
        mine = {'train_config': self.cfg.to_dict(), 'symphony_config': self.sym.to_dict()}
        if os.path.exists(path):
            if not resume:
                raise RunDirError(f'{self.run_dir} already holds a run ({path}); pass --resume '
                                  'to continue it or choose another --run-dir')
            with open(path) as f:
                theirs = json.load(f)
            ignore = ('steps', 'device')
            a = {k: v for k, v in theirs.get('train_config', {}).items() if k not in ignore}
            b = {k: v for k, v in mine['train_config'].items() if k not in ignore}
            for d in (a, b):  # a run of Humanoid-v4 resumes as symphony/Humanoid-v4
                d['env'] = canonical_env_id(d.get('env', ''))
            if a != b or theirs.get('symphony_config') != mine['symphony_config']:
                diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
                raise RunDirError(f'{path} was written by another run configuration '
                                  f'(differs in: {", ".join(diff) or "symphony_config"})')
        elif resume:
            raise RunDirError(f'--resume: {self.run_dir} holds no run ({CONFIG_FILE} missing)')
        os.makedirs(self.run_dir, exist_ok=True)
        tmp = path + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(mine, f, indent=2)
        os.replace(tmp, path)

    # ---- acting -------------------------------------------------------------------------
    def _act(self, obs: np.ndarray, noise: bool, act: bool = True) -> np.ndarray:
        x = torch.as_tensor(obs, dtype=torch.float32, device=self.device).unsqueeze(0)
        return self.agent.act(x, noise=noise, act=act)[0].cpu().numpy().astype(np.float64)

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
        """One environment step, then G updates once warm-up is over."""
        t0 = time.perf_counter()
        if self._obs is None:
            first = self.episodes == 0 and self.step_count == 0
            self._obs, _ = self.env.reset(seed=self.cfg.seed if first else None)
            self._ep_step = 0
        # The paper's deliberate fall: near the time limit only noise acts, which feeds
        # terminal transitions into the buffer.
        active = not self.learning or self._ep_step < self.limit - self.sym.fall_steps
        action = self._act(self._obs, noise=True, act=active)
        next_obs, reward, terminated, truncated, _ = self.env.step(action)
        self._ep_step += 1
        truncated = truncated or self._ep_step >= self.limit
        self.buffer.add(self._obs, action, reward, next_obs, terminated)
        self.step_count += 1
        self._obs = next_obs
        if not self.learning and self.step_count >= self.sym.explore_steps:
            self.buffer.finish_warmup()
            self.learning = True
        if self.learning:
            self._update()
        if terminated or truncated:
            self.episodes += 1
            self.falls += int(terminated)
            self._obs = None
        self.wall_s += time.perf_counter() - t0
        self._periodic(episode_end=self._obs is None)

    def _update(self) -> None:
        terms = None
        for _ in range(self.sym.updates_per_step):
            terms = self.agent.update(self.buffer.sample(self.sym.batch_size))
        self.updates += self.sym.updates_per_step
        if self.step_count % 100 == 0:
            self.mean_s = float(terms['mean_S'])
            for key in ('loss', 'actor', 'critic', 'swaddling', 'mean_S'):
                self.log.scalar(f'loss/{key}', float(terms[key].detach()), self.step_count)

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
        """Evaluate the deterministic actor, log a metrics row and track the best actor."""
        t0 = time.perf_counter()
        result: EvalResult = evaluate(self.test_env, self.policy, self.cfg.eval_episodes,
                                      self.cfg.seed, max_steps=self.limit)
        self.wall_s += time.perf_counter() - t0
        return self.record_evaluation(result, self.agent.actor, self.progress_row())

    def progress_row(self) -> Dict[str, float]:
        """Return the run's counters now: a metrics row without its test figures.

        ``steps_per_s`` covers the steps since the previous call.
        """
        steps0, t_mark = self._rate_mark
        now = time.perf_counter()
        sps = (self.step_count - steps0) / max(now - t_mark, 1e-9)
        self._rate_mark = (self.step_count, now)
        return {'step': self.step_count, 'episodes': self.episodes, 'falls': self.falls,
                'mean_S': self.mean_s, 'steps_per_s': sps, 'updates': self.updates,
                'reward_scale': self.buffer.reward_scale, 'wall_s': self.wall_s}

    def record_evaluation(self, result: EvalResult, actor: torch.nn.Module,
                          at: Dict[str, float]) -> Dict[str, float]:
        """Log the row ``at`` (from :meth:`progress_row`) with ``result``, the test of ``actor``.

        Kept apart from the evaluation itself so that a learner which evaluates elsewhere
        (symphony_ros.distributed) logs and keeps its best actor the same way.
        """
        row = dict(at, test_return_mean=result.mean, test_return_std=result.std,
                   **{f'{TERM_PREFIX}{name}': v for name, v in result.terms.items()})
        self.log.record(row)
        self.last_return = result.mean
        if result.mean > self.best_return:
            self.best_return = result.mean
            save_best_actor(self.run_dir, actor, self._info(result.mean, int(at['step'])))
            row['new_best'] = 1.0
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
        """
        stop_at = self.cfg.steps if max_steps is None else min(self.cfg.steps,
                                                               self.step_count + max_steps)
        if self._progress and self._bar is None:
            from tqdm import tqdm
            self._bar = tqdm(total=self.cfg.steps, initial=self.step_count, unit='step',
                             dynamic_ncols=True, desc=f'{self.sym.name} {self.cfg.env}')
        try:
            while self.step_count < stop_at and not self._stop_requested:
                self.step()
                if self._bar is not None and self.step_count % 50 == 0:
                    self._bar.set_postfix(self._postfix(), refresh=False)
            if self.done:
                if not self.log.rows or self.log.rows[-1]['step'] != self.step_count:
                    self.evaluate_and_log()
                self.save()
            elif self._stop_requested:
                self.save()
        finally:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
        return self.summary()

    def _postfix(self) -> Dict[str, str]:
        return {'test': f'{self.last_return:.0f}', 'falls': str(self.falls),
                'S': f'{self.mean_s:.2f}', 'phase': 'learn' if self.learning else 'warm-up'}

    def summary(self) -> Dict[str, float]:
        """Headline figures of the run so far."""
        return {'step': self.step_count, 'episodes': self.episodes, 'falls': self.falls,
                'updates': self.updates, 'last_test_return': self.last_return,
                'best_test_return': self.best_return, 'wall_s': self.wall_s}

    def close(self) -> None:
        """Release environments and logs."""
        self.log.close()
        self.env.close()
        self.test_env.close()

    # ---- checkpoints ---------------------------------------------------------------------
    def _info(self, test_return: float, step: Optional[int] = None) -> Dict[str, object]:
        return {'train_config': self.cfg.to_dict(), 'symphony_config': self.sym.to_dict(),
                'obs_dim': self.obs_dim, 'act_dim': self.act_dim,
                'obs_spec': self.obs_spec,
                'step': self.step_count if step is None else step, 'test_return': test_return}

    def save(self) -> str:
        """Write a checkpoint now (also mid-episode: a resume then starts a new episode)."""
        state = self._info(self.last_return)
        state.update({
            'agent': self.agent.state_dict(),
            'progress': {'episodes': self.episodes, 'falls': self.falls,
                         'updates': self.updates, 'learning': self.learning,
                         'wall_s': self.wall_s, 'mean_S': self.mean_s,
                         'best_return': self.best_return, 'last_return': self.last_return,
                         'mid_episode': self._obs is not None},
            'rng': {'torch': torch.get_rng_state(), 'env': json.dumps(get_rng_state(self.env)),
                    'cuda': (torch.cuda.get_rng_state_all() if self.device.type == 'cuda'
                             else [])},
            'metrics': self.log.rows})
        path = save_checkpoint(self.run_dir, self.step_count, state, self.buffer.state_dict())
        self._ckpt_due = False
        return path

    def _restore(self) -> List[Dict[str, float]]:
        path = latest_checkpoint(self.run_dir)
        if path is None:
            raise RunDirError(f'--resume: {self.run_dir} has no checkpoint yet')
        state = load_checkpoint(path)
        for key in ('obs_dim', 'act_dim'):
            if state[key] != getattr(self, key):
                raise CheckpointError(f'{path}: {key} {state[key]} does not match the env '
                                      f'({getattr(self, key)})')
        self.agent.load_state_dict(state['agent'])
        step = int(state['step'])
        self.buffer.load_state_dict(load_replay(self.run_dir, step))
        p = state['progress']
        self.step_count, self.episodes, self.falls = step, p['episodes'], p['falls']
        self.updates, self.learning, self.wall_s = p['updates'], p['learning'], p['wall_s']
        self.mean_s, self.best_return, self.last_return = (p['mean_S'], p['best_return'],
                                                           p['last_return'])
        torch.set_rng_state(state['rng']['torch'])
        if state['rng']['cuda'] and self.device.type == 'cuda':
            torch.cuda.set_rng_state_all(state['rng']['cuda'])
        set_rng_state(self.env, json.loads(state['rng']['env']))
        return list(state.get('metrics', []))

"""The two kinds of Ray actor of a distributed run, as plain classes (no Ray import here).

:class:`Collector` steps its own training environment (randomised as the run says) with a
CPU copy of the actor and returns transition chunks; :class:`Evaluator` runs the
deterministic test episodes of the run's protocol on the nominal env. Both build their env
with the trainer's :func:`~symphony_ros.core.envs.make_run_env` and the evaluator evaluates
with its :func:`~symphony_ros.core.evaluation.evaluate_run`, so a distributed run trains and
evaluates as one process does. The learner wraps them with ``ray.remote``; tests may also
call them directly.
"""

from __future__ import annotations

import copy
import os
import time
from typing import Any, Dict, Optional

import numpy as np
import torch

from ..core.acting_noise import episode_noise
from ..core.agent import deliberate_fall
from ..core.config import SymphonyConfig, TrainConfig
from ..core.envs import env_dims, episode_limit, make_run_env
from ..core.evaluation import EvalResult, evaluate_run
from ..core.networks import Actor

Weights = Dict[str, torch.Tensor]


class _Worker:
    """An environment of the run's kind and an actor network shaped like the learner's."""

    randomized = False
    """Whether the env is the run's training env (randomised) or its test env (nominal)."""

    def __init__(self, train_config: Dict[str, Any], obs_dim: int, act_dim: int) -> None:
        # One CPU per worker: torch's default thread pool would fight the other workers.
        torch.set_num_threads(1)
        self.cfg = TrainConfig(**train_config)
        self.sym: SymphonyConfig = self.cfg.symphony()
        self.env = make_run_env(self.cfg, randomized=self.randomized)
        if env_dims(self.env) != (obs_dim, act_dim):
            raise ValueError(f'{self.cfg.env} here has (obs, act) dims {env_dims(self.env)}, '
                             f'the learner\'s has {(obs_dim, act_dim)}: another version of '
                             'the env on this worker?')
        self.limit = self.cfg.episode_limit or episode_limit(self.env)
        self.actor = Actor(obs_dim, act_dim, self.sym.hidden_dim, self.sym.noise_clip,
                           act_noise_clip=self.sym.acting_noise_clip)
        self.actor.requires_grad_(False)

    def pid(self) -> int:
        """Return this worker's process id (for fault-injection tests and logs)."""
        return os.getpid()


def _batch(obs: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(obs, dtype=torch.float32).unsqueeze(0)


class Collector(_Worker):
    """One environment, a seeded stream and an actor copy; steps when the learner asks.

    :param run_id: the learner session's id, stamped on every chunk.
    :param index: this collector's number, 0..N-1.
    """

    randomized = True

    def __init__(self, run_id: str, index: int, train_config: Dict[str, Any], obs_dim: int,
                 act_dim: int) -> None:
        super().__init__(train_config, obs_dim, act_dim)
        self.run_id, self.index = run_id, index
        self.version = -1
        self._obs: Optional[np.ndarray] = None
        self._ep_step = 0
        self._seed: Optional[int] = None
        self._noise = episode_noise(self.sym.act_noise_color, act_dim, self.limit)

    def collect(self, rows: int, learning: bool, seed: int, weights: Optional[Weights] = None,
                version: int = -1) -> Dict[str, Any]:
        """Step ``rows`` times with exploration noise; return the chunk (see chunks.py).

        :param learning: whether the learner is past warm-up: then the last ``fall_steps``
            of an episode are noise only (the paper's deliberate fall), as in the trainer.
        :param seed: seeds this process's env and noise on its first call only, so the
            learner gives a restarted collector a fresh stream.
        :param weights: new actor weights (None: keep the current ones), of update ``version``.
        """
        if weights is not None:
            self.actor.load_state_dict(weights)
            self.version = version
        first = self._seed is None
        if first:
            self._seed = seed
            torch.manual_seed(seed)
        t0 = time.perf_counter()
        obs_dim, act_dim = self.actor.obs_dim, self.actor.act_dim
        out = {'obs': np.zeros((rows, obs_dim), np.float32),
               'action': np.zeros((rows, act_dim), np.float32),
               'reward': np.zeros(rows, np.float32),
               'next_obs': np.zeros((rows, obs_dim), np.float32),
               'terminated': np.zeros(rows, bool), 'episode_end': np.zeros(rows, bool),
               'noise_fall': np.zeros(rows, bool)}
        draws = []
        for i in range(rows):
            if self._obs is None:
                reset_seed = seed if first else None
                self._obs, info = self.env.reset(seed=reset_seed)
                first, self._ep_step = False, 0
                self._record(info, draws)
                if self._noise is not None:
                    self._noise.reset()
            fall = learning and deliberate_fall(self._ep_step + 1, self.limit,
                                                self.sym.fall_steps)
            eps = None if self._noise is None else self._noise.at(self._ep_step)
            action = self.actor(_batch(self._obs), noise=True, fall=fall, eps=eps)[0][0]
            action = action.numpy().astype(np.float64)
            next_obs, reward, terminated, truncated, info = self.env.step(action)
            self._record(info, draws)
            self._ep_step += 1
            end = terminated or truncated or self._ep_step >= self.limit
            out['obs'][i], out['action'][i], out['reward'][i] = self._obs, action, reward
            out['next_obs'][i], out['terminated'][i], out['episode_end'][i] = (
                next_obs, terminated, end)
            out['noise_fall'][i] = terminated and fall
            self._obs = None if end else next_obs
        out.update(run_id=self.run_id, collector=self.index, weights_version=self.version,
                   collect_s=time.perf_counter() - t0, randomization=draws)
        return out

    def _record(self, info: Dict[str, Any], records: list) -> None:
        """Keep an ended episode's line (the one one process writes) and who ran it."""
        if 'episode_record' in info:
            records.append({**copy.deepcopy(info['episode_record']), 'collector': self.index})


class Evaluator(_Worker):
    """Runs the test episodes of given weights, off the learner's critical path."""

    @property
    def randomized(self) -> bool:
        """The run's test env: randomised only when the run asks (eval_randomized)."""
        return self.cfg.eval_randomized

    def evaluate(self, weights: Weights, evaluation: int) -> EvalResult:
        """Evaluate the deterministic actor of ``weights`` as the trainer does in process.

        :param evaluation: the step the evaluation is taken at (its key in the protocol).
        """
        self.actor.load_state_dict(weights)

        def policy(obs: np.ndarray) -> np.ndarray:
            return self.actor.deterministic(_batch(obs))[0].numpy().astype(np.float64)
        cfg = self.cfg
        return evaluate_run(self.env, policy, cfg.eval_protocol, cfg.seed, evaluation,
                            cfg.eval_episodes, max_steps=self.limit)

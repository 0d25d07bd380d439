"""Deterministic evaluation of a policy in an environment (the in-process reference)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List

import gymnasium as gym
import numpy as np

EVAL_SEED_OFFSET = 10_000
"""Test episode k of a run seeded s starts from reset(seed=s + offset + k): every
evaluation of a run sees the same initial states, so successive figures compare."""


@dataclass
class EvalResult:
    """Per-episode outcomes of an evaluation."""

    returns: List[float]
    lengths: List[int]
    falls: int
    terms: Dict[str, float] = field(default_factory=dict)
    """Reward term -> its mean per-episode sum (envs reporting ``info['reward_terms']``)."""

    @property
    def mean(self) -> float:
        """Mean episode return."""
        return float(np.mean(self.returns))

    @property
    def std(self) -> float:
        """Standard deviation of the episode returns."""
        return float(np.std(self.returns))


def evaluate(env: gym.Env, policy: Callable[[np.ndarray], np.ndarray], episodes: int,
             seed: int, max_steps: int | None = None) -> EvalResult:
    """Run ``episodes`` episodes with ``policy`` (obs -> action), seeded per episode.

    :param max_steps: cap on episode length beyond the env's own time limit.
    """
    returns, lengths, falls, terms = [], [], 0, {}
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + EVAL_SEED_OFFSET + k)
        total, steps = 0.0, 0
        while True:
            obs, reward, terminated, truncated, info = env.step(policy(obs))
            total += float(reward)
            for name, value in info.get('reward_terms', {}).items():
                terms[name] = terms.get(name, 0.0) + float(value)
            steps += 1
            if terminated:
                falls += 1
            if terminated or truncated or (max_steps is not None and steps >= max_steps):
                break
        returns.append(total)
        lengths.append(steps)
    return EvalResult(returns, lengths, falls,
                      {name: total / episodes for name, total in terms.items()})

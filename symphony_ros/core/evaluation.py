"""Deterministic evaluation of a policy in an environment (the in-process reference)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import gymnasium as gym
import numpy as np

EVAL_SEED_OFFSET = 10_000
"""Test episode k of a run seeded s starts from reset(seed=s + offset + k) under the fixed
protocol: every evaluation of a run sees the same initial states, so successive figures
compare."""

PROTOCOLS = ('fixed', 'paper')
"""``fixed``: the run's eval_episodes from the same seeds each time, the best actor kept.
``paper``: as the reference, 25 episodes from fresh initial states per evaluation and the
current actor kept, so a curve can be set beside the paper's without selection on seeds."""

PAPER_EPISODES = 25
"""Test episodes per evaluation in the reference implementation."""


def episode_seeds(protocol: str, seed: int, evaluation: int, episodes: int) -> List[int]:
    """Reset seeds of one evaluation's episodes.

    Fresh seeds (``paper``) are drawn from (run seed, evaluation key), not from the OS: a
    run stays reproducible and its resume exact, yet no two evaluations share a seed.

    :param evaluation: a key unique to the evaluation within its run (the env step).
    """
    if protocol == 'fixed':
        return [seed + EVAL_SEED_OFFSET + k for k in range(episodes)]
    if protocol == 'paper':
        state = np.random.SeedSequence([seed, evaluation]).generate_state(episodes)
        return [int(s) for s in state]
    raise ValueError(f'unknown evaluation protocol {protocol!r}; expected '
                     f'{" or ".join(PROTOCOLS)}')


@dataclass
class EvalResult:
    """Per-episode outcomes of an evaluation."""

    returns: List[float]
    lengths: List[int]
    fell: List[bool]
    """Whether each episode ended in a fall, in order."""
    terms: Dict[str, float] = field(default_factory=dict)
    """Reward term -> its mean per-episode sum (envs reporting ``info['reward_terms']``)."""

    @property
    def falls(self) -> int:
        """Episodes that ended in a fall."""
        return sum(self.fell)

    @property
    def mean(self) -> float:
        """Mean episode return."""
        return float(np.mean(self.returns))

    @property
    def std(self) -> float:
        """Standard deviation of the episode returns."""
        return float(np.std(self.returns))


def evaluate(env: gym.Env, policy: Callable[[np.ndarray], np.ndarray], episodes: int,
             seed: int, max_steps: int | None = None,
             seeds: Optional[Sequence[int]] = None) -> EvalResult:
    """Run ``episodes`` episodes with ``policy`` (obs -> action), seeded per episode.

    :param max_steps: cap on episode length beyond the env's own time limit.
    :param seeds: reset seeds, one per episode (then ``episodes`` and ``seed`` are unused);
        by default the fixed protocol's.
    """
    if seeds is None:
        seeds = episode_seeds('fixed', seed, 0, episodes)
    returns, lengths, fell, terms = [], [], [], {}
    for episode_seed in seeds:
        obs, _ = env.reset(seed=int(episode_seed))
        total, steps = 0.0, 0
        while True:
            obs, reward, terminated, truncated, info = env.step(policy(obs))
            total += float(reward)
            for name, value in info.get('reward_terms', {}).items():
                terms[name] = terms.get(name, 0.0) + float(value)
            steps += 1
            if terminated or truncated or (max_steps is not None and steps >= max_steps):
                break
        returns.append(total)
        lengths.append(steps)
        fell.append(bool(terminated))
    return EvalResult(returns, lengths, fell,
                      {name: total / len(seeds) for name, total in terms.items()})


def evaluate_run(env: gym.Env, policy: Callable[[np.ndarray], np.ndarray], protocol: str,
                 seed: int, evaluation: int, episodes: int,
                 max_steps: int | None = None) -> EvalResult:
    """One evaluation of a run under its ``protocol`` (see :data:`PROTOCOLS`).

    The one place a protocol turns into episodes, wherever the evaluation runs (in the
    trainer, on a Ray evaluator), so both evaluate alike.

    :param seed: the run's seed.
    :param evaluation: the evaluation's key within its run (the env step it was taken at).
    :param episodes: the run's eval_episodes (the paper protocol runs PAPER_EPISODES).
    """
    count = PAPER_EPISODES if protocol == 'paper' else episodes
    seeds = episode_seeds(protocol, seed, evaluation, count)
    return evaluate(env, policy, count, seed, max_steps=max_steps, seeds=seeds)

"""The adaptive corner's test: the deterministic actor at the corner, at each evaluation.

A ranges file's ``hard_depth: auto`` with ``hard_tests: N``: every evaluation also runs N
episodes of the deterministic actor with every `ranges.HARD_END` knob at the corner's depth
now (the training env's width and the rest of its ranges), and their falls move the depth
(`corner_depth.CornerDepth`) in place of the training episodes drawn at the corner. Those
are acted with exploration noise, which can fell an actor whatever the robot is, so a depth
judged on them may never move; the deterministic actor is the one that ships.

Seeds come from the run's seed and the evaluation's step: fresh for every test, so the depth
does not climb by learning a few fixed episodes, and the same for a resumed run.
"""

from __future__ import annotations

import time
from typing import Callable, Dict, List, Optional

import gymnasium as gym
import numpy as np

from .envs import wrapper_attr
from .evaluation import evaluate

CORNER_STREAM = 0xC0
"""Mixed into the test's seeds, so they repeat no other evaluation's."""


def corner_seeds(seed: int, step: int, episodes: int) -> List[int]:
    """Return the reset seeds of the corner test taken at ``step`` of a run seeded ``seed``."""
    state = np.random.SeedSequence([seed, step, CORNER_STREAM]).generate_state(episodes)
    return [int(s) for s in state]


class CornerTest:
    """Runs the corner test in its own env and feeds the outcomes to the training env's depth."""

    def __init__(self, train_env: gym.Env, test_env: gym.Env, episodes: int) -> None:
        """Test ``train_env``'s corner in ``test_env`` (randomised alike), ``episodes`` a time."""
        self.train_env, self.env, self.episodes = train_env, test_env, episodes

    @classmethod
    def for_run(cls, train_env: gym.Env,
                make_env: Callable[[], gym.Env]) -> Optional['CornerTest']:
        """Return the test ``train_env``'s ranges ask for (``hard_tests``), else None.

        :param make_env: builds a second env randomised as ``train_env`` is (not logged).
        """
        spec = wrapper_attr(train_env, 'full_spec')
        if spec is None or not spec.hard_auto or not spec.hard_tests:
            return None
        return cls(train_env, make_env(), spec.hard_tests)

    def run(self, policy: Callable[[np.ndarray], np.ndarray], seed: int, step: int,
            max_steps: Optional[int] = None) -> Dict[str, float]:
        """Test the corner at its depth now, move the depth by the falls; return a metrics row.

        :returns: ``corner_tested`` (the depth tested), ``corner_falls`` of
            ``corner_episodes``, ``corner_return`` (mean return), ``corner_depth_next``
            (after the move) and ``corner_s`` (the test's wall time: what it costs the run).
        """
        t0 = time.perf_counter()
        spec = wrapper_attr(self.train_env, 'corner_spec')()
        wrapper_attr(self.env, 'pin')(spec)
        result = evaluate(self.env, policy, self.episodes, seed, max_steps=max_steps,
                          seeds=corner_seeds(seed, step, self.episodes))
        corner = wrapper_attr(self.train_env, 'corner')
        for fell in result.fell:
            corner.record(fell)
        return {'corner_tested': spec.hard_depth, 'corner_falls': float(result.falls),
                'corner_episodes': float(self.episodes), 'corner_return': result.mean,
                'corner_depth_next': corner.depth, 'corner_s': time.perf_counter() - t0}

    def close(self) -> None:
        """Close the test env."""
        self.env.close()


__all__ = ['CORNER_STREAM', 'CornerTest', 'corner_seeds']

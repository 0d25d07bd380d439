"""Environment registry: project robot envs by name, with any Gymnasium Box-action env as fallback.

Actions reach the environment exactly as the actor emits them, a in [-1, 1] (a_max = 1,
as in the paper): MuJoCo clamps them to each actuator's ctrlrange. For Humanoid-v4
(ctrlrange +-0.4) swaddling keeps the deterministic action mostly inside that range.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

import gymnasium as gym
import numpy as np


@dataclass(frozen=True)
class EnvEntry:
    """A project environment: a factory taking an observation spec name."""

    factory: Callable[..., gym.Env]
    obs_specs: Tuple[str, ...]
    """Observation specs the env can produce; the first is the default."""


ENVS: Dict[str, EnvEntry] = {}


def register_env(name: str, factory: Callable[..., gym.Env], obs_specs: Tuple[str, ...]) -> None:
    """Register a project environment under ``name`` (replaces an earlier entry)."""
    ENVS[name] = EnvEntry(factory, tuple(obs_specs))


def _gym_ids() -> Tuple[str, ...]:
    return tuple(gym.envs.registry.keys())


def check_env_name(name: str) -> None:
    """Raise ValueError naming the problem if ``name`` is not a known environment."""
    _load_project_envs()
    if name in ENVS or name in gym.envs.registry:
        return
    known = ', '.join(sorted(ENVS)) or 'none'
    raise ValueError(f'unknown env {name!r}: not a project env ({known}) '
                     f'nor a registered Gymnasium id (e.g. Humanoid-v4, InvertedPendulum-v4)')


def make_env(name: str, obs_spec: Optional[str] = None, **kwargs) -> gym.Env:
    """Create environment ``name`` with a Box action space.

    :param obs_spec: observation spec for project envs; None takes the env's default.
    :raises ValueError: unknown env, unknown obs spec, or a non-Box action space.
    """
    check_env_name(name)
    if name in ENVS:
        entry = ENVS[name]
        spec = obs_spec or entry.obs_specs[0]
        if spec not in entry.obs_specs:
            raise ValueError(f'env {name!r} has no observation spec {spec!r}; '
                             f'expected one of {", ".join(entry.obs_specs)}')
        env = entry.factory(obs_spec=spec, **kwargs)
    else:
        if obs_spec not in (None, 'gym'):
            raise ValueError(f'Gymnasium env {name!r} only has its own observation ("gym"), '
                             f'not {obs_spec!r}')
        env = gym.make(name, **kwargs)
    if not isinstance(env.action_space, gym.spaces.Box):
        env.close()
        raise ValueError(f'env {name!r} has a {type(env.action_space).__name__} action space; '
                         'Symphony needs a continuous Box')
    return env


def env_dims(env: gym.Env) -> Tuple[int, int]:
    """Return (obs_dim, act_dim) of a flat Box env."""
    return int(np.prod(env.observation_space.shape)), int(np.prod(env.action_space.shape))


def episode_limit(env: gym.Env, default: int = 1000) -> int:
    """Return the env's time limit (max_episode_steps) or ``default``."""
    spec = getattr(env, 'spec', None)
    limit = getattr(spec, 'max_episode_steps', None) if spec is not None else None
    return int(limit) if limit else default


def get_rng_state(env: gym.Env) -> dict:
    """Return the env's numpy bit-generator state (plain dict) for exact resume."""
    return env.unwrapped.np_random.bit_generator.state


def set_rng_state(env: gym.Env, state: dict) -> None:
    """Restore a state from :func:`get_rng_state`."""
    gen = np.random.Generator(np.random.PCG64())
    gen.bit_generator.state = state
    env.unwrapped.np_random = gen


_LOADED = False


def _load_project_envs() -> None:
    """Import the modules that register project envs (lazily: they load MuJoCo models)."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    try:
        from symphony_ros.robot import envs as _robot_envs  # noqa: F401
    except ImportError as exc:
        if 'symphony_ros.robot' not in str(exc):
            raise

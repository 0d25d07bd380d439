"""Training on the last few observations (``symphony train --history N``).

A robot's loop answers late (DDS, the driver, the policy's own period) and one observation
shows neither how long the command in flight has acted nor how the base drifts after a kick;
the last few frames together show both. This wrapper gives the learner the stacked input the
deploy loop builds (`symphony_ros.robot.frame_stack.FrameStack`, newest first, the first
frame filling the history), so the exported contract's ``observation.history`` and the
input the actor met in training are one thing. The critic's privileged view stays the one
exact frame: it judges the state, not what the actor could infer of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Tuple

import gymnasium as gym
import numpy as np

from ..robot.frame_stack import FrameStack

if TYPE_CHECKING:
    from ..robot.mirror import Mirror


class HistoryObservation(gym.Wrapper):
    """Observations of ``env`` stacked ``frames`` deep, newest first.

    ``info['clean_obs']`` (a randomised env's noiseless observation) is stacked alike, so
    an anchor or noise smoothing compares like with like.
    """

    def __init__(self, env: gym.Env, frames: int) -> None:
        """Stack ``frames`` (>= 2) observations of ``env``'s flat Box observation."""
        super().__init__(env)
        space = env.observation_space
        dim = int(np.prod(space.shape))
        self.frames = int(frames)
        self._stack, self._clean = FrameStack(frames, dim), FrameStack(frames, dim)
        self.observation_space = gym.spaces.Box(
            np.tile(np.ravel(space.low), frames), np.tile(np.ravel(space.high), frames),
            dtype=space.dtype)

    def reset(self, **kwargs: Any) -> Tuple[np.ndarray, Dict[str, Any]]:
        """Reset ``env``; its first observation fills the history."""
        self._stack.reset()
        self._clean.reset()
        obs, info = self.env.reset(**kwargs)
        return self._push(obs, info)

    def step(self, action: np.ndarray) -> Tuple[np.ndarray, float, bool, bool, Dict[str, Any]]:
        """Step ``env``; its observation becomes the newest frame."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        obs, info = self._push(obs, info)
        return obs, reward, terminated, truncated, info

    def _push(self, obs: np.ndarray, info: Dict[str, Any]
              ) -> Tuple[np.ndarray, Dict[str, Any]]:
        dtype = self.observation_space.dtype
        if 'clean_obs' in info:
            info = {**info, 'clean_obs': self._clean.push(info['clean_obs']).astype(dtype)}
        return self._stack.push(obs).astype(dtype), info

    def mirror_maps(self) -> Tuple[Mirror, Mirror, Mirror]:
        """Return ``env``'s mirror maps with the observation's repeated for every frame."""
        from ..robot.mirror import Mirror   # MuJoCo's, loaded only by a run that mirrors
        obs, action, critic = self.env.get_wrapper_attr('mirror_maps')()
        return Mirror.concat([obs] * self.frames), action, critic


def with_history(env: gym.Env, frames: int) -> gym.Env:
    """Return ``env`` stacking ``frames`` observations (itself for one)."""
    return env if frames == 1 else HistoryObservation(env, frames)


__all__ = ['HistoryObservation', 'with_history']

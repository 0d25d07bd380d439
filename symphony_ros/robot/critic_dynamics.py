"""The privileged critic's view of an episode's randomised dynamics (``--critic-dynamics``).

Under randomisation the value of a state depends on what the episode drew: the same pose
and velocities are safer on a grippy floor with strong motors than on a slippery one with a
20 ms delay. A critic that sees only the state must average over draws it cannot tell
apart; one that sees them judges each episode's robot (the privileged information of
asymmetric actor-critic, Pinto et al. 2018; legged_gym and humanoid-gym give their critics
friction, masses and push state the same way). The actor never sees them: no robot reports
its own payload or latency.

Each value is the draw's distance from nominal over a typical span of its default range, so
the inputs sit within about +-1 like the rest of the critic's view.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Tuple

import gymnasium as gym
import numpy as np

from .mirror import Mirror

DYNAMICS: Tuple[Tuple[str, int, float, float], ...] = (
    ('mass_scale_mean', 1, 1.0, 0.1),
    ('payload_kg', 1, 0.0, 3.0),
    ('com_offset_m', 3, 0.0, 0.03),
    ('friction_scale', 1, 1.0, 0.5),
    ('strength_scale_mean', 1, 1.0, 0.1),
    ('kp_scale_mean', 1, 1.0, 0.1),
    ('kd_scale_mean', 1, 1.0, 0.1),
    ('delay_s', 1, 0.0, 0.02),
    ('obs_noise_scale', 1, 0.0, 1.0),
)
"""(draw in ``info['randomization']``, values, nominal, span): the critic reads
(draw - nominal) / span. A draw an episode lacks (kp and kd of a torque robot) reads 0."""

DIM = sum(n for _, n, _, _ in DYNAMICS)
COM_Y = 3
"""Index of the base centre-of-mass offset's lateral component: the one value a left-right
mirror changes (its sign)."""


def dynamics_vector(draws: Mapping[str, Any]) -> np.ndarray:
    """Return the critic's dynamics inputs for an episode's draws (`DYNAMICS`)."""
    out = []
    for key, n, nominal, span in DYNAMICS:
        value = np.asarray(draws.get(key, [nominal] * n if n > 1 else nominal),
                           dtype=np.float64).reshape(n)
        out.append((value - nominal) / span)
    return np.concatenate(out)


def dynamics_mirror() -> Mirror:
    """Return the mirror map of the dynamics inputs: all kept, the lateral offset negated."""
    sign = np.ones(DIM)
    sign[COM_Y] = -1.0
    return Mirror(np.arange(DIM, dtype=np.intp), sign)


class CriticDynamics(gym.Wrapper):
    """Appends the episode's dynamics (`dynamics_vector`) to ``info['critic_obs']``.

    Wraps a randomised env (`randomize.Randomized`), whose reset info holds the draws.
    """

    def __init__(self, env: gym.Env) -> None:
        """Wrap ``env``, which must give a privileged view and its draws.

        :raises ValueError: an env without a privileged view.
        """
        super().__init__(env)
        try:
            inner = env.get_wrapper_attr('critic_observation_space')
        except AttributeError:
            raise ValueError('--critic-dynamics: the env gives no privileged observation '
                             "(info['critic_obs']) to add the dynamics to") from None
        self.critic_observation_space = gym.spaces.Box(
            -np.inf, np.inf, (int(np.prod(inner.shape)) + DIM,), np.float64)
        self._dynamics = np.zeros(DIM)

    def reset(self, **kwargs: Any):
        """Reset, and read the episode's draws into the dynamics inputs."""
        obs, info = self.env.reset(**kwargs)
        self._dynamics = dynamics_vector(info.get('randomization') or {})
        return obs, self._extend(info)

    def step(self, action: np.ndarray):
        """Step, with the dynamics inputs after the privileged view."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, self._extend(info)

    def _extend(self, info: Dict[str, Any]) -> Dict[str, Any]:
        if 'critic_obs' not in info:
            return info
        return {**info, 'critic_obs': np.concatenate([info['critic_obs'], self._dynamics])}

    def mirror_maps(self) -> Tuple[Mirror, Mirror, Mirror]:
        """Return the env's mirror maps with the dynamics inputs' after the critic's view."""
        obs, action, critic = self.env.get_wrapper_attr('mirror_maps')()
        return obs, action, Mirror.concat([critic, dynamics_mirror()])


__all__ = ['COM_Y', 'DIM', 'DYNAMICS', 'CriticDynamics', 'dynamics_mirror', 'dynamics_vector']

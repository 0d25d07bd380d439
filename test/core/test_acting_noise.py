"""Coloured acting noise: the limited noise's marginal, correlated across an episode."""

import numpy as np
import pytest
import torch

from symphony_ros.core.acting_noise import EpisodeNoise, coloured_gaussian
from symphony_ros.core.networks import Actor, noise_std
from symphony_ros.core.trainer import Trainer

from test_trainer import tiny_config


def _lag(x: torch.Tensor, k: int) -> float:
    return float((x[k:] * x[:-k]).mean() / (x * x).mean())


@pytest.mark.parametrize('steps', [1000, 999])
@pytest.mark.parametrize('beta, lag1', [(0.0, (-0.02, 0.02)), (1.0, (0.7, 0.85)),
                                        (2.0, (0.98, 1.0))])
def test_every_colour_has_unit_variance_and_its_correlation(steps, beta, lag1):
    torch.manual_seed(0)
    x = coloured_gaussian(beta, steps, 1000)
    assert x.shape == (steps, 1000) and x.dtype == torch.float32
    # Unit variance at each step, not only on average over the episode.
    per_step = x.std(dim=1)
    assert abs(float(per_step.mean()) - 1.0) < 0.02
    assert float(per_step.min()) > 0.85 and float(per_step.max()) < 1.15
    assert lag1[0] < _lag(x, 1) < lag1[1]


def test_pink_noise_stays_correlated_over_a_fraction_of_a_gait_cycle():
    torch.manual_seed(1)
    x = coloured_gaussian(1.0, 1000, 1000)
    # 10 control steps of a G1 (0.2 s, a quarter of its gait period) still share 0.4.
    assert 0.3 < _lag(x, 10) < 0.55
    assert abs(_lag(coloured_gaussian(0.0, 1000, 1000), 10)) < 0.02


def test_too_short_a_sequence_is_refused():
    with pytest.raises(ValueError, match='at least 2 steps'):
        coloured_gaussian(1.0, 1, 3)


def test_episode_noise_draws_a_new_sequence_per_episode_and_wraps():
    torch.manual_seed(2)
    noise = EpisodeNoise(1.0, 3, 5)
    first = noise.at(0)
    assert first.shape == (1, 3)
    assert torch.equal(noise.at(5), first)              # past the end: from the top
    noise.reset()
    assert not torch.equal(noise.at(0), first)


def test_the_actor_limits_given_draws_as_it_limits_its_own():
    actor = Actor(4, 2, 16, act_noise_clip=5.0)
    obs = torch.zeros(1, 4)
    a, s, _ = actor.asb(obs)
    eps = torch.tensor([[0.5, 9.0]])
    with torch.no_grad():
        pre = torch.atanh(actor(obs, eps=eps)[0]) - s * a
    assert torch.allclose(pre, torch.tensor([[0.1, 1.0]]), atol=1e-5)   # clamp(eps)/c


def _acted_noise(trainer: Trainer, steps: int) -> np.ndarray:
    """The pre-tanh noise the trainer acts with over ``steps`` steps of one episode."""
    obs = np.zeros(trainer.obs_dim)
    x = torch.zeros(1, trainer.obs_dim)
    with torch.no_grad():
        a, s, _ = trainer.agent.actor.asb(x)
    out = []
    for t in range(steps):
        trainer._ep_step = t
        action = torch.as_tensor(trainer._act(obs, noise=True))
        out.append((torch.atanh(action) - (s * a)[0]).numpy())
    return np.concatenate(out)


@pytest.mark.parametrize('colour', [0.0, 1.0])
def test_the_trainer_acts_with_the_configured_colour(tmp_path, colour):
    cfg = tiny_config(tmp_path / 'run', overrides=dict(act_noise_clip=5.0,
                                                       act_noise_color=colour))
    with Trainer(cfg, progress=False, tensorboard=False) as trainer:
        assert (trainer.acting_noise is None) == (colour == 0.0)
        if trainer.acting_noise is not None:
            trainer.acting_noise.reset()
        n = torch.as_tensor(_acted_noise(trainer, 400))
    # One episode of pink noise wanders: its own spread is near, not at, the marginal's.
    assert abs(float(n.std()) - noise_std(5.0)) < (0.02 if colour == 0.0 else 0.1)
    lag = _lag(n - n.mean(), 1)
    assert (lag > 0.5) if colour else (abs(lag) < 0.15)
    assert float(n.abs().max()) <= 1.0 + 1e-5           # limited, as the paper's noise

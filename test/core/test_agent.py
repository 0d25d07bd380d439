"""One Symphony update: loss terms, target critics, the temporal-advantage scalar m."""

import math

import torch

from symphony_ros.core.agent import Symphony, deliberate_fall
from symphony_ros.core.config import CONFIGS, get_config
from symphony_ros.core.networks import GradientDropout
from symphony_ros.core.replay import Batch

SMALL = dict(hidden_dim=16, critic_heads=4, batch_size=8)


def _batch(n=8, obs=3, act=2, done=0.0):
    return Batch(torch.randn(n, obs), torch.rand(n, act) * 2 - 1, torch.randn(n, 1),
                 torch.randn(n, obs), torch.full((n, 1), done))


def test_named_configs_follow_the_paper():
    s3, se, s2, ed = (CONFIGS[k] for k in ('s3', 'se', 's2', 'ed'))
    assert (s3.hidden_dim, 3 * s3.critic_heads, s3.batch_size, s3.updates_per_step) == (
        512, 384, 384, 3)
    assert (s3.lr, s3.capacity, s3.explore_steps) == (1e-4, 512_000, 10_240)
    assert s3.noise_clip == math.e and se.noise_clip == math.pi
    assert (s2.gradient_dropout, s2.lr, s2.explore_steps, s2.capacity) == (
        0.5, 5e-5, 20_480, 512_000)
    assert (ed.hidden_dim, 3 * ed.critic_heads, ed.batch_size, ed.updates_per_step) == (
        384, 288, 288, 2)
    assert (ed.explore_steps, ed.capacity) == (7_680, 384_000)
    assert s3.betas == ((math.sqrt(5) - 1) / 2, 0.995)


def test_s2_puts_gradient_dropout_after_each_output():
    agent = Symphony(3, 2, get_config('s2', **SMALL))
    assert isinstance(agent.actor.net[-1], GradientDropout)
    assert all(isinstance(net[-1], GradientDropout) for net in agent.critic.nets)


def test_update_targets_and_m():
    torch.manual_seed(0)
    cfg = get_config('s3', **SMALL)
    agent = Symphony(3, 2, cfg)
    batch = _batch()
    before_target = [p.clone() for p in agent.target_critic.parameters()]
    torch.manual_seed(1)
    terms = agent.loss(batch)
    torch.manual_seed(1)
    agent.update(batch)
    # Polyak: target = (1 - tau) * old_target + tau * new_online, critics only.
    for old, tgt, online in zip(before_target, agent.target_critic.parameters(),
                                agent.critic.parameters()):
        assert torch.allclose(tgt, (1 - cfg.tau) * old + cfg.tau * online, atol=1e-7)
    assert all(not p.requires_grad for p in agent.target_critic.parameters())
    assert torch.isclose(agent.m, terms['q_t_mean'].detach())


def test_loss_is_the_sum_of_its_terms_and_trains_actor_and_critic():
    torch.manual_seed(2)
    agent = Symphony(3, 2, get_config('s3', **SMALL))
    terms = agent.loss(_batch())
    assert torch.isclose(terms['loss'], terms['actor'] + terms['critic'] + terms['swaddling'])
    terms['loss'].backward()
    assert all(p.grad is not None for p in agent.actor.parameters())
    assert all(p.grad is not None for p in agent.critic.parameters())
    assert all(p.grad is None for p in agent.target_critic.parameters())


def test_terminal_transitions_do_not_bootstrap():
    torch.manual_seed(3)
    agent = Symphony(3, 2, get_config('s3', **SMALL))
    batch = _batch(done=1.0)
    with torch.no_grad():
        q = agent.critic(batch.obs, batch.action)
    expected = (lambda e: (e * torch.tanh(e / 2)).mean())(q - batch.reward)
    torch.manual_seed(4)
    assert torch.isclose(agent.loss(batch)['critic'], expected, atol=1e-6)


def test_the_target_noise_sets_the_critics_target_and_leaves_the_actors_objective():
    torch.manual_seed(5)
    agent = Symphony(3, 2, get_config('s3', **SMALL))
    batch = _batch()
    torch.manual_seed(6)
    paper = agent.loss(batch)
    agent.cfg = get_config('s3', **SMALL, target_noise_clip=1e9)   # no noise on the target
    torch.manual_seed(6)
    split = agent.loss(batch)
    with torch.no_grad():
        calm = agent.target_critic.soft(batch.next_obs, agent.actor.deterministic(batch.next_obs))
        y = batch.reward + agent.cfg.gamma * calm
        expected = (lambda e: (e * torch.tanh(e / 2)).mean())(agent.critic(batch.obs,
                                                                           batch.action) - y)
    assert torch.isclose(split['critic'], expected, atol=1e-6)
    assert not torch.isclose(paper['critic'], expected, atol=1e-4)
    # The actor's noise is drawn first, from the same seed: its objective is the paper's.
    assert torch.equal(split['actor'], paper['actor'])
    assert torch.equal(split['q_t_mean'], paper['q_t_mean'])


def test_many_updates_stay_finite():
    torch.manual_seed(5)
    agent = Symphony(3, 2, get_config('s3', **SMALL))
    for _ in range(200):
        terms = agent.update(_batch())
    assert all(torch.isfinite(terms[k]) for k in ('loss', 'actor', 'critic', 'swaddling'))
    assert all(torch.all(torch.isfinite(p)) for p in agent.actor.parameters())


def _target_output_grads(name):
    """Gradients of one update's loss at the target critics' outputs (before any dropout)."""
    torch.manual_seed(6)
    agent = Symphony(3, 2, get_config(name, **dict(SMALL, batch_size=64)))
    outputs = []

    def keep(module, inputs, out):
        out.retain_grad()
        outputs.append(out)

    for net in agent.target_critic.nets:
        net[4].register_forward_hook(keep)
    agent.loss(_batch(n=64))['loss'].backward()
    assert all(p.grad is None for p in agent.target_critic.parameters())
    return torch.cat([out.grad for out in outputs], dim=-1)


def test_s2_target_critic_cuts_half_of_the_advantage_gradient():
    # The reference's target network carries GradientDropout with no mode switch, and the
    # actor's advantage gradient flows through it: in S2 about half of it is cut.
    cut = (_target_output_grads('s2') == 0).float().mean().item()
    assert 0.4 < cut < 0.6
    for name in ('s3', 'se', 'ed'):
        assert torch.all(_target_output_grads(name) != 0), name


def test_deliberate_fall_covers_the_reference_steps():
    # The reference acts while `steps < limit - 50` on a 1-based counter: 950..1000 fall.
    assert not deliberate_fall(949, 1000, 50)
    assert deliberate_fall(950, 1000, 50)
    assert sum(deliberate_fall(k, 1000, 50) for k in range(1, 1001)) == 51

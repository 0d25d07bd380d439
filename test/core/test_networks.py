"""Networks against the paper's formulas: ReSine, GradientDropout, actor, critic weights."""

import math

import pytest
import torch

from symphony_ros.core.networks import (Actor, Critic, FeedForward, GradientDropout, ReSine,
                                        limited_noise, noise_std, soft_value, soft_weights,
                                        sorted_with_weights)


def test_resine_values_match_formula():
    torch.manual_seed(0)
    act = ReSine(8)
    bound = 1 / math.sqrt(8)
    assert torch.all(act.s.abs() <= bound)
    x = torch.linspace(-3, 3, 8 * 5).reshape(5, 8)
    sigma = torch.sigmoid(act.s)
    f = sigma * torch.sin(x / sigma)
    expected = f * torch.sigmoid(1.5 * f / sigma)
    assert torch.allclose(act(x), expected, atol=1e-6)


def test_resine_gradient_matches_analytic_derivative():
    act = ReSine(4)
    with torch.no_grad():
        act.s.copy_(torch.tensor([-0.3, 0.0, 0.2, 0.4]))
    x = torch.tensor([[0.7, -1.1, 2.0, 0.05]], requires_grad=True)
    act(x).sum().backward()
    xs = x.detach()
    sig = torch.sigmoid(act.s.detach())
    f = sig * torch.sin(xs / sig)
    df = torch.cos(xs / sig)
    g = torch.sigmoid(1.5 * f / sig)
    # d/dx [f*g(f)] = f'(g + f*g(1-g)*1.5/sig)
    expected = df * (g + f * g * (1 - g) * 1.5 / sig)
    assert torch.allclose(x.grad, expected, atol=1e-6)
    assert act.s.grad is not None and torch.all(torch.isfinite(act.s.grad))


def test_gradient_dropout_keeps_values_and_drops_gradients():
    torch.manual_seed(1)
    drop = GradientDropout(0.5).train()
    x = torch.randn(1000, requires_grad=True)
    y = drop(x)
    assert torch.equal(y, x)
    y.sum().backward()
    kept = x.grad
    assert set(kept.unique().tolist()) <= {0.0, 1.0}
    assert 0.4 < kept.mean().item() < 0.6
    x.grad = None
    drop.eval()(x).sum().backward()
    assert torch.all(x.grad == 1.0)


def test_gradient_dropout_rejects_bad_p():
    with pytest.raises(ValueError, match='gradient dropout'):
        GradientDropout(1.0)


def test_feedforward_layout():
    ff = FeedForward(5, 16, 3, grad_dropout=0.5)
    kinds = [type(m).__name__ for m in ff]
    assert kinds == ['Linear', 'LayerNorm', 'Linear', 'ReSine', 'Linear', 'GradientDropout']
    assert [type(m).__name__ for m in FeedForward(5, 16, 3)][-1] == 'Linear'


def test_limited_noise_is_bounded_with_std_one_over_e():
    torch.manual_seed(2)
    n = limited_noise(torch.zeros(200_000), math.e)
    assert n.abs().max() <= 1.0
    assert abs(n.std().item() - 1 / math.e) < 0.01
    for clip in (1.0, math.e, 10.0):
        drawn = limited_noise(torch.zeros(200_000), clip).std().item()
        assert noise_std(clip) == pytest.approx(drawn, rel=0.01), clip


def test_the_actor_acts_with_its_own_noise_and_learns_with_the_papers():
    torch.manual_seed(4)
    actor = Actor(6, 3, 32, act_noise_clip=10.0)
    obs = torch.randn(20_000, 6)
    a, s, _ = actor.asb(obs)
    with torch.no_grad():
        acted = torch.atanh(actor(obs)[0].clamp(-1 + 1e-6, 1 - 1e-6)) - s * a
        learned = torch.atanh(actor.action(a, s).clamp(-1 + 1e-6, 1 - 1e-6)) - s * a
    assert abs(acted.std().item() - 0.1) < 0.005            # 1 / 10
    assert abs(learned.std().item() - 1 / math.e) < 0.01    # the loss's, the paper's e
    assert Actor(6, 3, 32).act_noise_clip == math.e          # 0: the same noise


def test_actor_outputs_follow_asb_definition():
    torch.manual_seed(3)
    actor = Actor(6, 3, 32)
    obs = torch.randn(10, 6)
    raw = torch.tanh(actor.net(obs) / 2).reshape(-1, 3, 3)
    a, s, b = actor.asb(obs)
    assert torch.equal(a, raw[:, 0]) and torch.equal(s, raw[:, 1].abs())
    assert torch.equal(b, raw[:, 2].abs())
    assert torch.allclose(actor.deterministic(obs), torch.tanh(s * a))
    noisy, s2, _ = actor(obs)
    assert torch.equal(s2, s)
    # Noise is at most 1 before the tanh.
    pre = torch.atanh(noisy.clamp(-1 + 1e-6, 1 - 1e-6))
    assert torch.all((pre - s * a).abs() <= 1.0 + 1e-4)
    only_noise, _, _ = actor(obs, noise=True, fall=True)
    assert torch.all(only_noise.abs() <= math.tanh(1.0) + 1e-6)
    silent, _, _ = actor(obs, noise=False, fall=True)
    assert torch.all(silent == 0)


def test_soft_weights_profile():
    heads = 384
    w = soft_weights(heads).double()
    assert abs(w.sum().item() - 1.0) < 1e-6
    rel = w / w[0]
    assert rel[: heads // 2].min() > 0.99          # about 1 below the median
    assert abs(rel[int(0.8 * heads)].item() - 0.28) < 0.01
    assert abs(rel[int(0.9 * heads)].item() - 0.045) < 0.005
    assert torch.all(rel[1:] <= rel[:-1])


def test_critic_soft_is_weighted_sum_of_sorted_heads():
    torch.manual_seed(4)
    critic = Critic(4, 2, 16, 8)
    obs, act = torch.randn(5, 4), torch.randn(5, 2)
    q = critic(obs, act)
    assert q.shape == (5, 24)
    expected = (torch.sort(q, -1).values * soft_weights(24)).sum(-1, keepdim=True)
    assert torch.allclose(critic.soft(obs, act), expected, atol=1e-6)
    # Pessimistic: below the plain mean of the heads.
    assert torch.all(critic.soft(obs, act) <= q.mean(-1, keepdim=True) + 1e-6)


def test_soft_value_gradient_is_the_weight_at_each_rank_on_both_sort_paths():
    torch.manual_seed(5)
    q = torch.randn(7, 24, requires_grad=True)
    w = soft_weights(24)
    soft_value(q, w).sum().backward()
    expected = torch.empty_like(q).scatter_(-1, torch.sort(q, -1).indices, w.expand(7, 24))
    assert torch.equal(q.grad, expected)
    # The torch path (taken on CUDA) agrees with numpy's (taken on CPU).
    for a, b in zip(sorted_with_weights(q, w, with_numpy=True),
                    sorted_with_weights(q, w, with_numpy=False)):
        assert torch.equal(a, b)

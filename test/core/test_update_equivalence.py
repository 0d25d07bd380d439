"""The faster update computes what the update computed before it was made faster.

``_reference_*`` below is a frozen copy of the computation as it was before issue 15
(torch.sort for the soft value, foreach AdamW), written from the networks' parameters, so a
change to the package cannot change both sides of the comparison.
"""

import copy

import pytest
import torch
import torch.nn.functional as F

from symphony_ros.core.agent import Symphony
from symphony_ros.core.config import get_config
from symphony_ros.core.replay import Batch

SHAPES = dict(hidden_dim=64, critic_heads=16, batch_size=48)
OBS, ACT = 11, 3


def _feedforward(net, x):
    lin0, norm, lin2, resine, lin4 = net[0], net[1], net[2], net[3], net[4]
    h = F.layer_norm(F.linear(x, lin0.weight, lin0.bias), norm.normalized_shape,
                     norm.weight, norm.bias, norm.eps)
    h = F.linear(h, lin2.weight, lin2.bias)
    sigma = torch.sigmoid(resine.s)
    f = sigma * torch.sin(h / sigma)
    out = F.linear(f * torch.sigmoid(1.5 * f / sigma), lin4.weight, lin4.bias)
    if len(net) > 5:                                    # S2's GradientDropout
        keep = (torch.rand_like(out) >= net[5].p).to(out.dtype)
        out = keep * out + (1.0 - keep) * out.detach()
    return out


def _critic(critic, obs, action):
    x = torch.cat([obs, action], dim=-1)
    return torch.cat([_feedforward(net, x) for net in critic.nets], dim=-1)


def _reference_loss(agent, batch):
    cfg, actor = agent.cfg, agent.actor
    asb = torch.tanh(_feedforward(actor.net, batch.next_obs) / 2.0).reshape(-1, 3, ACT)
    a, s, b = asb[:, 0], asb[:, 1].abs(), asb[:, 2].abs()
    noise = torch.randn_like(a).clamp_(-actor.noise_clip, actor.noise_clip) / actor.noise_clip
    next_action = torch.tanh(s * a + noise)
    q_sorted = torch.sort(_critic(agent.target_critic, batch.next_obs, next_action), -1).values
    q_next = (q_sorted * agent.target_critic.weights).sum(dim=-1, keepdim=True)
    y = batch.reward + cfg.gamma * (1.0 - batch.done) * q_next.detach()
    q_t = cfg.advantage_alpha * agent.m + (1.0 - cfg.advantage_alpha) * q_next.detach()
    e = (q_next - q_t) / q_t.abs().clamp_min(cfg.q_floor)
    actor_term = -(e.abs() * torch.tanh(e / 2.0)).mean()
    e = _critic(agent.critic, batch.obs, batch.action) - y
    critic_term = (e * torch.tanh(e / 2.0)).mean()
    sc, bc = s.clamp(1e-3, 1 - 1e-3), b.clamp(1e-3, 1 - 1e-3)
    omega = lambda x: torch.log((1.0 + x) / (1.0 - x))  # noqa: E731
    swaddle = (omega(sc ** (1.0 / bc.detach())) + bc * sc * torch.log(sc)
               + omega(bc * bc)).mean()
    return actor_term + critic_term + swaddle, q_t.mean()


@torch.no_grad()
def _reference_step(agent, moments):
    opt = agent.optimizer
    for p, m, v in zip(opt.params, *moments):
        g = p.grad if p.grad is not None else torch.zeros_like(p)
        m.mul_(opt.beta1).add_(g, alpha=1.0 - opt.beta1)
        v.mul_(opt.beta2).addcmul_(g, g, value=1.0 - opt.beta2)
        p.mul_(1.0 - opt.lr * opt.wd).addcdiv_(m, v.sqrt() + opt.eps, value=-opt.lr)
    for tgt, src in zip(agent.target_critic.parameters(), agent.critic.parameters()):
        tgt.lerp_(src, agent.cfg.tau)


def _pair(name, dtype):
    torch.manual_seed(0)
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        agent = Symphony(OBS, ACT, get_config(name, **SHAPES))
        batch = Batch(torch.randn(48, OBS), torch.rand(48, ACT) * 2 - 1, torch.randn(48, 1),
                      torch.randn(48, OBS), (torch.rand(48, 1) < 0.2).to(dtype))
    finally:
        torch.set_default_dtype(default)
    return agent, copy.deepcopy(agent), batch


def _grads(module):
    return [p.grad.clone() for p in module.parameters()]


@pytest.mark.parametrize('name', ['s3', 'ed', 's2'])
def test_one_update_same_loss_and_gradients_float32(name):
    agent, ref, batch = _pair(name, torch.float32)
    torch.manual_seed(1)
    terms = agent.loss(batch)
    terms['loss'].backward()
    torch.manual_seed(1)
    loss, q_t_mean = _reference_loss(ref, batch)
    loss.backward()
    assert torch.allclose(terms['loss'], loss, rtol=1e-5, atol=1e-5)
    assert torch.allclose(terms['q_t_mean'], q_t_mean, rtol=1e-5, atol=1e-5)
    for part in ('actor', 'critic'):
        for new, old in zip(_grads(getattr(agent, part)), _grads(getattr(ref, part))):
            # 1e-5 relative to the tensor's largest gradient: many entries are tiny.
            assert torch.allclose(new, old, rtol=1e-5, atol=1e-5 * float(old.abs().max())), part


@pytest.mark.parametrize('name', ['s3', 's2'])
def test_five_updates_same_trajectory_float64(name):
    agent, ref, batch = _pair(name, torch.float64)
    moments = ([torch.zeros_like(p) for p in ref.optimizer.params],
               [torch.zeros_like(p) for p in ref.optimizer.params])
    for k in range(5):
        torch.manual_seed(10 + k)
        agent.update(batch)
        torch.manual_seed(10 + k)
        ref.optimizer.zero_grad()
        loss, q_t_mean = _reference_loss(ref, batch)
        loss.backward()
        _reference_step(ref, moments)
        ref.m = q_t_mean.detach()
    for new, old in zip(agent.state_dict().values(), ref.state_dict().values()):
        if isinstance(new, dict) and 'm' not in new:
            for key in new:
                assert torch.allclose(new[key], old[key], rtol=1e-9, atol=1e-9), key
    for new, old in zip(agent.optimizer.m + agent.optimizer.v, moments[0] + moments[1]):
        assert torch.allclose(new, old, rtol=1e-9, atol=1e-9)
    assert torch.allclose(agent.m, ref.m, rtol=1e-9, atol=1e-12)

"""Loss terms and the optimizer against their formulas."""

import math

import torch

from symphony_ros.core.losses import (advantage_baseline, normalised_advantage, omega, rehae,
                                      rehse, swaddling)
from symphony_ros.core.optim import SymphonyAdamW


def test_rehse_and_rehae():
    e = torch.tensor([-2.0, -0.5, 0.0, 0.5, 3.0])
    assert torch.isclose(rehse(e), (e * torch.tanh(e / 2)).mean())
    assert torch.isclose(rehae(e), (e.abs() * torch.tanh(e / 2)).mean())
    assert rehse(-e) == rehse(e)                    # symmetric
    assert rehae(torch.tensor([2.0])) == -rehae(torch.tensor([-2.0]))  # asymmetric


def test_swaddling_finite_inside_unit_interval():
    grid = torch.linspace(0.0, 1.0, 41)
    s, b = torch.meshgrid(grid, grid, indexing='ij')
    for ss, bb in zip(s.flatten(), b.flatten()):
        assert math.isfinite(swaddling(ss.view(1, 1), bb.view(1, 1)).item())


def test_swaddling_minimal_near_one_over_e_for_small_beta():
    s = torch.linspace(0.01, 0.99, 981).view(-1, 1)
    b = torch.full_like(s, 0.01)
    values = torch.stack([swaddling(si.view(1, 1), bi.view(1, 1)) for si, bi in zip(s, b)])
    best = s[values.argmin()].item()
    assert abs(best - 1 / math.e) < 0.01


def test_swaddling_formula_and_beta_detached_in_exponent():
    s = torch.tensor([[0.3, 0.6]], requires_grad=True)
    b = torch.tensor([[0.2, 0.5]], requires_grad=True)
    value = swaddling(s, b)
    expected = (omega(s ** (1 / b)) + b * s * torch.log(s) + omega(b ** 2)).mean()
    assert torch.isclose(value, expected)
    value.backward()
    # d/dB only from B*S*ln S and Omega(B^2): the exponent's B is detached.
    sb, bb = s.detach(), b.detach()
    d_omega = lambda x: 2 / (1 - x ** 2)  # noqa: E731
    expected_gb = (sb * torch.log(sb) + d_omega(bb ** 2) * 2 * bb) / 2
    assert torch.allclose(b.grad, expected_gb, atol=1e-5)


def test_normalised_advantage_guard_at_first_update():
    m = torch.zeros(())
    q_next = torch.tensor([[1e-7], [-1e-6], [0.0]], requires_grad=True)
    q_t = advantage_baseline(m, q_next.detach(), (math.sqrt(5) - 1) / 2)
    adv = normalised_advantage(q_next, q_t, floor=1.0)
    loss = -rehae(adv)
    loss.backward()
    assert torch.all(torch.isfinite(q_next.grad))
    assert q_next.grad.abs().max() <= 1.0


def test_normalised_advantage_unchanged_above_floor():
    q_next = torch.tensor([[50.0], [-80.0]])
    q_t = torch.tensor([[40.0], [-100.0]])
    assert torch.allclose(normalised_advantage(q_next, q_t, 1.0),
                          (q_next - q_t) / q_t.abs())


def test_optimizer_step_equals_formula():
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(5))
    opt = SymphonyAdamW([p], lr=0.1, betas=(0.618, 0.995), weight_decay=0.01)
    theta, m, v = p.detach().clone(), torch.zeros(5), torch.zeros(5)
    for g in (torch.randn(5), torch.randn(5)):
        p.grad = g.clone()
        opt.step()
        m = 0.618 * m + (1 - 0.618) * g
        v = 0.995 * v + (1 - 0.995) * g * g
        theta = theta - 0.1 * (m / (v.sqrt() + 1e-8) + 0.01 * theta)
        assert torch.allclose(p.detach(), theta, atol=1e-6)


def test_optimizer_state_round_trip():
    p = torch.nn.Parameter(torch.ones(3))
    opt = SymphonyAdamW([p], lr=0.01)
    p.grad = torch.ones(3)
    opt.step()
    q = torch.nn.Parameter(torch.ones(3))
    other = SymphonyAdamW([q], lr=0.01)
    other.load_state_dict(opt.state_dict())
    assert torch.equal(other.m[0], opt.m[0]) and torch.equal(other.v[0], opt.v[0])

"""A symmetric actor: the mirrored state's action is the mirrored action, trained and exported."""

import dataclasses
import os

import numpy as np
import onnxruntime as ort
import pytest
import torch

from symphony_ros.cli.main import main
from symphony_ros.core.checkpoint import latest_checkpoint
from symphony_ros.core.config import TrainConfig
from symphony_ros.core.envs import make_env
from symphony_ros.core.networks import MIRROR_BUFFERS, Actor
from symphony_ros.core.snapshot import load_actor
from symphony_ros.core.trainer import Trainer
from symphony_ros.policy.graph import VARIANTS, onnx_graph
from symphony_ros.policy.unfold import actor_from_policy

OBS = (np.array([1, 0, 2, 4, 3, 5]), np.array([1.0, 1.0, -1.0, 1.0, 1.0, -1.0]))
ACT = (np.array([1, 0, 2]), np.array([1.0, 1.0, -1.0]))
TINY = dict(hidden_dim=16, critic_heads=4, batch_size=16, capacity=300, explore_steps=30)


def _mirror(x, m):
    return x[:, m[0]] * torch.as_tensor(m[1], dtype=torch.float32)


def _symmetric(seed=0):
    torch.manual_seed(seed)
    actor = Actor(6, 3, 16)
    actor.set_mirror(OBS, ACT)
    return actor


def test_a_mirrored_observation_gets_the_mirrored_action_strength_and_exponent():
    actor = _symmetric()
    x = torch.randn(32, 6)
    with torch.no_grad():
        a, s, b = actor.asb(x)
        ma, ms, mb = actor.asb(_mirror(x, OBS))
        torch.testing.assert_close(ma, _mirror(a, ACT))
        torch.testing.assert_close(ms, s[:, ACT[0]])
        torch.testing.assert_close(mb, b[:, ACT[0]])
        # each is the mean of the network's two answers, not the network's own
        plain = Actor(6, 3, 16)
        plain.load_state_dict({k: v for k, v in actor.state_dict().items()
                               if k not in MIRROR_BUFFERS})
        pa, _, _ = plain.asb(x)
        qa, _, _ = plain.asb(_mirror(x, OBS))
        torch.testing.assert_close(a, 0.5 * (pa + _mirror(qa, ACT)))
        assert float((a - pa).abs().max()) > 1e-3


def test_maps_that_are_not_signed_permutations_of_the_actor_are_refused():
    actor = Actor(6, 3, 16)
    with pytest.raises(ValueError, match='the action map is not a signed permutation of 3'):
        actor.set_mirror(OBS, (np.array([0, 0, 2]), np.ones(3)))
    with pytest.raises(ValueError, match='the observation map is not a signed permutation'):
        actor.set_mirror((OBS[0], OBS[1] * 0.5), ACT)
    assert not actor.symmetric


def test_a_saved_symmetric_actor_loads_as_one():
    actor = _symmetric()
    fresh = Actor(6, 3, 16)
    fresh.load_state_dict(actor.state_dict())
    x = torch.randn(8, 6)
    assert fresh.symmetric
    torch.testing.assert_close(fresh.deterministic(x), actor.deterministic(x))


@pytest.mark.parametrize('variant', VARIANTS)
def test_both_graphs_act_as_the_symmetric_actor_and_stay_equivariant(variant):
    actor = _symmetric(1).eval()
    session = ort.InferenceSession(onnx_graph(actor, 17, variant).SerializeToString())
    x = torch.randn(64, 6)
    run = lambda obs: session.run(None, {session.get_inputs()[0].name: obs.numpy()})[0]  # noqa
    with torch.no_grad():
        np.testing.assert_allclose(run(x), actor.deterministic(x).numpy(), atol=1e-6)
    np.testing.assert_allclose(run(_mirror(x, OBS)), _mirror(torch.from_numpy(run(x)), ACT),
                               atol=1e-6)


def _run(tmp_path, name, **kw):
    cfg = TrainConfig(env='velocity:g1', steps=60, run_dir=str(tmp_path / name), seed=1,
                      eval_every=1000, eval_episodes=1, checkpoint_every=60, episode_limit=30,
                      privileged_critic=True, overrides=dict(TINY), **kw)
    with Trainer(cfg, progress=False, tensorboard=False) as trainer:
        trainer.run()
        return trainer


def test_a_g1_run_trains_resumes_and_exports_a_symmetric_actor(tmp_path, capsys):
    torch.set_num_threads(1)
    trainer = _run(tmp_path, 'sym', symmetric_actor=True)
    assert trainer.agent.actor.symmetric and trainer.learning
    obs_m, act_m, _ = make_env('velocity:g1').unwrapped.mirror_maps()
    np.testing.assert_array_equal(trainer.agent.actor.mirror_obs_index.numpy(), obs_m.index)
    cfg = dataclasses.replace(trainer.cfg, steps=90)
    with Trainer(cfg, resume=True, progress=False, tensorboard=False) as resumed:
        assert resumed.agent.actor.symmetric and resumed.step_count == 60
    policy = str(tmp_path / 'sym.onnx')
    assert main(['export', str(tmp_path / 'sym'), '-o', policy, '--samples', '5']) == 0
    capsys.readouterr()
    assert main(['inspect', policy]) == 0
    assert 'the actor left-right symmetric by construction' in capsys.readouterr().out
    # real G1 observations: the file's action to the mirrored state is the mirrored action
    env = make_env('velocity:g1')
    obs = np.stack([env.reset(seed=s)[0] for s in range(8)]).astype(np.float32)
    session = ort.InferenceSession(policy)
    run = lambda o: session.run(None, {session.get_inputs()[0].name: o})[0]  # noqa: E731
    np.testing.assert_allclose(run(obs_m(obs).astype(np.float32)), act_m(run(obs)),
                               atol=1e-6)
    back = actor_from_policy(policy).actor
    assert back.symmetric
    with torch.no_grad():
        np.testing.assert_allclose(back.deterministic(torch.from_numpy(obs)).numpy(), run(obs),
                                   atol=1e-5)


def test_a_plain_actor_goes_on_symmetrised_and_a_symmetric_source_stays_so(tmp_path):
    torch.set_num_threads(1)
    _run(tmp_path, 'plain')
    source = load_actor(latest_checkpoint(str(tmp_path / 'plain'))).actor
    assert not source.symmetric
    sym = _run(tmp_path, 'from_plain', symmetric_actor=True,
               init_from=str(tmp_path / 'plain'), actor_frozen_steps=1000)
    obs_m, act_m, _ = make_env('velocity:g1').unwrapped.mirror_maps()
    x = torch.randn(16, sym.agent.actor.obs_dim)
    with torch.no_grad():   # frozen: the source's network, symmetrised
        a, _, _ = source.asb(x)
        m, _, _ = source.asb(_mirror(x, (obs_m.index, obs_m.sign)))
        mine, _, _ = sym.agent.actor.asb(x)
    torch.testing.assert_close(mine, 0.5 * (a + _mirror(m, (act_m.index, act_m.sign))))
    again = _run(tmp_path, 'from_sym', init_from=str(tmp_path / 'from_plain'))
    assert again.agent.actor.symmetric and again.cfg.symmetric_actor
    assert any('source\'s actor is symmetric by construction' in n for n in again.notes)


def test_an_env_without_mirror_maps_is_refused_naming_the_option(tmp_path):
    bad = TrainConfig(env='symphony/Humanoid-v4', run_dir=str(tmp_path / 'h'),
                      symmetric_actor=True, overrides=dict(TINY))
    with pytest.raises(ValueError, match='--symmetric-actor: env .* has no mirror maps'):
        Trainer(bad, progress=False, tensorboard=False)
    assert not os.path.exists(tmp_path / 'h' / 'config.json')

"""Moving a learner onto other observation factors: it computes, and takes its next step, alike.

The pure part (`symphony_ros.core.obs_rescale`) on a real `Symphony` learner; `symphony branch
--obs-spec` on a G1 run, with the resume that follows.
"""

import hashlib
import json
import os

import numpy as np
import pytest
import torch

from symphony_ros.cli.main import main as cli
from symphony_ros.core.agent import Symphony
from symphony_ros.core.checkpoint import latest_checkpoint, load_checkpoint, replay_path
from symphony_ros.core.config import TrainConfig, get_config
from symphony_ros.core.envs import obs_terms
from symphony_ros.core.obs_rescale import (frame_factors, input_factors, rescale_agent,
                                           rescale_replay)
from symphony_ros.core.replay import Batch
from symphony_ros.core.run_branch import branch_run
from symphony_ros.core.run_dir import RunDirError
from symphony_ros.core.trainer import Trainer
from symphony_ros.deploy.policy_loop import PolicyLoop
from symphony_ros.robot import get_robot
from symphony_ros.util.layout import term_slices

from trained_runs import trained_run

OBS, CRITIC, ACT = 6, 9, 2
K = torch.tensor([1.0, 4.0, 1.0, 0.5, 1.0, 2.0])
"""Per observation element, new factor / old."""


def _agent(seed=0):
    torch.manual_seed(seed)
    cfg = get_config('s3', hidden_dim=16, critic_heads=4, batch_size=8)
    return Symphony(OBS, ACT, cfg, critic_dim=CRITIC)


def _batch(gen, scale_obs=None, scale_critic=None):
    obs = torch.randn(8, OBS, generator=gen)
    critic = torch.randn(8, CRITIC, generator=gen)
    critic[:, :OBS] = obs
    nxt = torch.randn(8, OBS, generator=gen)
    nxt_c = torch.randn(8, CRITIC, generator=gen)
    nxt_c[:, :OBS] = nxt
    b = Batch(obs, torch.rand(8, ACT, generator=gen) * 2 - 1, torch.randn(8, 1, generator=gen),
              nxt, torch.zeros(8, 1), critic, nxt_c)
    if scale_obs is None:
        return b
    return b._replace(obs=b.obs * scale_obs, next_obs=b.next_obs * scale_obs,
                      critic_obs=b.critic_obs * scale_critic,
                      next_critic_obs=b.next_critic_obs * scale_critic)


def _moved(agent):
    _, kc = input_factors(K.numpy(), OBS, CRITIC)
    moved = _agent(seed=5)          # other weights, replaced by the rescaled ones
    moved.load_state_dict(rescale_agent(agent.state_dict(), K.numpy(), kc))
    return moved, torch.as_tensor(kc, dtype=torch.float32)


def test_rescaled_networks_compute_on_rescaled_inputs_what_they_did_before():
    agent = _agent()
    gen = torch.Generator().manual_seed(1)
    for _ in range(3):           # moments that are not zero
        agent.update(_batch(gen))
    moved, kc = _moved(agent)
    b = _batch(gen)
    with torch.no_grad():
        torch.testing.assert_close(moved.actor.asb(b.obs * K)[0], agent.actor.asb(b.obs)[0])
        for net in ('critic', 'target_critic'):
            torch.testing.assert_close(getattr(moved, net)(b.critic_obs * kc, b.action),
                                       getattr(agent, net)(b.critic_obs, b.action))
    # the networks' inputs changed, and only theirs
    w0, w1 = agent.actor.net.linear_in.weight, moved.actor.net.linear_in.weight
    torch.testing.assert_close(w1 * K, w0)
    assert not torch.equal(w1, w0)
    torch.testing.assert_close(moved.actor.net[2].weight, agent.actor.net[2].weight)


def test_the_next_update_steps_each_weight_as_it_would_have_stepped():
    """Adam's step per weight is unchanged, so through a column of a k-fold input the
    output moves k times as far: a faint input is learnt faster."""
    agent = _agent()
    gen = torch.Generator().manual_seed(2)
    for _ in range(3):
        agent.update(_batch(gen))
    moved, kc = _moved(agent)
    state = gen.get_state()
    before = agent.actor.net.linear_in.weight.detach().clone()
    moved_before = moved.actor.net.linear_in.weight.detach().clone()
    torch.manual_seed(9)
    agent.update(_batch(gen))
    gen.set_state(state)
    torch.manual_seed(9)
    moved.update(_batch(gen, K, kc))
    step = agent.actor.net.linear_in.weight.detach() - before
    moved_step = moved.actor.net.linear_in.weight.detach() - moved_before
    # decoupled decay shrinks each weight by lr*wd of itself, which differs by 1/k
    decay = agent.cfg.lr * agent.cfg.weight_decay
    torch.testing.assert_close(moved_step + decay * moved_before, step + decay * before,
                               atol=1e-7, rtol=1e-4)
    assert step.abs().max() > 1e-6


def test_factors_of_a_frame_a_history_and_a_privileged_critic():
    terms = (('a', 2), ('b', 1), ('c', 2))
    f = frame_factors(terms, {'a': [2.0, 2.0], 'c': [0.25, 1.0]}, {'a': [2.0, 1.0], 'b': [3.0],
                                                                   'c': [1.0, 1.0]})
    np.testing.assert_allclose(f, [1.0, 0.5, 3.0, 4.0, 1.0])
    actor, critic = input_factors(f, 10, 8)
    np.testing.assert_allclose(actor, np.tile(f, 2))
    np.testing.assert_allclose(critic, np.concatenate([f, [1, 1, 1]]))
    assert [x.tolist() for x in input_factors(f, 5, 5)] == [f.tolist()] * 2
    with pytest.raises(ValueError, match='the actor takes 7 values, not whole frames of 5'):
        input_factors(f, 7, 9)


def test_a_replay_is_scaled_field_by_field_its_warm_up_tiles_too():
    rows = {'obs': torch.ones(3, 2), 'next_obs': torch.ones(3, 2),
            'next_clean_obs': torch.ones(3, 2), 'critic_obs': torch.ones(3, 3),
            'next_critic_obs': torch.ones(3, 3), 'action': torch.ones(3, 2),
            'reward': torch.ones(3, 1), 'warm_obs': torch.ones(1, 2), 'size': 3}
    out = rescale_replay(rows, np.array([1.0, 4.0]), np.array([1.0, 4.0, 1.0]))
    for name in ('obs', 'next_obs', 'next_clean_obs', 'warm_obs'):
        assert out[name][0].tolist() == [1.0, 4.0]
    for name in ('critic_obs', 'next_critic_obs'):
        assert out[name][0].tolist() == [1.0, 4.0, 1.0]
    assert out['action'][0].tolist() == [1.0, 1.0] and out['size'] == 3
    assert rows['obs'][0].tolist() == [1.0, 1.0]        # the given one is left as it was


# ---- symphony branch --obs-spec on the G1 --------------------------------------------------
G1 = 'velocity:g1'
TINY = dict(hidden_dim=16, critic_heads=4, batch_size=16, capacity=400, explore_steps=40)


def _cfg(run_dir, steps=120, obs_spec='velocity_gait_scaled'):
    return TrainConfig(env=G1, steps=steps, run_dir=str(run_dir), seed=1, eval_every=1000,
                       eval_episodes=1, checkpoint_every=40, episode_limit=30,
                       privileged_critic=True, keep_checkpoints=True, keep_actors=True,
                       obs_spec=obs_spec, overrides=dict(TINY))


@pytest.fixture(scope='module')
def g1_run(tmp_path_factory):
    return trained_run(tmp_path_factory, 'respec', _cfg)


def _sha(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_a_branch_moved_onto_the_turn_spec_acts_alike_and_trains_on(g1_run, tmp_path, capsys):
    src_ckpt = latest_checkpoint(str(g1_run))
    step = load_checkpoint(src_ckpt)['step']
    before = {p: _sha(p) for p in (src_ckpt, replay_path(str(g1_run), step))}
    new = tmp_path / 'turn'
    assert cli(['branch', str(g1_run), str(new), '--obs-spec', 'velocity_gait_turn']) == 0
    assert 'moved onto observation velocity_gait_turn' in capsys.readouterr().out
    assert {p: _sha(p) for p in before} == before              # the source is left as it was
    with open(new / 'config.json') as f:
        assert json.load(f)['train_config']['obs_spec'] == 'velocity_gait_turn'
    old, moved = load_checkpoint(src_ckpt), load_checkpoint(latest_checkpoint(str(new)))
    assert moved['obs_scales']['command'] == [2.0, 2.0, 1.0]
    yaw = term_slices(obs_terms(G1, 'velocity_gait_turn'))['command'].start + 2
    replay = torch.load(replay_path(str(new), step), weights_only=True)
    src_replay = torch.load(replay_path(str(g1_run), step), weights_only=True)
    torch.testing.assert_close(replay['obs'][:, yaw], src_replay['obs'][:, yaw] * 4)
    torch.testing.assert_close(replay['critic_obs'][:, yaw], src_replay['critic_obs'][:, yaw] * 4)
    torch.testing.assert_close(replay['action'], src_replay['action'])
    agent = Symphony(98, 29, get_config('s3', **TINY), critic_dim=replay['critic_obs'].shape[1])
    agent.load_state_dict(old['agent'])
    was = agent.actor.asb(src_replay['obs'][:50])[0]
    agent.load_state_dict(moved['agent'])
    torch.testing.assert_close(agent.actor.asb(replay['obs'][:50])[0], was)
    cfg = _cfg(new, steps=step + 60, obs_spec='velocity_gait_turn')
    with Trainer(cfg, resume=True, progress=False, tensorboard=False) as trainer:
        trainer.run()
    assert trainer.progress.step >= step + 60
    assert cli(['inspect', str(new)]) == 0
    assert ('moved from observation velocity_gait_scaled onto velocity_gait_turn'
            in capsys.readouterr().out)
    out = tmp_path / 'turn.onnx'
    assert cli(['export', str(new / 'best_actor.pt'), '-o', str(out)]) == 0
    contract = PolicyLoop(str(out), get_robot('g1')).policy.contract   # the deploy side's checks
    assert contract.observation.name == 'velocity_gait_turn'
    assert contract.observation.spec['scales']['command'] == [2.0, 2.0, 1.0]


def test_a_spec_with_other_terms_is_refused_naming_those_that_fit(g1_run, tmp_path, capsys):
    assert cli(['branch', str(g1_run), str(tmp_path / 'x'), '--obs-spec', 'velocity']) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert ("--obs-spec velocity: not the terms of the run's 'velocity_gait_scaled' on "
            'velocity:g1' in err)
    assert 'expected one of velocity_gait, velocity_gait_turn' in err
    assert not os.path.exists(tmp_path / 'x')
    with pytest.raises(RunDirError, match='expected one of velocity_gait, velocity_gait_turn'):
        branch_run(str(g1_run), str(tmp_path / 'y'), obs_spec='no_such_spec')

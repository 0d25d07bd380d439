"""--privileged-critic: the critic learns from the env's exact state, the actor from its own view.

The velocity env's ``info['critic_obs']`` (observation before any noise, then base velocity,
height, foot contacts and lifts), the replay's critic fields, the loss that values them, and a
run that trains, resumes and starts from a checkpoint of either kind.
"""

import os
import shutil

import mujoco
import numpy as np
import pytest
import torch

from symphony_ros.core.agent import Symphony
from symphony_ros.core.checkpoint import CheckpointError, latest_checkpoint, load_checkpoint
from symphony_ros.core.config import TrainConfig, get_config
from symphony_ros.core.envs import make_env
from symphony_ros.core.replay import Batch, FadingReplayBuffer
from symphony_ros.core.run_dir import RunDirError
from symphony_ros.core.trainer import Trainer
from symphony_ros.distributed.config import DistributedConfig
from symphony_ros.distributed.entry import make_trainer
from symphony_ros.robot import get_robot
from symphony_ros.robot.randomize import randomize_env
from symphony_ros.robot.ranges import point_spec

G1 = 'velocity:g1'
TINY = dict(hidden_dim=16, critic_heads=4, batch_size=16, capacity=400, explore_steps=40)


def _cfg(run_dir, **kw):
    return TrainConfig(env=G1, steps=kw.pop('steps', 80), run_dir=str(run_dir),
                       seed=kw.pop('seed', 1), eval_every=1000, eval_episodes=1,
                       checkpoint_every=40, episode_limit=30, overrides=dict(TINY), **kw)


def _run(cfg, resume=False):
    with Trainer(cfg, resume=resume, progress=False, tensorboard=False) as trainer:
        trainer.run()
    return trainer


# ---- the env's privileged observation ---------------------------------------------------------
def test_velocity_env_critic_obs_is_the_observation_then_the_hidden_state():
    env = make_env(G1)
    u = env.unwrapped
    obs, info = env.reset(seed=3)
    env.action_space.seed(3)   # an unseeded space draws other actions in every process
    assert info['critic_obs'].shape == u.critic_observation_space.shape
    assert info['critic_obs'][-1] == 0.0, 'no yaw averaged before the first step'
    yaw = []
    for _ in range(15):
        obs, _, _, _, info = env.step(env.action_space.sample() * 0.2)
        yaw.append(u.robot_state().base_ang_vel[2])
    c, n = info['critic_obs'], len(obs)
    np.testing.assert_array_equal(c[:n], obs)
    s = u.robot_state()
    np.testing.assert_allclose(c[n:n + 3], s.base_lin_vel)
    assert abs(c[n + 3] - (s.base_position[2] - u.robot.nominal_base_height)) < 1e-12
    feet = [mujoco.mj_name2id(u.model, mujoco.mjtObj.mjOBJ_BODY, f) for f in u.robot.feet]
    np.testing.assert_array_equal(c[n + 4:n + 6], u.rewards.feet_contact(u.data))
    np.testing.assert_allclose(c[n + 6:n + 8], u.data.xpos[feet, 2] - u.rewards.feet_z0)
    assert c[n + 4:n + 6].sum() >= 1, 'standing near its start: a foot is down'
    # 15 steps are fewer than a gait cycle (40): the average of all of them so far.
    assert abs(c[n + 8] - np.mean(yaw)) < 1e-12 and len(c) == n + 9


def test_critic_obs_stays_exact_under_observation_noise_and_delay():
    env = randomize_env(make_env(G1), point_spec({'obs_noise_scale': 1.0, 'delay_s': 0.02}),
                        get_robot('g1'))
    _, info = env.reset(seed=0)
    n = env.observation_space.shape[0]
    np.testing.assert_array_equal(info['critic_obs'][:n], env.unwrapped._observe())
    obs, _, _, _, info = env.step(np.full(env.action_space.shape, 0.1))
    clean = env.unwrapped._observe()
    np.testing.assert_array_equal(info['critic_obs'][:n], clean)
    assert not np.array_equal(obs, clean), 'the actor sees noise'


def _critic_inputs(critic_state):
    """Width of the critic's input: its first layer's weight's second dimension."""
    return next(v.shape[1] for v in critic_state.values() if v.dim() == 2)


# ---- replay and loss --------------------------------------------------------------------------
def _fill(buf, n, critic=True):
    for i in range(n):
        o = np.full(2, float(i))
        c = np.full(5, 10.0 * i) if critic else None
        buf.add(o, np.zeros(1), 1.0, o + 1, False, c, None if c is None else c + 10)


def test_replay_keeps_the_critics_views_with_their_transitions():
    buf = FadingReplayBuffer(64, 2, 1, critic_dim=5)
    with pytest.raises(ValueError, match='critic_obs and next_critic_obs are required'):
        buf.add(np.zeros(2), np.zeros(1), 0.0, np.zeros(2), False)
    _fill(buf, 50)
    b = buf.sample(128)
    torch.testing.assert_close(b.critic_obs, 10 * b.obs[:, :1].expand(-1, 5))
    torch.testing.assert_close(b.next_critic_obs, b.critic_obs + 10)
    again = FadingReplayBuffer(64, 2, 1, critic_dim=5)
    again.load_state_dict(buf.state_dict())
    torch.testing.assert_close(again.ordered('next_critic_obs'), buf.ordered('next_critic_obs'))
    plain = FadingReplayBuffer(64, 2, 1)
    _fill(plain, 10, critic=False)
    assert plain.sample(4).critic_obs is None
    with pytest.raises(ValueError, match='replay holds no critic_obs, next_critic_obs'):
        FadingReplayBuffer(64, 2, 1, critic_dim=5).load_state_dict(plain.state_dict())


def test_the_loss_values_the_critics_view_and_trains_the_actor_through_the_action():
    torch.manual_seed(0)
    agent = Symphony(3, 2, get_config('s3', hidden_dim=16, critic_heads=4, batch_size=8),
                     critic_dim=7)
    assert _critic_inputs(agent.critic.state_dict()) == 7 + 2
    n = 8
    batch = Batch(torch.randn(n, 3), torch.rand(n, 2) * 2 - 1, torch.randn(n, 1),
                  torch.randn(n, 3), torch.zeros(n, 1), torch.randn(n, 7), torch.randn(n, 7))
    terms = agent.loss(batch)
    terms['loss'].backward()
    assert all(p.grad is not None for p in agent.actor.parameters())
    assert all(p.grad is not None for p in agent.critic.parameters())
    torch.manual_seed(1)
    first = agent.loss(batch)['critic']
    torch.manual_seed(1)
    moved = agent.loss(batch._replace(critic_obs=batch.critic_obs + 1.0))['critic']
    assert not torch.isclose(first, moved), 'the critic term reads the critic view'
    torch.manual_seed(1)
    same = agent.loss(batch._replace(obs=batch.obs + 1.0))['critic']
    assert torch.isclose(first, same), 'and not the actor observation'


# ---- runs ---------------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def privileged_run(tmp_path_factory):
    torch.set_num_threads(1)
    run = tmp_path_factory.mktemp('priv') / 'run'
    trainer = _run(_cfg(run, privileged_critic=True))
    return run, trainer


def test_a_privileged_run_trains_and_records_its_critic(privileged_run):
    run, trainer = privileged_run
    assert trainer.step_count == 80 and trainer.learning
    env = make_env(G1)
    want = env.unwrapped.critic_observation_space.shape[0]
    state = load_checkpoint(latest_checkpoint(str(run)))
    assert state['critic_dim'] == want != state['obs_dim']
    assert state['train_config']['privileged_critic'] is True
    assert _critic_inputs(state['agent']['critic']) == want + state['act_dim']


def test_it_resumes_with_its_critic_views_and_refuses_the_other_critic(privileged_run, tmp_path):
    run, _ = privileged_run
    copy = tmp_path / 'copy'
    shutil.copytree(run, copy)
    trainer = _run(_cfg(copy, privileged_critic=True, steps=120), resume=True)
    assert trainer.step_count == 120 and trainer.buffer.critic_dim == trainer.agent.critic_dim
    with pytest.raises(RunDirError, match='privileged_critic stored True, given False'):
        Trainer(_cfg(copy, steps=160), resume=True, progress=False, tensorboard=False)


@pytest.mark.parametrize('privileged_source', [True, False])
def test_init_from_a_checkpoint_of_the_other_critic_takes_its_actor(privileged_run, tmp_path,
                                                                    privileged_source):
    run, _ = privileged_run
    source = run
    if not privileged_source:
        source = tmp_path / 'plain'
        _run(_cfg(source, steps=40))
    state = load_checkpoint(latest_checkpoint(str(source)))
    with Trainer(_cfg(tmp_path / 'new', init_from=str(source),
                      privileged_critic=not privileged_source),
                 progress=False, tensorboard=False) as trainer:
        for name, value in trainer.agent.actor.state_dict().items():
            assert torch.equal(value.cpu(), state['agent']['actor'][name]), name
        assert any('critic saw another observation' in n for n in trainer.notes)
        trainer.run(max_steps=50)
        assert trainer.learning


def test_refused_before_any_file_without_a_privileged_view_or_with_collectors(tmp_path):
    cfg = TrainConfig(env='Pendulum-v1', run_dir=str(tmp_path / 'p'), privileged_critic=True)
    with pytest.raises(ValueError, match="'Pendulum-v1' gives no privileged observation"):
        Trainer(cfg, progress=False, tensorboard=False)
    assert not os.path.exists(tmp_path / 'p' / 'config.json')
    with pytest.raises(ValueError, match='single process only'):
        make_trainer(_cfg(tmp_path / 'q', privileged_critic=True),
                     DistributedConfig(collectors=1), progress=False)
    assert not os.path.exists(tmp_path / 'q')


def test_a_checkpoint_of_the_other_critic_is_refused_on_resume(privileged_run, tmp_path):
    run, trainer = privileged_run
    state = load_checkpoint(latest_checkpoint(str(run)))
    with pytest.raises(CheckpointError, match='its critic sees .* values, this run'):
        with Trainer(_cfg(tmp_path / 'x'), progress=False, tensorboard=False) as plain:
            plain._load_agent(state, 'ckpt.pt')


def test_a_frozen_actor_stays_bit_for_bit_while_its_critic_learns(privileged_run, tmp_path):
    run, _ = privileged_run
    agent = Symphony(3, 2, get_config('s3', hidden_dim=16, critic_heads=4, batch_size=8))
    before = [p.detach().clone() for p in agent.actor.parameters()]
    critic = [p.detach().clone() for p in agent.critic.parameters()]
    n = 8
    batch = Batch(torch.randn(n, 3), torch.rand(n, 2) * 2 - 1, torch.randn(n, 1),
                  torch.randn(n, 3), torch.zeros(n, 1))
    for _ in range(3):
        agent.update(batch, train_actor=False)
    assert all(torch.equal(a, b) for a, b in zip(before, agent.actor.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(critic, agent.critic.parameters()))
    # Its moments are warm: released, its first steps are not Adam's cold lr x sign(g).
    n_actor = len(list(agent.actor.parameters()))
    assert all(v.abs().sum() > 0 for v in agent.optimizer.v[:n_actor])
    # A run from a plain checkpoint: the actor is the loaded one until the frozen steps end.
    source = tmp_path / 'plain'
    _run(_cfg(source, steps=40))
    loaded = load_checkpoint(latest_checkpoint(str(source)))['agent']['actor']
    with Trainer(_cfg(tmp_path / 'frozen', init_from=str(source), privileged_critic=True,
                      actor_frozen_steps=70, steps=90),
                 progress=False, tensorboard=False) as trainer:
        trainer.run(max_steps=70)
        assert trainer.learning and trainer.updates > 0
        actor = trainer.agent.actor.state_dict().items()
        assert all(torch.equal(v.cpu(), loaded[k]) for k, v in actor)
        trainer.run(max_steps=20)
        assert not all(torch.equal(v.cpu(), loaded[k])
                       for k, v in trainer.agent.actor.state_dict().items())

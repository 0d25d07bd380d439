"""Project training envs: observation from the builder, Gymnasium's dynamics unchanged."""

import gymnasium as gym
import numpy as np
import pytest

from symphony_ros.core import envs as core_envs
from symphony_ros.core.envs import make_env
from symphony_ros.robot import get_robot
from symphony_ros.robot.envs import ENVS, StateObservation
from symphony_ros.robot.observations import ObservationBuilder, get_obs_spec

REGISTERED = [(name, spec) for name, entry in sorted(ENVS.items()) for spec in entry.obs_specs]


def _rollout(env, seed, steps):
    """Yield (action, obs, reward, terminated, info) along random actions in [-1, 1]."""
    rng = np.random.default_rng(seed)
    obs, info = env.reset(seed=seed)
    yield None, obs, 0.0, False, info
    for _ in range(steps):
        action = rng.uniform(-1, 1, env.action_space.shape)
        obs, reward, terminated, truncated, info = env.step(action)
        yield action, obs, reward, terminated, info
        if terminated or truncated:
            obs, info = env.reset()
            yield None, obs, 0.0, False, info


@pytest.mark.parametrize('name, spec', REGISTERED)
def test_every_registered_env_and_spec_runs_without_nan(name, spec):
    env = make_env(name, obs_spec=spec)
    try:
        assert env.observation_space.shape == (get_obs_spec(spec).dim,)
        for _, obs, reward, _, info in _rollout(env, 0, 30):
            assert obs.shape == env.observation_space.shape and obs.dtype == np.float64
            assert np.isfinite(obs).all() and np.isfinite(reward)
            assert np.isfinite(info['critic_obs']).all()
        assert env.metadata['obs_spec']['name'] == spec
    finally:
        env.close()


def test_make_env_gives_the_project_humanoid_with_376_dims():
    env = make_env('Humanoid-v4')
    assert isinstance(env, StateObservation)
    assert env.obs_spec.name == 'humanoid_v4_full'
    assert core_envs.env_dims(env) == (376, 17)     # Gymnasium's Humanoid-v4 sizes, by design
    assert core_envs.episode_limit(env) == 1000
    with pytest.raises(ValueError, match='no observation spec'):
        make_env('Humanoid-v4', obs_spec='gym')


@pytest.mark.parametrize('spec', ['humanoid_v4_full', 'humanoid_v4_action', 'humanoid_v4_torque',
                                  'proprioceptive'])
def test_env_observation_equals_builder_on_the_published_state(spec):
    """Training and deployment agree by construction: same builder, same state."""
    env = make_env('Humanoid-v4', obs_spec=spec)
    actor, critic = ObservationBuilder(spec), ObservationBuilder('humanoid_v4_full')
    n = env.action_space.shape[0]
    prev = np.zeros(n)
    for action, obs, _, _, info in _rollout(env, 3, 80):
        prev = np.zeros(n) if action is None else action
        state = env.get_wrapper_attr('robot_state')()
        np.testing.assert_allclose(obs, actor.build(state, prev), rtol=0, atol=1e-9)
        np.testing.assert_allclose(info['critic_obs'], critic.build(state), rtol=0, atol=1e-9)
        np.testing.assert_array_equal(env.get_wrapper_attr('previous_action')(), prev)
        if 'previous_action' in env.obs_spec.slices():
            sl = env.obs_spec.slices()['previous_action']
            gear = get_robot().gear if spec == 'humanoid_v4_torque' else 1.0   # torque asked
            np.testing.assert_array_equal(obs[sl], prev * gear)
    env.close()


def test_dynamics_reward_and_termination_are_gymnasium_s():
    ours, theirs = make_env('Humanoid-v4', obs_spec='proprioceptive'), gym.make('Humanoid-v4')
    ours_steps = list(_rollout(ours, 5, 60))
    theirs_steps = list(_rollout(theirs, 5, 60))
    assert len(ours_steps) == len(theirs_steps)
    for a, b in zip(ours_steps, theirs_steps):
        assert a[2] == b[2] and a[3] == b[3]
        if a[0] is not None:
            np.testing.assert_array_equal(a[0], b[0])
    ours.close()
    theirs.close()


def test_vanilla_option_returns_gymnasium_s_observation():
    ours, theirs = make_env('Humanoid-v4', obs_spec='gym_humanoid_v4'), gym.make('Humanoid-v4')
    for a, b in zip(_rollout(ours, 2, 20), _rollout(theirs, 2, 20)):
        np.testing.assert_array_equal(a[1], b[1])
    assert ours.metadata['obs_spec']['reproducible_from_state'] is False
    ours.close()
    theirs.close()


def test_robot_state_before_reset_is_an_error():
    env = make_env('Humanoid-v4')
    with pytest.raises(RuntimeError, match='reset'):
        env.get_wrapper_attr('robot_state')()
    env.close()


def test_the_project_humanoid_has_its_own_id_and_the_old_one_maps_to_it(caplog, monkeypatch):
    from symphony_ros.robot import envs as robot_envs
    monkeypatch.setattr(robot_envs, '_NOTED', set())
    assert core_envs.lookup('symphony/Humanoid-v4') is core_envs.lookup('Humanoid-v4')
    assert core_envs.canonical_env_id('Humanoid-v4') == 'symphony/Humanoid-v4'
    notes = [r.getMessage() for r in caplog.records if 'symphony/Humanoid-v4' in r.getMessage()]
    assert len(notes) == 1 and '\n' not in notes[0]  # one line, once per process
    assert "env 'Humanoid-v4' is symphony/Humanoid-v4" in notes[0]
    assert 'gym_humanoid_v4' in notes[0]


def test_a_run_folder_of_humanoid_v4_resumes_under_the_new_id(tmp_path):
    from symphony_ros.core.config import TrainConfig
    from symphony_ros.core.run_dir import RunDirError
    from symphony_ros.core.trainer import Trainer
    run = str(tmp_path / 'run')
    tiny = {'hidden_dim': 16, 'critic_heads': 4, 'capacity': 100}
    Trainer(TrainConfig(env='Humanoid-v4', run_dir=run, overrides=tiny, device='cpu'),
            progress=False, tensorboard=False).close()
    assert TrainConfig().env == 'symphony/Humanoid-v4'
    with pytest.raises(RunDirError, match='has no checkpoint yet'):  # not "another run"
        Trainer(TrainConfig(run_dir=run, overrides=tiny, device='cpu'), resume=True,
                progress=False, tensorboard=False)

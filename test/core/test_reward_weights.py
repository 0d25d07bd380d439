"""symphony train --reward-weights: a run's own weights over its task's, refused where none."""

import subprocess
import sys

import numpy as np
import pytest

from symphony_ros.core.config import TrainConfig
from symphony_ros.core.trainer import Trainer
from symphony_ros.robot import get_robot
from symphony_ros.robot.velocity_env import VelocityTask, parse_weights

TINY = dict(hidden_dim=16, critic_heads=4, batch_size=16, capacity=400, explore_steps=40)


def test_parse_weights_takes_known_terms_and_names_what_is_wrong():
    assert parse_weights('alive=0.3, gait_contact=0.6,') == {'alive': 0.3, 'gait_contact': 0.6}
    with pytest.raises(ValueError, match=r"--reward-weights 'speed=1': expected term=weight "
                                         r'with a term of track_lin_vel'):
        parse_weights('speed=1')
    with pytest.raises(ValueError, match=r"'alive': expected term=weight"):
        parse_weights('alive')
    for bad in ('alive=fast', 'alive=nan', 'alive=inf'):
        with pytest.raises(ValueError, match='the weight must be a finite number'):
            parse_weights(bad)


def test_a_run_trains_and_tests_on_its_own_weights(tmp_path):
    cfg = TrainConfig(env='velocity:g1', steps=20, run_dir=str(tmp_path / 'r'), seed=1,
                      eval_every=1000, eval_episodes=1, checkpoint_every=1000, overrides=TINY,
                      reward_weights='alive=0.3,swing_height=-40')
    with Trainer(cfg, progress=False, tensorboard=False) as trainer:
        task = VelocityTask.for_robot(get_robot('g1'))
        for env in (trainer.env, trainer.test_env):
            weights = env.unwrapped.task.weights
            assert weights['alive'] == 0.3 and weights['swing_height'] == -40.0
            assert weights['gait_contact'] == task.weights['gait_contact']
        trainer.run()
        row = trainer.env.step(trainer.env.action_space.sample())[4]['reward_terms']
        assert row['alive'] == pytest.approx(0.3)


def test_weights_are_refused_for_an_env_without_named_terms_before_any_file(tmp_path):
    run = tmp_path / 'h'
    done = subprocess.run(
        [sys.executable, '-m', 'symphony_ros.cli.main', 'train', '--env', 'InvertedPendulum-v4',
         '--run-dir', str(run), '--reward-weights', 'alive=1', '--no-progress'],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert ("--reward-weights: env 'InvertedPendulum-v4' has no named reward terms"
            in done.stderr)
    assert not run.exists()


def test_humanoid_takes_an_action_rate_on_top_of_gymnasiums_reward(tmp_path):
    from symphony_ros.core.envs import make_run_env
    cfg = TrainConfig(env='symphony/Humanoid-v4', steps=20, run_dir=str(tmp_path / 'r'),
                      reward_weights='action_rate=-0.5', overrides=TINY)
    weighed, plain = make_run_env(cfg), make_run_env(TrainConfig(env='symphony/Humanoid-v4'))
    weighed.reset(seed=4)
    plain.reset(seed=4)
    # 0.9 is beyond the humanoid's +-0.4 control range: the term charges what MuJoCo applies.
    for action, change in ((np.full(17, 0.9), 17 * 0.4 ** 2), (np.full(17, -0.2), 17 * 0.6 ** 2),
                           (np.full(17, -0.2), 0.0)):
        _, r1, _, _, info = weighed.step(action)
        _, r0, _, _, _ = plain.step(action)
        assert info['reward_terms']['action_rate'] == pytest.approx(-0.5 * change)
        assert r1 == pytest.approx(r0 - 0.5 * change)
    # Under randomisation too (its wrapper steps the env with the delayed action).
    cfg = TrainConfig(env='symphony/Humanoid-v4', reward_weights='action_rate=-0.5',
                      randomize='default')
    randomized = make_run_env(cfg, randomized=True)
    randomized.reset(seed=1)
    assert 'action_rate' in randomized.step(np.full(17, 0.3))[4]['reward_terms']
    with pytest.raises(ValueError, match=r"--reward-weights 'alive=1': expected term=weight "
                                         r'with a term of action_rate$'):
        make_run_env(TrainConfig(env='symphony/Humanoid-v4', reward_weights='alive=1'))

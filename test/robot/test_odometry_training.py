"""Training on leg odometry: the actor's odometry input is the estimate, the rest the sim's."""

import numpy as np
import pytest

from symphony_ros.cli.doctor_cmd import check_inputs
from symphony_ros.cli.main import main as cli
from symphony_ros.core.envs import make_env, make_run_env
from symphony_ros.core.trainer import Trainer
from symphony_ros.policy.runtime import OnnxPolicy
from symphony_ros.robot import get_robot
from symphony_ros.robot.obs_specs import get_obs_spec
from symphony_ros.robot.randomize import randomize_env
from symphony_ros.robot.ranges import point_spec

from g1_tiny_run import tiny_g1_config

ODOM = 'velocity_gait_odom'
G1 = get_robot('g1')


def _odom_term(obs):
    spec = get_obs_spec(ODOM, G1)
    scale = spec.scale_vector()
    part = spec.slices()['odom_lin_vel']
    return obs[part] / (1.0 if scale is None else scale[part])


def _pair(kick_at=20, steps=40):
    """Step a sim-odometry and a legs-odometry env alike; yield (sim, legs, truth) per step."""
    envs = [make_env('velocity:g1', ODOM, odometry=o) for o in ('sim', 'legs')]
    for env in envs:
        env.reset(seed=5)
    rng = np.random.default_rng(0)
    for step in range(steps):
        action = rng.uniform(-0.2, 0.2, G1.n_joints)
        out = []
        for env in envs:
            if step == kick_at:
                env.unwrapped.data.qvel[0] += 0.8
            out.append(env.step(action))
        yield out, envs[1].unwrapped.robot_state()


def test_the_observation_reads_the_estimate_and_the_reward_the_truth():
    errors = []
    for step, ((sim, legs), truth) in enumerate(_pair()):
        assert legs[1] == sim[1] and legs[2] == sim[2]             # reward, fall: the sim's
        critic = get_obs_spec(ODOM, G1).dim                        # the critic's hidden state
        np.testing.assert_allclose(legs[4]['critic_obs'][critic:], sim[4]['critic_obs'][critic:])
        np.testing.assert_allclose(_odom_term(sim[0]), truth.base_lin_vel, atol=1e-9)
        errors.append(_odom_term(legs[0]) - truth.base_lin_vel)
        if step == 20:   # the kick: the sim's input jumps, the estimate lags behind it
            assert abs(errors[-1][0]) > 0.3
    errors = np.array(errors)
    calm = np.r_[errors[2:20], errors[30:]]
    assert np.all(np.abs(calm) > 1e-6)                             # not the truth ...
    assert np.sqrt(np.mean(calm ** 2)) < 0.1                       # ... but near it


def test_a_push_reaches_the_accelerometer_and_the_estimate_follows_it_at_once():
    """A kick given through the env is felt by its IMU, as a real push is: no lag behind it.

    (A velocity written into the sim's data, as above, is felt by nothing: the estimate lags.)
    """
    spec = point_spec({'push_velocity': 0.8, 'push_interval_s': 100.0, 'push_first_s': 0.4})
    env = randomize_env(make_env('velocity:g1', ODOM, odometry='legs'), spec, G1)
    env.reset(seed=5)
    rng = np.random.default_rng(0)
    for _ in range(40):
        obs, *_ = env.step(rng.uniform(-0.2, 0.2, G1.n_joints))
        if env.kicks:
            break
    truth = env.unwrapped.robot_state()
    assert env.kicks and np.linalg.norm(truth.base_lin_vel[:2]) > 0.5, truth.base_lin_vel
    np.testing.assert_allclose(_odom_term(obs), truth.base_lin_vel, atol=0.25)


def test_leg_odometry_is_refused_where_it_has_nothing_to_feed(tmp_path, capsys):
    with pytest.raises(ValueError, match="observation 'velocity_gait_turn' reads no odometry"):
        make_env('velocity:g1', 'velocity_gait_turn', odometry='legs')
    with pytest.raises(ValueError, match="expected one of sim, legs, got 'gps'"):
        make_env('velocity:g1', ODOM, odometry='gps')
    code = cli(['train', '--env', 'InvertedPendulum-v4', '--odometry', 'legs', '--steps', '10',
                '--run-dir', str(tmp_path / 'r')])
    assert code == 2
    assert "--odometry legs: env 'InvertedPendulum-v4' reads no odometry" in (
        capsys.readouterr().err)
    assert not (tmp_path / 'r').exists()


def test_a_run_on_leg_odometry_trains_exports_and_is_stressed_on_it(tmp_path, capsys):
    cfg = tiny_g1_config(tmp_path / 'run', steps=80, obs_spec=ODOM, odometry='legs',
                         threads=1)
    assert make_run_env(cfg).unwrapped.odometry is not None
    with Trainer(cfg, progress=False, tensorboard=False) as trainer:
        trainer.run()
    onnx = str(tmp_path / 'p.onnx')
    assert cli(['export', str(tmp_path / 'run' / 'best_actor.pt'), '-o', onnx]) == 0
    assert OnnxPolicy(onnx).contract.train_config['odometry'] == 'legs'
    capsys.readouterr()
    assert cli(['inspect', onnx]) == 0
    assert 'trained on leg odometry; deploy with estimator:=legs' in capsys.readouterr().out
    # On a robot, the doctor names the launch argument that gives it that estimate.
    hint = check_inputs(onnx, 'g1', 'real').hint
    assert hint.startswith('deploy with estimator:=legs: the estimate it trained on'), hint
    # The stress test drives it on the estimate it trained on.
    from symphony_ros.stress import run
    job = run.Job(onnx, 'velocity:g1', ODOM, 'g1', 0, 5, None, 'legs')
    run._setup(job)
    assert run._env('nominal').unwrapped.odometry is not None
    # A resume that changes the source is refused: the actor's input would change meaning.
    capsys.readouterr()
    code = cli(['train', '--run-dir', str(tmp_path / 'run'), '--resume', '--odometry', 'sim',
                '--steps', '100', '--no-progress'])
    assert code == 2 and 'odometry' in capsys.readouterr().err


def test_the_flag_names_its_choices(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli(['train', '--odometry', 'gps'])
    assert exit_.value.code == 2
    assert "--odometry: invalid choice: 'gps' (choose from 'sim', 'legs')" in (
        capsys.readouterr().err)


_DRAW = '''
import hashlib
import numpy as np
from symphony_ros.core.envs import make_env
from symphony_ros.robot import get_robot
from symphony_ros.robot.randomize import randomize_env
from symphony_ros.robot.ranges import point_spec
spec = point_spec({'obs_noise_scale': 1.0, 'imu_bias_scale': 1.0})
env = randomize_env(make_env('velocity:g1', 'velocity_gait_odom', odometry='legs'), spec,
                    get_robot('g1'))
obs, _ = env.reset(seed=3)
for _ in range(5):
    obs, *_ = env.step(np.zeros(env.action_space.shape))
print(hashlib.sha256(np.asarray(obs).tobytes()).hexdigest())
'''


def test_sensor_noise_on_the_state_is_the_same_whatever_the_hash_seed():
    """A seed draws the same sensor noise in every process: draws follow no set's order.

    Python orders a set of strings by a hash salted per process (PYTHONHASHSEED), so noise
    drawn term by term over one differs between two runs of one seed.
    """
    import os
    import subprocess
    import sys
    digests = set()
    for salt in ('1', '2', '3', '4'):
        out = subprocess.run([sys.executable, '-c', _DRAW], capture_output=True, text=True,
                             env=dict(os.environ, PYTHONHASHSEED=salt), timeout=300)
        assert out.returncode == 0, out.stderr
        digests.add(out.stdout.strip())
    assert len(digests) == 1, digests

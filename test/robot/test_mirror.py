"""Left-right mirror maps: read from the robot, checked against mirrored MuJoCo physics."""

import os

import mujoco
import numpy as np
import pytest
import torch

from symphony_ros.cli.main import main
from symphony_ros.core.augment import BatchMirror
from symphony_ros.core.config import TrainConfig
from symphony_ros.core.envs import make_env
from symphony_ros.core.replay import Batch
from symphony_ros.core.trainer import Trainer
from symphony_ros.robot import get_robot
from symphony_ros.robot.mirror import Mirror, joint_mirror

from user_robot import MJCF, robot_doc, write_robot


def test_g1_pairs_left_with_right_and_negates_roll_and_yaw():
    robot = get_robot('g1')
    m = joint_mirror(robot)
    names = list(robot.joint_names)
    for i, name in enumerate(names):
        partner = names[m.index[i]]
        assert partner == name.replace('left_', 'R').replace('right_', 'left_').replace(
            'R', 'right_'), name
        assert m.sign[i] == (-1.0 if ('roll' in name or 'yaw' in name) else 1.0), name
    np.testing.assert_array_equal(m(robot.default_pose()), robot.default_pose())


def _mirror_state(env, source, joints):
    """Put ``env`` in the mirror image of ``source``'s state, command and gait phase."""
    u, s = env.unwrapped, source.unwrapped
    q, v = s.data.qpos.copy(), s.data.qvel.copy()
    q[1], v[1] = -q[1], -v[1]
    w, x, y, z = s.data.qpos[3:7]
    q[3:7] = (w, -x, y, -z)                 # S R S for S = diag(1, -1, 1)
    v[3], v[5] = -v[3], -v[5]               # angular velocity: a pseudovector
    q[u.qa], v[u.da] = joints(s.data.qpos[s.qa]), joints(s.data.qvel[s.da])
    u.data.qpos[:], u.data.qvel[:] = q, v
    mujoco.mj_forward(u.model, u.data)
    u.command[:] = s.command * (1.0, -1.0, -1.0)
    u.clock_start = s.clock_start + u.clock.cycle_ticks // 2
    u.rewards.reset(u.data)
    return env.reobserve()[0]


def _run_pair(joints_for_b, steps=30):
    """Step a G1 and its mirror image with mirrored actions; return the largest differences.

    On the raw observation: the tolerances below are in its units (rad/s for velocities).
    """
    a_env, b_env = (make_env('velocity:g1', 'velocity_gait') for _ in range(2))
    obs_m, act_m, critic_m = a_env.unwrapped.mirror_maps()
    oa, _ = a_env.reset(seed=1)
    b_env.reset(seed=2)
    ob = _mirror_state(b_env, a_env, act_m)
    assert np.abs(obs_m(oa) - ob).max() < 1e-12
    rng = np.random.default_rng(0)
    worst = {'obs': 0.0, 'critic': 0.0, 'reward': 0.0}
    for _ in range(steps):
        a = rng.uniform(-0.075, 0.075, a_env.action_space.shape)  # 0.1-0.16 rad of joint
        oa, ra, _, _, ia = a_env.step(a)
        ob, rb, _, _, ib = b_env.step(joints_for_b(act_m)(a))
        worst['obs'] = max(worst['obs'], np.abs(obs_m(oa) - ob).max())
        worst['critic'] = max(worst['critic'],
                              np.abs(critic_m(ia['critic_obs']) - ib['critic_obs']).max())
        worst['reward'] = max(worst['reward'], abs(ra - rb))
    return worst


def test_the_mirror_image_of_a_g1_trajectory_is_a_g1_trajectory():
    worst = _run_pair(lambda m: m)
    # MuJoCo's contact solver is not exactly symmetric: rad/s-sized terms agree to ~0.03,
    # with one 0.12 transient as the feet settle.
    assert worst['obs'] < 0.25 and worst['critic'] < 0.25, worst
    assert worst['reward'] < 0.01, worst


def test_a_wrong_sign_is_seen_in_the_physics():
    worst = _run_pair(lambda m: Mirror(m.index, np.abs(m.sign)))
    assert worst['obs'] > 1.0, worst


def test_an_asymmetric_robot_has_no_mirror_and_the_joint_is_named(tmp_path):
    path = write_robot(str(tmp_path), mjcf=MJCF.replace(
        '<joint name="right_knee" axis="0 1 0"', '<joint name="right_knee" axis="1 0 0"'))
    with pytest.raises(ValueError, match="joint 'left_knee': axis .* has no mirror image in "
                                         "'right_knee'"):
        joint_mirror(get_robot(path))
    doc = robot_doc()
    doc['joints'][2]['default'] = -0.3
    path = write_robot(str(tmp_path / 'b'), doc)
    with pytest.raises(ValueError, match="default pose is not its own mirror image at joint "
                                         "'left_hip'"):
        joint_mirror(get_robot(path))


def test_batch_mirror_mirrors_the_second_half_only():
    n = 6
    obs, act = torch.randn(n, 3), torch.randn(n, 2)
    batch = Batch(obs, act, torch.randn(n, 1), obs + 1, torch.zeros(n, 1),
                  torch.randn(n, 4), torch.randn(n, 4), next_clean_obs=obs + 2)
    m = BatchMirror(([2, 1, 0], [1.0, -1.0, 1.0]), ([1, 0], [-1.0, -1.0]),
                    ([3, 2, 1, 0], [1.0, 1.0, 1.0, -1.0]))
    out = m(batch)
    torch.testing.assert_close(out.obs[:3], obs[:3])
    torch.testing.assert_close(out.obs[3:], obs[3:, [2, 1, 0]] * torch.tensor([1.0, -1, 1]))
    torch.testing.assert_close(out.next_obs[3:], (obs + 1)[3:, [2, 1, 0]]
                               * torch.tensor([1.0, -1, 1]))
    torch.testing.assert_close(out.next_clean_obs[3:], (obs + 2)[3:, [2, 1, 0]]
                               * torch.tensor([1.0, -1, 1]))
    torch.testing.assert_close(out.next_clean_obs[:3], (obs + 2)[:3])
    torch.testing.assert_close(out.action[3:], -act[3:, [1, 0]])
    torch.testing.assert_close(out.critic_obs[3:], batch.critic_obs[3:, [3, 2, 1, 0]]
                               * torch.tensor([1.0, 1, 1, -1]))
    assert out.reward is batch.reward and out.done is batch.done


def test_a_mirrored_run_trains_and_an_env_without_maps_is_refused(tmp_path, capsys):
    torch.set_num_threads(1)
    cfg = TrainConfig(env='velocity:g1', steps=60, run_dir=str(tmp_path / 'g1'), seed=1,
                      eval_every=1000, eval_episodes=1, checkpoint_every=60, episode_limit=30,
                      mirror=True, privileged_critic=True,
                      overrides=dict(hidden_dim=16, critic_heads=4, batch_size=16,
                                     capacity=200, explore_steps=30))
    with Trainer(cfg, progress=False, tensorboard=False) as trainer:
        obs_m, _, critic_m = make_env('velocity:g1').unwrapped.mirror_maps()
        torch.testing.assert_close(trainer.mirror.critic[0].cpu().numpy(), critic_m.index)
        reach = [n for n in trainer.notes if n.startswith('action reach:')]
        assert reach == ['action reach: a Symphony actor\'s actions stay within about +-0.4, '
                         'so joint targets within +-0.56 rad (left_hip_roll_joint) to '
                         '+-0.88 rad (left_hip_pitch_joint) of the default pose; '
                         f'action_scale in {get_robot("g1").source} sets it; exploration '
                         'noise (std 0.37) moves them by about 0.51-0.80 rad RMS every control '
                         'step (--act-noise-clip C: std about 1/C)'], trainer.notes
        trainer.run()
        assert trainer.learning and trainer.step_count == 60
    policy = str(tmp_path / 'g1.onnx')
    assert main(['export', str(tmp_path / 'g1'), '-o', policy, '--samples', '5']) == 0
    capsys.readouterr()
    assert main(['inspect', policy]) == 0
    assert ('critic           privileged (saw the exact state in training); half of each '
            'batch mirrored left-right') in capsys.readouterr().out
    bad = TrainConfig(env='symphony/Humanoid-v4', run_dir=str(tmp_path / 'h'), mirror=True)
    with pytest.raises(ValueError, match='--mirror: env .* has no mirror maps'):
        Trainer(bad, progress=False, tensorboard=False)
    assert not os.path.exists(tmp_path / 'h' / 'config.json')

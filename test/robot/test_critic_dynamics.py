"""``--critic-dynamics``: the privileged critic sees each episode's randomised dynamics.

The values are the draws' distances from nominal (0 for the nominal robot), the same for
every step of an episode and new with the next; the mirror negates the lateral CoM offset
alone; a run trains and resumes with them; a run trained without them takes them by a
branch whose critics judge as before (weight 0), with the buffer refilled; the settings it
cannot work with are refused naming the flag.
"""

import dataclasses
import json

import numpy as np
import pytest
import torch

from symphony_ros.cli.main import main as cli
from symphony_ros.core.agent import Symphony
from symphony_ros.core.checkpoint import latest_checkpoint, load_checkpoint, replay_path
from symphony_ros.core.config import get_config
from symphony_ros.core.envs import critic_dim, make_run_env, mirror_maps
from symphony_ros.core.preflight import validate
from symphony_ros.core.run_branch import branch_run
from symphony_ros.core.run_dir import RunDirError
from symphony_ros.core.trainer import Trainer
from symphony_ros.robot.critic_dynamics import COM_Y, DIM, dynamics_mirror, dynamics_vector

from g1_tiny_run import TINY, tiny_g1_config

DRAWS = {'mass_scale_mean': 1.05, 'payload_kg': 1.5, 'com_offset_m': [0.03, -0.015, 0.0],
         'friction_scale': 0.5, 'strength_scale_mean': 0.9, 'kp_scale_mean': 1.1,
         'kd_scale_mean': 1.0, 'delay_s': 0.01, 'obs_noise_scale': 0.25}


def test_the_values_are_each_draw_s_distance_from_nominal_over_its_span():
    np.testing.assert_allclose(dynamics_vector(DRAWS),
                               [0.5, 0.5, 1.0, -0.5, 0.0, -1.0, -1.0, 1.0, 0.0, 0.5, 0.25])
    assert dynamics_vector({}).tolist() == [0.0] * DIM      # the nominal robot (or a torque
    mirror = dynamics_mirror()                              # robot's kp and kd): zeros
    mirrored = mirror(dynamics_vector(DRAWS))
    assert mirrored[COM_Y] == 0.5 and np.delete(mirrored, COM_Y).tolist() == np.delete(
        dynamics_vector(DRAWS), COM_Y).tolist()
    np.testing.assert_allclose(mirror(mirrored), dynamics_vector(DRAWS))


def _cfg(run_dir, **kw):
    kw = {'randomize': 'default', 'critic_dynamics': True, 'mirror': True, **kw}
    return tiny_g1_config(run_dir, **kw)


def test_the_env_appends_them_to_the_critic_s_view_for_a_whole_episode(tmp_path):
    plain = make_run_env(_cfg(tmp_path, critic_dynamics=False), randomized=True)
    env = make_run_env(_cfg(tmp_path, history=2), randomized=True)
    assert critic_dim(env) == critic_dim(plain) + DIM
    n = critic_dim(plain)
    _, info = env.reset(seed=4)
    first = dynamics_vector(info['randomization'])
    assert first.any()
    np.testing.assert_allclose(info['critic_obs'][n:], first)
    for _ in range(3):
        _, _, _, _, info = env.step(np.zeros(env.action_space.shape))
        np.testing.assert_allclose(info['critic_obs'][n:], first)
        assert len(info['critic_obs']) == critic_dim(env)
    _, info = env.reset()
    assert not np.allclose(info['critic_obs'][n:], first)
    _, _, critic = mirror_maps(env, critic=True)
    assert len(critic[0]) == critic_dim(env) and critic[1][n + COM_Y] == -1.0
    env.close()
    plain.close()


def test_it_needs_a_privileged_critic_and_randomisation(tmp_path):
    with pytest.raises(ValueError, match='--critic-dynamics: .* give --privileged-critic true '
                       'and --randomize'):
        validate(dataclasses.replace(_cfg(tmp_path), privileged_critic=False))
    with pytest.raises(ValueError, match='--critic-dynamics'):
        validate(_cfg(tmp_path, randomize='none'))


@pytest.fixture(scope='module')
def plain_run(tmp_path_factory):
    torch.set_num_threads(1)
    run = tmp_path_factory.mktemp('dynamics') / 'src'
    with Trainer(_cfg(run, critic_dynamics=False), progress=False, tensorboard=False) as t:
        t.run()
    return run


def test_a_run_trains_and_resumes_with_them(tmp_path, capsys):
    torch.set_num_threads(1)
    run = tmp_path / 'dyn'
    with Trainer(_cfg(run, steps=80), progress=False, tensorboard=False) as trainer:
        trainer.run()
        n = trainer.agent.critic_dim
    with Trainer(_cfg(run, steps=120), resume=True, progress=False,
                 tensorboard=False) as trainer:
        assert trainer.agent.critic_dim == n
        trainer.run()
    state = load_checkpoint(latest_checkpoint(str(run)))
    assert state['step'] >= 120 and state['critic_dim'] == n
    replay = torch.load(replay_path(str(run), state['step']), weights_only=True)
    assert replay['critic_obs'].shape[1] == n
    assert cli(['inspect', str(run)]) == 0
    assert 'privileged critic; it sees the dynamics drawn' in capsys.readouterr().out
    policy = tmp_path / 'dyn.onnx'     # the actor alone: its card says how its critic saw
    assert cli(['export', str(run), '-o', str(policy), '--samples', '20']) == 0
    capsys.readouterr()
    assert cli(['inspect', str(policy)]) == 0
    assert 'it saw the dynamics each episode drew' in capsys.readouterr().out


def test_a_branch_gives_them_to_a_run_s_critics_at_weight_zero(plain_run, tmp_path, capsys):
    old = load_checkpoint(latest_checkpoint(str(plain_run)))
    new = tmp_path / 'dyn'
    assert cli(['branch', str(plain_run), str(new), '--critic-dynamics']) == 0
    out = capsys.readouterr().out
    assert 'its critic given the dynamics each episode draws (at weight 0)' in out
    assert 'no stored step holds the dynamics its critic now sees' in out
    assert '--refill-steps' in out
    with open(new / 'config.json') as f:
        assert json.load(f)['train_config']['critic_dynamics'] is True
    with open(new / 'branch.json') as f:
        assert json.load(f)['critic_dynamics'] is True
    moved = load_checkpoint(latest_checkpoint(str(new)))
    step, d, c = old['step'], old['obs_dim'], old['critic_dim']
    assert moved['critic_dim'] == c + DIM
    assert not (new / 'checkpoints' / f'replay_{step:09d}.pt').exists()
    cfg = get_config('s3', **TINY)
    before, after = Symphony(d, 29, cfg, critic_dim=c), Symphony(d, 29, cfg, critic_dim=c + DIM)
    before.load_state_dict(old['agent'])
    after.load_state_dict(moved['agent'])
    view, act = torch.randn(5, c), torch.randn(5, 29)
    torch.testing.assert_close(after.critic(torch.cat([view, torch.randn(5, DIM)], 1), act),
                               before.critic(view, act))
    torch.testing.assert_close(after.actor.asb(view[:, :d])[0], before.actor.asb(view[:, :d])[0])
    resumed = dataclasses.replace(_cfg(new, steps=step + 40), refill_steps=60)
    with Trainer(resumed, resume=True, progress=False, tensorboard=False) as trainer:
        trainer.run()
    trained = load_checkpoint(latest_checkpoint(str(new)))
    first = [k for k in trained['agent']['critic'] if k.endswith('.0.weight')][0]
    assert float(trained['agent']['critic'][first][:, c:c + DIM].abs().max()) > 0


def test_a_branch_is_refused_where_it_cannot_be_made(plain_run, tmp_path, capsys):
    dyn = tmp_path / 'dyn'
    branch_run(str(plain_run), str(dyn), critic_dynamics=True)
    with pytest.raises(RunDirError, match='the run\'s critic sees the dynamics already'):
        branch_run(str(dyn), str(tmp_path / 'twice'), critic_dynamics=True)
    plain = tmp_path / 'plain'
    cfg = dataclasses.replace(tiny_g1_config(plain, steps=50), privileged_critic=False)
    with Trainer(cfg, progress=False, tensorboard=False) as t:
        t.run()
    assert cli(['branch', str(plain), str(tmp_path / 'x'), '--critic-dynamics']) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'without a privileged critic' in err
    assert not (tmp_path / 'twice').exists() and not (tmp_path / 'x').exists()

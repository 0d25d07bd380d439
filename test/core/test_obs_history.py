"""Moving a single-frame run onto stacked observations: it acts alike, then learns the frames.

`symphony branch --history 3` on a small G1 run (symmetric actor, privileged critic), with
the resume and export that follow; the stacking of stored rows on its own.
"""

import json
import os

import numpy as np
import pytest
import torch

from symphony_ros.cli.main import main as cli
from symphony_ros.core.agent import Symphony
from symphony_ros.core.checkpoint import latest_checkpoint, load_checkpoint, replay_path
from symphony_ros.core.config import get_config
from symphony_ros.core.envs import make_run_env
from symphony_ros.core.obs_history import history_agent, stack_rows
from symphony_ros.core.replay import age_order
from symphony_ros.core.run_branch import branch_run
from symphony_ros.core.run_dir import RunDirError
from symphony_ros.core.trainer import Trainer
from symphony_ros.deploy.policy_loop import PolicyLoop
from symphony_ros.robot import get_robot

from g1_tiny_run import TINY, tiny_g1_config
from trained_runs import trained_run


@pytest.fixture(scope='module')
def one_frame_run(tmp_path_factory):
    return trained_run(tmp_path_factory, 'history', tiny_g1_config)


def test_stored_rows_stack_back_to_their_episode_s_first_frame():
    # Rows 0-2 one episode (states 1, 2, 3 -> 4), rows 3-4 the next (10 -> 11 -> 12).
    obs = np.array([[1.], [2.], [3.], [10.], [11.]])
    nxt = np.array([[2.], [3.], [4.], [11.], [12.]])
    clean = nxt + 0.5                        # the next frames before their noise
    out = stack_rows(obs, nxt, 3, clean)
    np.testing.assert_array_equal(out['obs'], [[1, 1, 1], [2, 1, 1], [3, 2, 1],
                                               [10, 10, 10], [11, 10, 10]])
    np.testing.assert_array_equal(out['next_obs'], [[2, 1, 1], [3, 2, 1], [4, 3, 2],
                                                    [11, 10, 10], [12, 11, 10]])
    # Clean frames from the clean next frames before them; an episode's first (never
    # stored) stands in by its noisy one.
    np.testing.assert_array_equal(out['next_clean_obs'], [
        [2.5, 1, 1], [3.5, 2.5, 1], [4.5, 3.5, 2.5], [11.5, 10, 10], [12.5, 11.5, 10]])


def test_a_critic_that_reads_the_observation_gets_the_frames_at_weight_zero():
    torch.set_num_threads(1)
    cfg = get_config('s3', **TINY)
    agent = Symphony(6, 2, cfg)
    moved = Symphony(18, 2, cfg)
    moved.load_state_dict(history_agent(agent.state_dict(), 6, 3, privileged=False))
    frame = torch.randn(5, 6)
    stacked = torch.cat([frame, torch.randn(5, 12)], 1)    # older frames: anything
    act = torch.randn(5, 2)
    torch.testing.assert_close(moved.critic(stacked, act), agent.critic(frame, act))
    torch.testing.assert_close(moved.actor.asb(stacked)[0], agent.actor.asb(frame)[0])


def test_a_history_branch_acts_alike_reads_its_stacked_replay_and_trains_on(
        one_frame_run, tmp_path, capsys):
    old = load_checkpoint(latest_checkpoint(str(one_frame_run)))
    step, d = old['step'], old['obs_dim']
    new = tmp_path / 'hist'
    assert cli(['branch', str(one_frame_run), str(new), '--history', '3']) == 0
    assert 'its actor reading the last 3 observations' in capsys.readouterr().out
    with open(new / 'config.json') as f:
        assert json.load(f)['train_config']['history'] == 3
    with open(new / 'branch.json') as f:
        assert json.load(f)['history'] == 3
    assert cli(['inspect', str(new)]) == 0
    assert 'its actor reading the last 3 observations (symphony branch' in ' '.join(
        capsys.readouterr().out.split())
    moved = load_checkpoint(latest_checkpoint(str(new)))
    assert (moved['obs_dim'], moved['critic_dim']) == (3 * d, old['critic_dim'])
    src = torch.load(replay_path(str(one_frame_run), step), weights_only=True)
    replay = torch.load(replay_path(str(new), step), weights_only=True)
    torch.testing.assert_close(replay['obs'][:, :d], src['obs'])
    torch.testing.assert_close(replay['next_obs'][:, :d], src['next_obs'])
    torch.testing.assert_close(replay['critic_obs'], src['critic_obs'])
    # A row that continues the row stored before it holds that row's frame next.
    order = age_order(src)
    rows = src['obs'][order]
    cont = np.flatnonzero((src['next_obs'][order][:-1] == rows[1:]).all(1).numpy()) + 1
    assert len(cont) > 20
    torch.testing.assert_close(replay['obs'][order][cont, d:2 * d], rows[cont - 1])
    torch.testing.assert_close(replay['next_obs'][order][cont, d:2 * d], rows[cont])
    # The actor acts as it did whatever the older frames hold; the critics are the same.
    cfg = get_config('s3', **TINY)
    before = Symphony(d, 29, cfg, critic_dim=old['critic_dim'])
    before.load_state_dict(old['agent'])
    after = Symphony(3 * d, 29, cfg, critic_dim=moved['critic_dim'])
    after.load_state_dict(moved['agent'])
    torch.testing.assert_close(after.actor.asb(replay['obs'][:50])[0],
                               before.actor.asb(src['obs'][:50])[0])
    # Its mirror map is the stacked env's.
    env = make_run_env(tiny_g1_config(new, history=3))
    mirror = env.get_wrapper_attr('mirror_maps')()[0]
    env.close()
    assert moved['agent']['actor']['mirror_obs_index'].tolist() == list(mirror.index)
    assert moved['agent']['actor']['mirror_obs_sign'].tolist() == list(mirror.sign)
    with Trainer(tiny_g1_config(new, steps=step + 60, history=3), resume=True, progress=False,
                 tensorboard=False) as trainer:
        trainer.run()
    trained = load_checkpoint(latest_checkpoint(str(new)))
    assert trained['step'] >= step + 60
    assert float(trained['agent']['actor']['net.0.weight'][:, d:].abs().max()) > 0
    out = tmp_path / 'hist.onnx'
    newest = sorted(os.listdir(new / 'actors'))[-1]
    assert cli(['export', str(new / 'actors' / newest), '-o', str(out)]) == 0
    loop = PolicyLoop(str(out), get_robot('g1'))
    assert loop.policy.contract.observation.history == 3


def test_a_history_branch_is_refused_where_it_cannot_be_made(one_frame_run, tmp_path, capsys):
    hist = tmp_path / 'stacked'
    with Trainer(tiny_g1_config(hist, steps=50, history=2), progress=False,
                 tensorboard=False) as t:
        t.run()
    assert cli(['branch', str(hist), str(tmp_path / 'x'), '--history', '3']) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'the run reads 2 frames already' in err
    assert not os.path.exists(tmp_path / 'x')
    with pytest.raises(RunDirError, match='--history with --obs-spec: one move a branch'):
        branch_run(str(one_frame_run), str(tmp_path / 'y'), obs_spec='velocity_gait_odom',
                   history=3)
    with pytest.raises(SystemExit):
        cli(['branch', str(one_frame_run), str(tmp_path / 'z'), '--history', '1'])
    assert not os.path.exists(tmp_path / 'y') and not os.path.exists(tmp_path / 'z')

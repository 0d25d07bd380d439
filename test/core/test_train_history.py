"""``symphony train --history N``: the actor learns on the last N observations, newest first.

The env a run trains and tests on stacks its observations as the deploy loop does, noise and
clean copy alike; the mirror maps repeat per frame; the exported contract says how many; a
one-frame actor starts such a run acting as it did, and other histories are refused.
"""

import numpy as np
import pytest
import torch

from symphony_ros.core.checkpoint import CheckpointError
from symphony_ros.core.config import TrainConfig
from symphony_ros.core.envs import make_run_env, mirror_maps
from symphony_ros.core.run_dir import RunDirError
from symphony_ros.core.snapshot import load_actor
from symphony_ros.core.trainer import Trainer
from symphony_ros.policy.onnx_file import load_contract
from symphony_ros.policy.export import export_policy
from symphony_ros.policy.runtime import OnnxPolicy
from shipped_models import G1_FIRST

G1 = 'velocity:g1'
TINY = dict(hidden_dim=16, critic_heads=4, batch_size=16, capacity=400, explore_steps=40)


def _cfg(run_dir, **kw):
    return TrainConfig(env=G1, steps=kw.pop('steps', 80), run_dir=str(run_dir),
                       seed=kw.pop('seed', 1), eval_every=1000, eval_episodes=1,
                       checkpoint_every=40, episode_limit=30,
                       overrides=kw.pop('overrides', dict(TINY)), **kw)


def _run(cfg, resume=False):
    with Trainer(cfg, resume=resume, progress=False, tensorboard=False) as trainer:
        trainer.run()
    return trainer


def test_the_run_env_stacks_noisy_and_clean_frames_newest_first(tmp_path):
    cfg = _cfg(tmp_path, randomize='default')
    one = make_run_env(cfg, randomized=True)
    three = make_run_env(_cfg(tmp_path, randomize='default', history=3), randomized=True)
    n = one.observation_space.shape[0]
    assert three.observation_space.shape == (3 * n,)
    a, ai = one.reset(seed=5)
    b, bi = three.reset(seed=5)
    np.testing.assert_array_equal(b, np.tile(a, 3))     # the first frame fills the history
    np.testing.assert_array_equal(bi['clean_obs'], np.tile(ai['clean_obs'], 3))
    assert bi['critic_obs'].shape == ai['critic_obs'].shape     # the critic: one frame
    frames, cleans = [a] * 3, [ai['clean_obs']] * 3
    rng = np.random.default_rng(0)
    for _ in range(4):
        action = rng.uniform(-0.2, 0.2, one.action_space.shape)
        a, _, _, _, ai = one.step(action)
        b, _, _, _, bi = three.step(action)
        frames.insert(0, a)
        cleans.insert(0, ai['clean_obs'])
        np.testing.assert_array_equal(b, np.concatenate(frames[:3]))
        np.testing.assert_array_equal(bi['clean_obs'], np.concatenate(cleans[:3]))
    assert not np.array_equal(frames[0], cleans[0])                 # noise was on


def test_the_observation_mirror_repeats_for_every_frame(tmp_path):
    one = make_run_env(_cfg(tmp_path))
    three = make_run_env(_cfg(tmp_path, history=3))
    (i1, s1), act1, critic1 = mirror_maps(one, critic=True)
    (i3, s3), act3, critic3 = mirror_maps(three, critic=True)
    frames = np.random.default_rng(1).normal(size=(3, len(i1)))
    stacked = frames.reshape(-1)
    np.testing.assert_array_equal(stacked[i3] * s3,
                                  np.concatenate([f[i1] * s1 for f in frames]))
    assert all(np.array_equal(x, y) for x, y in zip(act1 + critic1, act3 + critic3))


def test_a_history_run_trains_resumes_and_exports_its_history(tmp_path):
    run = tmp_path / 'run'
    kw = dict(randomize='default', randomize_ramp=1000, mirror=True, privileged_critic=True)
    trainer = _run(_cfg(run, history=3, **kw))
    n = make_run_env(_cfg(tmp_path)).observation_space.shape[0]
    assert trainer.obs_dim == 3 * n and trainer.buffer.obs.shape[1] == 3 * n
    assert trainer.randomization is not None          # the ranges behind the stack are seen
    assert 0 < trainer.env.get_wrapper_attr('rspec').scale < 0.1   # and ramped
    with pytest.raises(RunDirError, match='history stored 3, given 2'):
        Trainer(_cfg(run, history=2, steps=120, **kw), resume=True, progress=False,
                tensorboard=False)
    _run(_cfg(run, history=3, steps=120, **kw), resume=True)
    out = str(tmp_path / 'p.onnx')
    export_policy(str(run), out)
    contract = load_contract(out)
    assert contract.observation.history == 3 and contract.obs_dim == 3 * n
    # The file answers the stacked input as the run's actor does.
    obs, _ = make_run_env(_cfg(tmp_path, history=3)).reset(seed=2)
    src = load_actor(str(run))
    assert src.history == 3
    with torch.no_grad():
        theirs = src.actor.deterministic(torch.as_tensor(obs, dtype=torch.float32)[None])[0]
    np.testing.assert_allclose(OnnxPolicy(out).act(obs), theirs.numpy(), atol=1e-5)


def test_a_one_frame_policy_starts_a_history_run_acting_as_it_did(tmp_path):
    teacher = G1_FIRST   # one frame, unmirrored
    width = dict(TINY, hidden_dim=128)
    with Trainer(_cfg(tmp_path / 'run', history=4, init_from=teacher, overrides=width),
                 progress=False, tensorboard=False) as trainer:
        assert any('this run 4: the older ones at weight 0' in n for n in trainer.notes)
        obs, _ = make_run_env(_cfg(tmp_path)).reset(seed=3)
        older = np.random.default_rng(2).normal(size=3 * len(obs))    # anything at all
        with torch.no_grad():
            ours = trainer.policy(np.concatenate([obs, older]))
        np.testing.assert_allclose(ours, OnnxPolicy(teacher).act(obs),
                                   atol=1e-5)


def test_a_symmetric_one_frame_actor_starts_a_symmetric_history_run(tmp_path):
    from g1_tiny_run import tiny_g1_config
    torch.set_num_threads(1)
    src = _run(tiny_g1_config(tmp_path / 'src', steps=60))
    kept = sorted((tmp_path / 'src' / 'actors').iterdir())[-1]
    with Trainer(tiny_g1_config(tmp_path / 'run', steps=60, history=3, init_from=str(kept)),
                 progress=False, tensorboard=False) as trainer:
        # Its mirror map is the stacked env's, not the one frame's it was saved with.
        want = mirror_maps(trainer.env, False)[0]
        assert trainer.agent.actor.mirror_obs_index.tolist() == list(want[0])
        obs, _ = make_run_env(_cfg(tmp_path)).reset(seed=3)
        older = np.random.default_rng(2).normal(size=2 * len(obs))
        with torch.no_grad():
            ours = trainer.policy(np.concatenate([obs, older]))
        np.testing.assert_allclose(ours, src.policy(obs), atol=1e-5)
        trainer.run()


def test_other_histories_are_refused_naming_the_flag_that_fits(tmp_path):
    run = tmp_path / 'run'
    _run(_cfg(run, history=2))
    with pytest.raises(CheckpointError, match='its run took the last 2 .* this run 3 '
                                              r'\(--history 2 fits it'):
        Trainer(_cfg(tmp_path / 'b', history=3, init_from=str(run)), progress=False,
                tensorboard=False)
    out = str(tmp_path / 'p.onnx')
    export_policy(str(run), out)
    with pytest.raises(CheckpointError, match=r'takes the last 2 .* this run 1 \(--history 2'):
        Trainer(_cfg(tmp_path / 'c', init_from=out), progress=False, tensorboard=False)
    with pytest.raises(ValueError, match='history'):
        _cfg(tmp_path / 'e', history=0)
    # The same history is taken.
    t = Trainer(_cfg(tmp_path / 'f', history=2, init_from=out), progress=False,
                tensorboard=False)
    t.close()

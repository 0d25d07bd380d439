"""The trainer's acting and evaluation rules that come from the paper's reference code."""

import json
import os

import pytest
import torch

from symphony_ros.core.config import TrainConfig
from symphony_ros.core.evaluation import PAPER_EPISODES
from symphony_ros.core.snapshot import load_actor
from symphony_ros.core.trainer import Trainer

TINY = dict(hidden_dim=16, critic_heads=4, batch_size=16, capacity=400, explore_steps=100)


def test_the_deliberate_fall_starts_at_step_limit_minus_fall_steps(tmp_path):
    # Episodes capped at 8 steps, fall_steps 3: 1-based steps 5..8 are driven by noise only.
    cfg = TrainConfig(env='InvertedPendulum-v4', steps=400, run_dir=str(tmp_path), seed=0,
                      episode_limit=8, eval_every=10**6, checkpoint_every=10**6,
                      overrides=dict(TINY, fall_steps=3))
    trainer = Trainer(cfg, progress=False, tensorboard=False)
    seen = []
    act = trainer.agent.act

    def recording_act(obs, noise=True, fall=False, eps=None):
        seen.append((trainer.learning, trainer._ep_step + 1, fall))
        return act(obs, noise=noise, fall=fall, eps=eps)

    trainer.agent.act = recording_act
    try:
        trainer.run()
    finally:
        trainer.close()
    assert all(not fall for learning, _, fall in seen if not learning)
    learned = [(step, fall) for learning, step, fall in seen if learning]
    assert all(fall == (step >= 5) for step, fall in learned)
    assert {4, 5} <= {step for step, _ in learned}


def _paper_config(run_dir, **kw):
    return TrainConfig(env='InvertedPendulum-v4', steps=300, run_dir=str(run_dir), seed=1,
                       episode_limit=20, eval_every=100, checkpoint_every=100,
                       eval_protocol='paper', overrides=dict(TINY), **kw)


def test_paper_protocol_runs_25_fresh_episodes_and_keeps_the_current_actor(tmp_path):
    trainer = Trainer(_paper_config(tmp_path / 'run'), progress=False, tensorboard=False)
    seeds, reset = [], trainer.test_env.reset

    def recording_reset(seed=None, options=None):
        seeds.append(seed)
        return reset(seed=seed, options=options)

    trainer.test_env.reset = recording_reset
    try:
        trainer.run()
    finally:
        trainer.close()
    assert [row['step'] for row in trainer.log.rows] == [100, 200, 300]
    assert len(seeds) == 3 * PAPER_EPISODES
    assert len(set(seeds)) == len(seeds)                # fresh per episode and evaluation
    # The actor file holds the last evaluated actor, whatever its return.
    assert load_actor(str(tmp_path / 'run')).step == 300


def test_evaluation_protocol_is_checked(tmp_path):
    with pytest.raises(ValueError, match='eval_protocol must be fixed or paper'):
        Trainer(TrainConfig(run_dir=str(tmp_path / 'a'), eval_protocol='best'))
    with pytest.raises(ValueError, match='eval_episodes: the paper protocol runs 25'):
        Trainer(_paper_config(tmp_path / 'b', eval_episodes=5))
    assert not os.listdir(tmp_path)


def test_a_run_written_before_eval_protocol_existed_resumes(tmp_path):
    cfg = TrainConfig(env='InvertedPendulum-v4', steps=150, run_dir=str(tmp_path), seed=2,
                      episode_limit=20, eval_every=100, eval_episodes=1, checkpoint_every=50,
                      overrides=dict(TINY))
    trainer = Trainer(cfg, progress=False, tensorboard=False)
    trainer.run(max_steps=120)
    trainer.close()
    path = tmp_path / 'config.json'
    stored = json.loads(path.read_text())
    del stored['train_config']['eval_protocol']
    path.write_text(json.dumps(stored))
    with Trainer(cfg, resume=True, progress=False, tensorboard=False) as trainer:
        assert trainer.step_count >= 100
        trainer.run()
    assert trainer.step_count == 150


@pytest.mark.parametrize('threads, expected', [(1, 'threads: 1 (--threads)'),
                                               (None, 'threads: ')])
def test_the_thread_choice_is_told(tmp_path, monkeypatch, threads, expected):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    before = torch.get_num_threads()
    cfg = TrainConfig(env='InvertedPendulum-v4', steps=140, run_dir=str(tmp_path), seed=4,
                      eval_every=10**6, checkpoint_every=10**6, threads=threads,
                      device='cpu', overrides=dict(TINY))  # the policy sizes a CPU learner
    trainer = Trainer(cfg, progress=False, tensorboard=False)
    notes = []
    trainer.on_note.append(notes.append)
    try:
        trainer.run()
        assert trainer.thread_policy.threads >= 1
        assert torch.get_num_threads() == trainer.thread_policy.threads
    finally:
        trainer.close()
    assert notes and notes[0].startswith(expected)
    assert torch.get_num_threads() == before

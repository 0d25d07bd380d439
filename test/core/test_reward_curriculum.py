"""Reward weights as a curriculum step: the replay keeps each step's terms and is re-scored.

A resume (or --init-from with --init-buffer) may change --reward-weights when the replay
keeps the unweighted terms of every step: the stored rewards are then weighed anew, so the
critic never learns from rewards of two reward functions at once.
"""

import json

import numpy as np
import pytest
import torch

from symphony_ros.cli.main import main
from symphony_ros.core.checkpoint import latest_checkpoint, load_replay, replay_path
from symphony_ros.core.config import TrainConfig
from symphony_ros.core.envs import make_run_env, reward_terms
from symphony_ros.core.replay import FadingReplayBuffer
from symphony_ros.core.run_dir import read_run_config
from symphony_ros.robot.command_terms import TRACKING_TERMS

TINY = ['--hidden-dim', '16', '--critic-heads', '4', '--batch-size', '16', '--capacity', '400',
        '--explore-steps', '40']


def _train(run_dir, *flags):
    return main(['train', '--robot', 'g1', '--run-dir', str(run_dir), '--seed', '2',
                 '--eval-every', '1000', '--eval-episodes', '1', '--episode-limit', '30',
                 '--checkpoint-every', '40', '--threads', '1', '--no-progress', *TINY, *flags])


def _weights(reward_weights):
    cfg = TrainConfig(env='velocity:g1', reward_weights=reward_weights)
    return reward_terms(make_run_env(cfg))[1]


def _replay(run_dir):
    step = int(latest_checkpoint(str(run_dir)).rsplit('_', 1)[1].split('.')[0])
    return load_replay(str(run_dir), step), step


@pytest.mark.parametrize('env, weights', [('velocity:g1', 'alive=0.3,action_rate=-0.2'),
                                          ('symphony/Humanoid-v4', 'action_rate=-0.5'),
                                          ('symphony/Humanoid-v4', '')])
def test_each_step_reports_the_terms_its_reward_weighs(env, weights):
    # Under the default randomisation: its delay steps the env with an older action.
    cfg = TrainConfig(env=env, reward_weights=weights, randomize='default')
    run_env = make_run_env(cfg, randomized=True)
    names, w = reward_terms(run_env)
    assert len(names) == len(w) and len(set(names)) == len(names)
    run_env.reset(seed=5)
    rng = np.random.default_rng(5)
    for _ in range(30):
        _, reward, terminated, truncated, info = run_env.step(
            rng.uniform(-0.5, 0.5, run_env.action_space.shape))
        assert info['reward_raw'].shape == (len(names),)
        assert reward == pytest.approx(float(w @ info['reward_raw']), rel=1e-9, abs=1e-9)
        if terminated or truncated:
            run_env.reset()


def test_rescore_weighs_own_and_tiled_rows_and_a_checkpoint_keeps_the_terms():
    buf = FadingReplayBuffer(12, 2, 1, term_names=('a', 'b'))
    rng = np.random.default_rng(0)
    for _ in range(5):
        t = rng.normal(size=2)
        buf.add(rng.normal(size=2), [0.1], float(t @ [1.0, 2.0]), rng.normal(size=2), False,
                terms=t)
    scale = buf.finish_warmup()
    for _ in range(3):
        t = rng.normal(size=2)
        buf.add(rng.normal(size=2), [0.1], float(t @ [1.0, 2.0]), rng.normal(size=2), False,
                terms=t)
    stored = buf.terms.double() @ torch.tensor([[1.0], [2.0]], dtype=torch.float64) / scale
    torch.testing.assert_close(buf.reward.double(), stored, rtol=1e-5, atol=1e-6)
    buf.rescore(np.array([0.5, -1.0]))
    want = buf.terms.double() @ torch.tensor([[0.5], [-1.0]], dtype=torch.float64) / scale
    torch.testing.assert_close(buf.reward.double(), want, rtol=1e-6, atol=1e-7)
    again = FadingReplayBuffer(12, 2, 1, term_names=('a', 'b'))
    again.load_state_dict(buf.state_dict())
    assert torch.equal(again.reward, buf.reward) and torch.equal(again.terms, buf.terms)
    with pytest.raises(ValueError, match='rescore: 3 weights for 2 stored reward terms'):
        again.rescore(np.ones(3))
    # A buffer saved without terms (an older version) or with others loads, and cannot re-score.
    for other in ((), ('a', 'c')):
        state = FadingReplayBuffer(12, 2, 1, term_names=other)
        if other:
            state.add([0, 0], [0], 0.0, [0, 0], False, terms=[1.0, 1.0])
        else:
            state.add([0, 0], [0], 0.0, [0, 0], False)
        fresh = FadingReplayBuffer(12, 2, 1, term_names=('a', 'b'))
        fresh.load_state_dict(state.state_dict())
        assert fresh.term_names == () and 'terms' not in fresh.fields
        with pytest.raises(ValueError, match='0 stored reward terms'):
            fresh.rescore(np.ones(2))
    with pytest.raises(ValueError, match='terms are required'):
        buf.add([0, 0], [0], 0.0, [0, 0], False)


def test_a_resume_with_new_weights_rescores_the_replay_and_records_the_step(tmp_path, capsys):
    torch.set_num_threads(1)
    run = tmp_path / 'run'
    assert _train(run, '--steps', '80') == 0
    replay, step = _replay(run)
    old = _weights('')
    scale = replay['reward_scale']
    torch.testing.assert_close(replay['reward'].double()[:, 0],
                               replay['terms'].double() @ torch.from_numpy(old) / scale,
                               rtol=1e-5, atol=1e-6)
    capsys.readouterr()
    assert _train(run, '--resume', '--steps', '120',
                  '--reward-weights', 'alive=0.3,joint_ref=1') == 0
    err = capsys.readouterr().err
    assert 'reward weights the task default -> alive=0.3,joint_ref=1: the replay' in err
    assert 'best test return starts over' in err
    tc = read_run_config(str(run))['train_config']
    assert tc['reward_weights'] == 'alive=0.3,joint_ref=1'
    [entry] = tc['curriculum']
    assert entry['step'] == step and entry['reward_weights'] == ['', 'alive=0.3,joint_ref=1']
    # Every stored step, from before the change and after, is scored under the new weights.
    replay, later = _replay(run)
    assert later > step and replay['reward_scale'] == scale
    new = _weights('alive=0.3,joint_ref=1')
    got = replay['reward'].double()[:, 0]
    torch.testing.assert_close(got, replay['terms'].double() @ torch.from_numpy(new) / scale,
                               rtol=1e-5, atol=1e-6)
    assert not torch.allclose(got, replay['terms'].double() @ torch.from_numpy(old) / scale)
    # The same weights in another order or spelling are no change.
    assert _train(run, '--resume', '--steps', '130',
                  '--reward-weights', 'joint_ref=1.0, alive=0.30') == 0
    assert len(read_run_config(str(run))['train_config']['curriculum']) == 1


def test_new_weights_for_a_replay_without_terms_are_refused_in_one_line(tmp_path, capsys):
    torch.set_num_threads(1)
    run = tmp_path / 'run'
    assert _train(run, '--steps', '80') == 0
    replay, step = _replay(run)
    # What a version before the terms were kept wrote: the same file without them.
    older = {k: v for k, v in replay.items() if k not in ('terms', 'warm_terms', 'term_names')}
    torch.save(older, replay_path(str(run), step))
    before = (run / 'config.json').read_text()
    capsys.readouterr()
    assert _train(run, '--resume', '--steps', '120', '--reward-weights', 'alive=0.3') == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].endswith('--resume: --reward-weights alive=0.3: the replay buffer was scored '
                           'with the task default and keeps no reward terms to score its steps '
                           'anew (saved by an older version, or by a run with --collectors); '
                           'leave --reward-weights out, or start a new run with --init-from')
    assert (run / 'config.json').read_text() == before
    # Without a change of weights it resumes as before.
    assert _train(run, '--resume', '--steps', '120') == 0
    assert json.loads((run / 'config.json').read_text())['train_config']['curriculum'] == []


def _terms_by_name(sigma):
    cfg = TrainConfig(env='velocity:g1', tracking_sigma=sigma)
    env = make_run_env(cfg)
    env.reset(seed=3)
    rng = np.random.default_rng(1)
    rows = [env.step(rng.uniform(-0.3, 0.3, env.action_space.shape))[4]['reward_terms']
            for _ in range(25)]
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}


def test_a_narrower_tracking_kernel_is_the_same_error_at_another_width():
    wide, narrow = _terms_by_name(0.0), _terms_by_name(0.05)     # 0: the G1 file's 0.25
    names, weights = reward_terms(make_run_env(TrainConfig(env='velocity:g1')))
    weight = dict(zip(names, weights))      # the info's terms are weighted
    for name in wide:
        if name in TRACKING_TERMS and weight[name]:    # weighted: 0 unless a run weighs it
            w = weight[name]
            np.testing.assert_allclose(narrow[name] / w, (wide[name] / w) ** 5, rtol=1e-9)
            assert (narrow[name] < wide[name]).any()
        else:
            np.testing.assert_allclose(narrow[name], wide[name], rtol=1e-12)


def _resumed_with(run, capsys, *flags):
    """Train 80 steps, resume to 120 with ``flags``: (the replay before, its step, stderr, the
    run's one curriculum entry)."""
    torch.set_num_threads(1)
    assert _train(run, '--steps', '80') == 0
    before, step = _replay(run)
    capsys.readouterr()
    assert _train(run, '--resume', '--steps', '120', *flags) == 0
    err = capsys.readouterr().err
    [entry] = read_run_config(str(run))['train_config']['curriculum']
    return before, step, err, entry


def test_a_resume_with_a_new_tracking_width_rescores_the_stored_tracking_terms(tmp_path, capsys):
    run = tmp_path / 'run'
    before, step, err, entry = _resumed_with(run, capsys, '--tracking-sigma', '0.05')
    assert 'tracking width 0.25 -> 0.05: the replay\'s' in err
    assert 'tracking sigma changed: the best test return starts over' in err
    assert entry['step'] == step and entry['tracking_sigma'] == [0.0, 0.05]
    after, _ = _replay(run)
    names = list(after['term_names'])
    track = [names.index(n) for n in TRACKING_TERMS]
    slot_a = {int(s): i for i, s in enumerate(after['own_slots'])}
    rows = [(i, slot_a[int(s)]) for i, s in enumerate(before['own_slots'])]
    old = before['terms'].double()[[i for i, _ in rows]]
    new = after['terms'].double()[[j for _, j in rows]]
    torch.testing.assert_close(new[:, track], old[:, track] ** 5, rtol=1e-5, atol=1e-7)
    rest = [k for k in range(len(names)) if k not in track]
    torch.testing.assert_close(new[:, rest], old[:, rest])
    w = torch.from_numpy(_weights(''))
    torch.testing.assert_close(after['reward'].double()[:, 0],
                               after['terms'].double() @ w / after['reward_scale'],
                               rtol=1e-5, atol=1e-6)
    # The run folder and its exported policy say the width it trained with, and from when.
    policy = tmp_path / 'p.onnx'
    assert main(['export', str(run), '-o', str(policy)]) == 0
    for what in (run, policy):
        capsys.readouterr()
        assert main(['inspect', str(what)]) == 0
        out = capsys.readouterr().out
        assert "reward weights   the task's; tracking width 0.05" in out
        assert f'from step {step:,}: tracking_sigma 0.0 -> 0.05' in out


def test_a_tracking_width_for_an_env_without_commands_is_refused(tmp_path, capsys):
    rc = main(['train', '--env', 'symphony/Humanoid-v4', '--run-dir', str(tmp_path / 'r'),
               '--tracking-sigma', '0.1', '--no-progress'])
    assert rc == 2
    assert ('--tracking-sigma: env \'symphony/Humanoid-v4\' has no velocity-tracking reward'
            in capsys.readouterr().err)
    assert not (tmp_path / 'r').exists()


def test_a_replay_taken_by_init_buffer_is_rescored_at_the_new_width(tmp_path, capsys):
    torch.set_num_threads(1)
    src = tmp_path / 'src'
    assert _train(src, '--steps', '80') == 0
    capsys.readouterr()
    assert _train(tmp_path / 'b', '--steps', '90', '--init-from', str(src), '--init-buffer',
                  'true', '--tracking-sigma', '0.05') == 0
    assert 'tracking width 0.25 -> 0.05: the replay\'s' in capsys.readouterr().err


@pytest.mark.parametrize('field, value, was, said', [
    ('gait_free_error', 0.4, 0.0, 'gait terms free past 0.4 m/s of error'),
    ('stand_gait', 'step', '', 'told to stand: step')])
def test_a_resume_may_change_the_gait_terms(tmp_path, capsys, field, value, was, said):
    """--gait-free-error and --stand-gait are curriculum steps: recorded, said, the best
    return starts over; an env without gait terms refuses them."""
    run, flag = tmp_path / 'run', '--' + field.replace('_', '-')
    _, step, err, entry = _resumed_with(run, capsys, flag, str(value))
    assert f'{field.replace("_", " ")} changed: the best test return starts over' in err
    assert entry['step'] == step and entry[field] == [was, value]
    env = make_run_env(TrainConfig(env='velocity:g1', **{field: value}))
    assert getattr(env.unwrapped.task, field) == value
    capsys.readouterr()
    assert main(['inspect', str(run)]) == 0
    out = capsys.readouterr().out
    assert f"reward weights   the task's; {said}" in out
    assert f'from step {step:,}: {field} {"(default)" if was == "" else was} -> {value}' in out
    rc = main(['train', '--env', 'symphony/Humanoid-v4', '--run-dir', str(tmp_path / 'h'),
               flag, str(value), '--no-progress'])
    assert rc == 2
    assert (f'{flag}: env \'symphony/Humanoid-v4\' has no gait terms'
            in capsys.readouterr().err)
    assert not (tmp_path / 'h').exists()

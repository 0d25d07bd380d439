"""symphony train --init-from: a run starts from another run's networks, only fitting ones."""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from symphony_ros.core.checkpoint import CheckpointError, latest_checkpoint, load_checkpoint
from symphony_ros.core.config import TrainConfig
from symphony_ros.core.trainer import Trainer
from symphony_ros.policy.export import export_policy
from symphony_ros.policy.runtime import OnnxPolicy
from symphony_ros.policy.unfold import PARITY_TOLERANCE
from shipped_models import G1_FIRST

TINY = dict(hidden_dim=16, critic_heads=4, batch_size=16, capacity=400, explore_steps=40)


def _cfg(run_dir, **kw):
    over = dict(TINY, **kw.pop('overrides', {}))
    return TrainConfig(env='symphony/Humanoid-v4', steps=kw.pop('steps', 80),
                       run_dir=str(run_dir), seed=kw.pop('seed', 1), eval_every=1000,
                       eval_episodes=1, checkpoint_every=40, overrides=over, **kw)


def _acts(actor, obs: np.ndarray) -> np.ndarray:
    """The deterministic actions of ``actor`` on the device it trains on, as numpy."""
    with torch.no_grad():
        device = next(actor.parameters()).device
        return actor.deterministic(torch.from_numpy(obs).to(device)).cpu().numpy()


def _run(cfg):
    with Trainer(cfg, progress=False, tensorboard=False) as trainer:
        trainer.run()
    return trainer


@pytest.fixture(scope='module')
def source(tmp_path_factory):
    torch.set_num_threads(1)
    run = tmp_path_factory.mktemp('init') / 'source'
    _run(_cfg(run))
    return run


def test_new_run_starts_from_the_sources_networks_with_its_own_progress(source, tmp_path):
    state = load_checkpoint(latest_checkpoint(str(source)))
    with Trainer(_cfg(tmp_path / 'b', init_from=str(source), seed=9), progress=False,
                 tensorboard=False) as trainer:
        for name, value in trainer.agent.actor.state_dict().items():
            assert torch.equal(value.cpu(), state['agent']['actor'][name]), name
        assert trainer.step_count == 0 and trainer.episodes == 0
        assert trainer.buffer.reward_scale == state['reward_scale']
        assert any(str(source) in n and 'warm-up' in n for n in trainer.notes)
        trainer.run()
        assert trainer.step_count == 80 and trainer.learning


def test_a_checkpoint_file_is_taken_as_given(source, tmp_path):
    path = latest_checkpoint(str(source))
    with Trainer(_cfg(tmp_path / 'c', init_from=path), progress=False,
                 tensorboard=False) as trainer:
        assert any(path in n for n in trainer.notes)


def test_networks_of_another_shape_are_refused_naming_the_checkpoint(source, tmp_path):
    cfg = _cfg(tmp_path / 'd', init_from=str(source), overrides=dict(hidden_dim=24))
    with pytest.raises(CheckpointError, match='networks do not fit') as err:
        Trainer(cfg, progress=False, tensorboard=False)
    assert latest_checkpoint(str(source)) in str(err.value)
    assert not os.path.exists(tmp_path / 'd' / 'checkpoints')


def test_an_actor_snapshot_gives_its_actor_alone_beside_a_fresh_critic(source, tmp_path):
    best = str(source / 'best_actor.pt')
    saved = torch.load(best, weights_only=True)['actor']
    fresh = Trainer(_cfg(tmp_path / 'fresh', seed=4), progress=False, tensorboard=False)
    trainer = Trainer(_cfg(tmp_path / 'j', init_from=best, seed=4), progress=False,
                      tensorboard=False)
    try:
        for name, value in trainer.agent.actor.state_dict().items():
            assert torch.equal(value.cpu(), saved[name]), name
        for name, value in trainer.agent.critic.state_dict().items():
            assert torch.equal(value, fresh.agent.critic.state_dict()[name]), name
        assert any(best in n and 'actor alone' in n for n in trainer.notes)
    finally:
        trainer.close()
        fresh.close()
    with pytest.raises(CheckpointError, match='holds an actor alone, no replay') as err:
        Trainer(_cfg(tmp_path / 'k2', init_from=best, init_buffer=True), progress=False,
                tensorboard=False)
    assert best in str(err.value) and not os.path.exists(tmp_path / 'k2' / 'checkpoints')


def test_an_exported_policy_gives_the_actor_that_acts_as_the_file(source, tmp_path):
    policy = str(tmp_path / 'p.onnx')
    result = export_policy(str(source), policy)
    assert result.graph_variant == 'folded'  # sigma and the B rows are not in the file
    with Trainer(_cfg(tmp_path / 'o', init_from=policy, seed=3, actor_frozen_steps=60),
                 progress=False, tensorboard=False) as trainer:
        obs = np.random.default_rng(1).standard_normal((64, trainer.obs_dim)).astype('f4')
        mine = _acts(trainer.agent.actor, obs)
        assert np.abs(mine - OnnxPolicy(policy).act_batch(obs)).max() < PARITY_TOLERANCE
        assert any(policy in n and 'actor alone' in n and 'acts as loaded for the first 60 '
                   'steps, the critic learning alone for the last 20' in n
                   for n in trainer.notes)
        trainer.run()
        assert trainer.step_count == 80 and trainer.learning
    # Updates start after the 40 warm-up steps: a 30-step freeze gives the critic none.
    short = Trainer(_cfg(tmp_path / 's', init_from=policy, actor_frozen_steps=30),
                    progress=False, tensorboard=False)
    short.close()
    assert any('--actor-frozen-steps 30 ends within the warm-up' in n and 'more than 40' in n
               for n in short.notes)


def test_an_observation_that_appends_terms_widens_the_actor_which_acts_as_loaded(
        source, tmp_path):
    policy = str(tmp_path / 'p.onnx')
    export_policy(str(source), policy)
    with Trainer(_cfg(tmp_path / 'wide', init_from=policy, obs_spec='humanoid_v4_action',
                      actor_frozen_steps=60), progress=False, tensorboard=False) as trainer:
        assert trainer.obs_dim == 376 + 17
        rng = np.random.default_rng(2)
        obs = rng.standard_normal((64, trainer.obs_dim)).astype('f4')
        mine = _acts(trainer.agent.actor, obs)
        # The previous action (the added inputs) changes nothing until learning weighs it.
        assert np.abs(mine - OnnxPolicy(policy).act_batch(obs[:, :376])).max() < PARITY_TOLERANCE
        assert any('this run adds previous_action, given weight 0' in n for n in trainer.notes)
        trainer.run()
        first = trainer.agent.actor.net.linear_in.weight
        assert first.shape[1] == 393 and first[:, 376:].abs().sum() > 0  # it learns to use it


def test_the_previous_action_as_torque_widens_the_actor_alike(source, tmp_path):
    policy = str(tmp_path / 'p.onnx')
    export_policy(str(source), policy)
    with Trainer(_cfg(tmp_path / 'torque', init_from=policy,
                      obs_spec='humanoid_v4_torque'),
                 progress=False, tensorboard=False) as trainer:
        assert trainer.obs_dim == 376 + 17
        assert any('this run adds previous_action, given weight 0' in n for n in trainer.notes)


def test_an_observation_that_differs_otherwise_is_refused_naming_both_specs(source, tmp_path):
    policy = str(tmp_path / 'p.onnx')
    export_policy(str(source), policy)
    cfg = _cfg(tmp_path / 'prop', init_from=policy, obs_spec='proprioceptive')
    with pytest.raises(CheckpointError, match='maps 376 observations to 17') as err:
        Trainer(cfg, progress=False, tensorboard=False)
    assert policy in str(err.value) and not os.path.exists(tmp_path / 'prop' / 'checkpoints')


def test_widen_inputs_keeps_every_action_and_refuses_to_narrow():
    from symphony_ros.core.init_source import widen_inputs
    from symphony_ros.core.networks import Actor
    torch.manual_seed(0)
    actor = Actor(5, 3, 8)
    wide = widen_inputs(actor, 9)
    x = torch.randn(16, 9)
    x[:, 5:] = 100.0  # any value of the new inputs
    # Equal up to the summation order of a longer dot product.
    assert torch.allclose(wide.deterministic(x), actor.deterministic(x[:, :5]), rtol=0,
                          atol=1e-6)
    assert actor.net.linear_in.weight.shape == (8, 5)  # the source is left as it was
    with pytest.raises(ValueError, match='4 inputs is fewer than 5'):
        widen_inputs(actor, 4)


def test_a_widened_symmetric_actor_takes_the_map_of_its_new_inputs():
    from symphony_ros.core.init_source import widen_inputs
    from symphony_ros.core.networks import Actor
    from symphony_ros.core.obs_history import stacked_mirror
    torch.manual_seed(0)
    actor = Actor(4, 2, 8)
    frame = (np.array([1, 0, 2, 3]), np.array([1.0, 1.0, -1.0, 1.0]))
    actor.set_mirror(frame, (np.array([1, 0]), np.array([1.0, 1.0])))
    with pytest.raises(ValueError, match='symmetric actor needs the mirror map of its 8'):
        widen_inputs(actor, 8)
    wide = widen_inputs(actor, 8, stacked_mirror(frame, 2))
    assert wide.mirror_obs_index.tolist() == [1, 0, 2, 3, 5, 4, 6, 7]
    assert wide.mirror_obs_sign.tolist() == [1, 1, -1, 1, 1, 1, -1, 1]
    x = torch.randn(16, 8)
    assert torch.allclose(wide.deterministic(x), actor.deterministic(x[:, :4]), atol=1e-6)


def test_a_fine_tune_records_the_file_it_began_from_and_the_steps_behind_it(
        source, tmp_path, capsys):
    from symphony_ros.cli.main import main
    from symphony_ros.core.run_dir import read_run_config
    from symphony_ros.util.files import sha256_file
    first = str(tmp_path / 'first.onnx')
    export_policy(str(source), first)
    behind = OnnxPolicy(first).contract.training_steps
    a = _run(_cfg(tmp_path / 'a', init_from=first, seed=3))
    record = {'path': first, 'sha256': sha256_file(first), 'steps': behind}
    assert a.cfg.init_source == record
    assert read_run_config(str(tmp_path / 'a'))['train_config']['init_source'] == record
    second = str(tmp_path / 'second.onnx')
    export_policy(str(tmp_path / 'a'), second)
    own = OnnxPolicy(second).contract.training_steps
    # A fine-tune of a fine-tune counts the steps behind its source too.
    b = _run(_cfg(tmp_path / 'b', init_from=second, seed=4, steps=40))
    assert b.cfg.init_source['steps'] == own + behind
    capsys.readouterr()
    assert main(['inspect', second]) == 0
    text = capsys.readouterr().out
    assert f'training         {own} steps ({own + behind:,} with the {behind:,} before it)' in text
    assert f'fine-tuned from {first} (sha256 {record["sha256"][:16]}, {behind:,} steps)' in text


def test_each_kind_of_source_is_read_once_with_the_hash_of_the_bytes_it_was_read_from(
        source, tmp_path):
    from symphony_ros.core.init_source import SourceCheckpoint, read_init_source
    from symphony_ros.core.snapshot import ActorSource
    from symphony_ros.util.files import sha256_file
    policy = str(tmp_path / 'p.onnx')
    export_policy(str(source), policy)
    ckpt = latest_checkpoint(str(source))
    for given, path, kind in ((str(source), ckpt, SourceCheckpoint),
                              (ckpt, ckpt, SourceCheckpoint),
                              (str(source / 'best_actor.pt'), str(source / 'best_actor.pt'),
                               ActorSource),
                              (policy, policy, ActorSource)):
        got = read_init_source(given)
        assert isinstance(got, kind) and got.path == path, given
        assert got.sha256 == sha256_file(path), given
    state = read_init_source(ckpt).state
    assert state['step'] == load_checkpoint(ckpt)['step']
    with pytest.raises(CheckpointError, match='checkpoint format 0 is not supported'):
        bad = str(tmp_path / 'old.pt')
        torch.save(dict(torch.load(ckpt, weights_only=True), format=0), bad)
        read_init_source(bad)


def test_a_policy_of_another_width_is_refused_naming_the_flag_that_fits(source, tmp_path):
    best = str(source / 'best_actor.pt')
    cfg = _cfg(tmp_path / 'w', init_from=best, overrides=dict(hidden_dim=24))
    with pytest.raises(CheckpointError, match='is 16 wide, this run.s 24 .--hidden-dim 16'):
        Trainer(cfg, progress=False, tensorboard=False)
    assert not os.path.exists(tmp_path / 'w' / 'checkpoints')


def test_a_policy_of_another_env_is_refused_naming_both(tmp_path):
    g1 = G1_FIRST
    with pytest.raises(CheckpointError, match='maps 98 observations to 29 actions') as err:
        Trainer(_cfg(tmp_path / 'x', init_from=g1), progress=False, tensorboard=False)
    assert 'g1_velocity_symphony.onnx' in str(err.value) and 'Humanoid-v4' in str(err.value)
    assert not os.path.exists(tmp_path / 'x' / 'checkpoints')


def test_cli_refuses_a_broken_policy_file_in_one_line(tmp_path):
    bad = tmp_path / 'bad.onnx'
    bad.write_bytes(b'\x08\x07not a model')
    proc = subprocess.run(
        [sys.executable, '-m', 'symphony_ros.cli.main', 'train', '--steps', '10',
         '--run-dir', str(tmp_path / 'e'), '--init-from', str(bad),
         '--hidden-dim', '16', '--critic-heads', '4', '--no-progress'],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and '--init-from' in lines[0] and str(bad) in lines[0], lines


def test_cli_refuses_a_folder_without_checkpoints_in_one_line(tmp_path):
    (tmp_path / 'empty').mkdir()
    proc = subprocess.run(
        [sys.executable, '-m', 'symphony_ros.cli.main', 'train', '--steps', '10',
         '--run-dir', str(tmp_path / 'e'), '--init-from', str(tmp_path / 'empty'),
         '--hidden-dim', '16', '--critic-heads', '4', '--no-progress'],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and '--init-from' in lines[0] and 'no checkpoint' in lines[0]


def test_ramp_with_collectors_is_refused_before_ray_starts(tmp_path):
    from symphony_ros.distributed.config import DistributedConfig
    from symphony_ros.distributed.entry import make_trainer
    cfg = _cfg(tmp_path / 'f', randomize='default', randomize_ramp=100)
    with pytest.raises(ValueError, match='--randomize-ramp runs in a single process'):
        make_trainer(cfg, DistributedConfig(collectors=2))
    assert not os.path.exists(tmp_path / 'f')


def test_eval_randomized_tests_under_the_full_ranges_with_the_same_draws(tmp_path):
    from symphony_ros.distributed.workers import Evaluator
    from symphony_ros.robot.randomize import Randomized
    cfg = _cfg(tmp_path / 'g', randomize='default', randomize_ramp=1000, eval_randomized=True)
    with Trainer(cfg, progress=False, tensorboard=False) as trainer:
        env = trainer.test_env
        assert isinstance(env, Randomized) and env.rspec.scale == 1.0
        draws = [env.reset(seed=10_000)[1]['randomization'] for _ in range(2)]
        assert draws[0] == draws[1] and draws[0]['payload_kg'] != 0.0
    worker = Evaluator(cfg.to_dict(), trainer.obs_dim, trainer.act_dim)
    assert isinstance(worker.env, Randomized)
    nominal = Evaluator(_cfg(tmp_path / 'h').to_dict(), trainer.obs_dim, trainer.act_dim)
    assert not isinstance(nominal.env, Randomized)
    with pytest.raises(ValueError, match='--eval-randomized'):
        Trainer(_cfg(tmp_path / 'i', eval_randomized=True), progress=False, tensorboard=False)


def test_a_new_run_records_its_obs_spec_and_an_old_run_keeps_its_checkpoints(tmp_path):
    import json
    run = tmp_path / 'g1'
    cfg = TrainConfig(env='velocity:g1', steps=60, run_dir=str(run), seed=2, eval_every=1000,
                      eval_episodes=1, checkpoint_every=60, overrides=TINY)
    trainer = _run(cfg)
    config = run / 'config.json'
    doc = json.loads(config.read_text())
    assert doc['train_config']['obs_spec'] == 'velocity_gait_scaled' and trainer.obs_dim == 98
    # A run from before the G1 had a clock: config.json names no spec, its checkpoints were
    # trained on 'velocity'. It resumes on 'velocity', not on today's default.
    old = tmp_path / 'old'
    _run(TrainConfig(**dict(cfg.to_dict(), run_dir=str(old), obs_spec='velocity')))
    doc = json.loads((old / 'config.json').read_text())
    doc['train_config']['obs_spec'] = None
    (old / 'config.json').write_text(json.dumps(doc))
    with Trainer(TrainConfig(**dict(doc['train_config'], steps=120, run_dir=str(old))),
                 resume=True, progress=False, tensorboard=False) as again:
        assert again.obs_spec == 'velocity' and again.obs_dim == 96
        again.run()
        assert again.step_count == 120
    assert json.loads((old / 'config.json').read_text())['train_config']['obs_spec'] == \
        'velocity'


def test_init_buffer_learns_on_from_the_sources_replay(source, tmp_path):
    path = latest_checkpoint(str(source))
    with Trainer(_cfg(tmp_path / 'k', init_from=str(source), init_buffer=True, seed=5),
                 progress=False, tensorboard=False) as trainer:
        assert trainer.learning and trainer.step_count == 0 and len(trainer.buffer) == 400
        assert any('replay buffer (400 transitions)' in n and path in n for n in trainer.notes)
        trainer.run(1)
        assert trainer.updates == trainer.sym.updates_per_step  # no warm-up: the first learns


def test_init_buffer_with_other_reward_weights_rescores_the_sources_replay(source, tmp_path):
    with Trainer(_cfg(tmp_path / 'w', init_from=str(source), init_buffer=True,
                      reward_weights='action_rate=-0.5'),
                 progress=False, tensorboard=False) as trainer:
        buf = trainer.buffer
        assert buf.term_names == ('env', 'action_rate')
        want = buf.terms.cpu().double() @ torch.tensor([[1.0], [-0.5]], dtype=torch.float64)
        torch.testing.assert_close(buf.reward.cpu().double(), want / buf.reward_scale,
                                   rtol=1e-5, atol=1e-6)
        assert (buf.terms[:, 1] > 0).any()  # the source's actions changed: it is charged now
        assert any('the task default -> action_rate=-0.5: the replay' in n
                   for n in trainer.notes)


@pytest.mark.parametrize('kw, why', [
    (dict(overrides=dict(capacity=800)), 'replay capacity 400 does not match the config (800)'),
    (dict(privileged_critic=True), 'replay holds no critic_obs')])
def test_a_buffer_that_does_not_fit_is_refused_naming_why(source, tmp_path, kw, why):
    cfg = _cfg(tmp_path / 'm', init_from=str(source), init_buffer=True, **kw)
    with pytest.raises(CheckpointError, match='--init-buffer') as err:
        Trainer(cfg, progress=False, tensorboard=False)
    assert why in str(err.value) and latest_checkpoint(str(source)) in str(err.value)
    assert not os.path.exists(tmp_path / 'm' / 'checkpoints')


def test_a_checkpoint_saved_without_its_buffer_says_so(tmp_path):
    bare = tmp_path / 'bare'
    _run(_cfg(bare, exact_resume=False))
    with pytest.raises(CheckpointError, match='no replay buffer was saved with it'):
        Trainer(_cfg(tmp_path / 'n', init_from=str(bare), init_buffer=True), progress=False,
                tensorboard=False)
    with pytest.raises(ValueError, match='--init-buffer: there is no checkpoint'):
        Trainer(_cfg(tmp_path / 'o', init_buffer=True), progress=False, tensorboard=False)


def test_an_anchor_without_a_source_is_refused(tmp_path):
    with pytest.raises(ValueError, match='--anchor-weight: there is no actor to anchor to'):
        Trainer(_cfg(tmp_path / 'a', anchor_weight=1.0), progress=False, tensorboard=False)


def test_the_anchor_fades_to_its_floor_and_keeps_it(source, tmp_path):
    best = str(source / 'best_actor.pt')
    with pytest.raises(ValueError, match='--anchor-floor 3: .*give at most that'):
        Trainer(_cfg(tmp_path / 'f', init_from=best, anchor_weight=2.0, anchor_floor=3.0),
                progress=False, tensorboard=False)
    with Trainer(_cfg(tmp_path / 'g', init_from=best, anchor_weight=10.0,
                      anchor_floor=2.0, anchor_steps=100, actor_frozen_steps=50),
                 progress=False, tensorboard=False) as trainer:
        assert any('fading over 100 steps to 2' in n for n in trainer.notes)
        for step, weight in ((0, 10.0), (50, 10.0), (100, 6.0), (150, 2.0), (10_000, 2.0)):
            trainer.progress.step = step
            assert trainer.anchor_weight == pytest.approx(weight), step
    assert not os.path.exists(tmp_path / 'a')


def _drift(trainer, start, obs):
    return float(np.abs(_acts(trainer.agent.actor, obs) - start).mean())


def test_the_anchor_holds_the_actor_near_its_start_and_survives_a_resume(source, tmp_path):
    best = str(source / 'best_actor.pt')
    obs = np.random.default_rng(2).standard_normal((256, 376)).astype('f4')
    drift = {}
    for weight in (0.0, 100.0):
        run = tmp_path / f'w{weight:g}'
        trainer = _run(_cfg(run, init_from=best, seed=6, steps=160, anchor_weight=weight,
                            anchor_steps=1000))
        start = Trainer(_cfg(tmp_path / 'ref', init_from=best), progress=False,
                        tensorboard=False)
        reference = _acts(start.agent.actor, obs)
        start.close()
        drift[weight] = _drift(trainer, reference, obs)
    assert drift[100.0] < 0.5 * drift[0.0], drift
    assert any('--anchor-weight 100 holds it near' in n for n in trainer.notes)
    with open(tmp_path / 'w100' / 'metrics.csv', newline='') as fh:
        last = list(csv.DictReader(fh))[-1]
    assert float(last['anchor_weight']) == pytest.approx(100.0 * (1 - int(last['step']) / 1000))
    assert 0.0 < float(last['anchor_drift']) < 1.0, last
    with open(tmp_path / 'w0' / 'metrics.csv', newline='') as fh:
        assert 'anchor_drift' not in next(csv.DictReader(fh))
    resumed = Trainer(_cfg(tmp_path / 'w100', init_from=best, seed=6, steps=200,
                           anchor_weight=100.0, anchor_steps=1000), resume=True,
                      progress=False, tensorboard=False)
    try:  # the anchor is the source's actor again, not the actor at the checkpoint
        saved = torch.load(best, weights_only=True)['actor']
        for name, value in resumed.agent.anchor.state_dict().items():
            assert torch.equal(value.cpu(), saved[name]), name
        assert resumed.anchor_weight == pytest.approx(100.0 * (1 - resumed.step_count / 1000))
    finally:
        resumed.close()


def test_an_anchor_with_collectors_is_refused_before_ray_starts(source, tmp_path):
    from symphony_ros.distributed.config import DistributedConfig
    from symphony_ros.distributed.entry import make_trainer
    cfg = _cfg(tmp_path / 'g', init_from=str(source), anchor_weight=1.0)
    with pytest.raises(ValueError, match='--anchor-weight runs in a single process'):
        make_trainer(cfg, DistributedConfig(collectors=2))
    assert not os.path.exists(tmp_path / 'g')


def test_under_sensor_noise_the_anchor_sees_the_clean_observation(tmp_path):
    """The actor is anchored to what the starting actor does without the noise.

    On the raw observation, where the joint velocities' noise is at full size (the scaled
    spec shrinks it twenty-fold, and the two anchor losses with it).
    """
    g1 = dict(env='velocity:g1', obs_spec='velocity_gait', eval_every=1000, eval_episodes=1,
              overrides=TINY)
    src = tmp_path / 'g1'
    _run(TrainConfig(steps=60, run_dir=str(src), seed=2, checkpoint_every=60, **g1))
    best = str(src / 'best_actor.pt')
    noisy = tmp_path / 'noisy'
    full = tmp_path / 'full_noise.yaml'   # the noise at full size in every episode
    full.write_text('obs_noise_scale: [1.0, 1.0]\nimu_bias_scale: [1.0, 1.0]\n')
    with Trainer(TrainConfig(steps=100, run_dir=str(noisy), seed=3, init_from=best,
                             anchor_weight=1.0, randomize=str(full),
                             checkpoint_every=100, **g1),
                 progress=False, tensorboard=False) as trainer:
        assert trainer.buffer.clean_obs
        assert any('without the noise' in n for n in trainer.notes)
        trainer.run()
        b = trainer.buffer.sample(64)
        gap = (b.next_obs - b.next_clean_obs).abs()
        joint_vel = trainer.env.slices['joint_vel']
        assert 0 < gap[:, joint_vel].max() <= 1.5 + 1e-5        # the default noise amplitude
        agent = trainer.agent
        with torch.no_grad():
            a, s, _ = agent.actor.asb(b.next_obs)
            mine = agent.actor.action(a, s, noise=False)
            to_clean = (mine - agent.anchor.deterministic(b.next_clean_obs)).square().mean()
            to_noisy = (mine - agent.anchor.deterministic(b.next_obs)).square().mean()
            anchor = agent.loss(b)['anchor']
        assert float(anchor) == pytest.approx(float(to_clean), rel=1e-5)
        assert float(anchor) != pytest.approx(float(to_noisy), rel=1e-2)
    with Trainer(TrainConfig(steps=120, run_dir=str(noisy), seed=3, init_from=best,
                             anchor_weight=1.0, randomize=str(full),
                             checkpoint_every=100, **g1),
                 resume=True, progress=False, tensorboard=False) as resumed:
        assert torch.equal(resumed.buffer.next_clean_obs, trainer.buffer.next_clean_obs)
    quiet = Trainer(TrainConfig(steps=60, run_dir=str(tmp_path / 'q'), init_from=best,
                                anchor_weight=1.0, **g1), progress=False, tensorboard=False)
    quiet.close()
    assert not quiet.buffer.clean_obs     # no noise: the observation is the clean one


def test_the_anchor_lets_go_of_the_steps_that_missed_their_command(tmp_path):
    g1 = dict(env='velocity:g1', obs_spec='velocity_gait', eval_every=1000, eval_episodes=1,
              privileged_critic=True, overrides=TINY)
    src = tmp_path / 'g1'
    _run(TrainConfig(steps=60, run_dir=str(src), seed=2, checkpoint_every=60, **g1))
    best = str(src / 'best_actor.pt')
    with pytest.raises(ValueError, match='--anchor-free-error 0.3: it frees steps from an '
                                         'anchor; give --anchor-weight'):
        Trainer(TrainConfig(steps=60, run_dir=str(tmp_path / 'x'), init_from=best,
                            anchor_free_error=0.3, **g1), progress=False, tensorboard=False)
    assert not os.path.exists(tmp_path / 'x')
    with Trainer(TrainConfig(steps=100, run_dir=str(tmp_path / 'free'), seed=3, init_from=best,
                             anchor_weight=1.0, anchor_free_error=0.3, checkpoint_every=100,
                             **g1), progress=False, tensorboard=False) as trainer:
        assert any('the anchor lets go of the sampled steps' in n for n in trainer.notes)
        trainer.run()
        assert trainer.sample().anchor_mask is not None
        b = trainer.anchor_free(trainer.buffer.sample(256))
        layout = trainer.env.get_wrapper_attr('command_layout')()
        (a, _), v = layout.command, layout.lin_vel
        view = b.next_critic_obs
        command = view[:, a:a + 2] / torch.tensor(layout.command_scale[:2])
        error = (command - view[:, v:v + 2]).norm(dim=-1)
        held = b.anchor_mask[:, 0] > 0
        assert torch.equal(held, error <= 0.3) and held.any() and not held.all()
        agent = trainer.agent
        with torch.no_grad():
            a_next, s_next, _ = agent.actor.asb(b.next_obs)
            rows = (agent.actor.action(a_next, s_next, noise=False)
                    - agent.anchor.deterministic(b.next_obs)).square().mean(dim=-1)
            anchor = float(agent.loss(b)['anchor'])
        assert anchor == pytest.approx(float(rows[held].mean()), rel=1e-5)
        assert anchor != pytest.approx(float(rows.mean()), rel=1e-3)


def test_an_unanchored_run_from_an_anchored_runs_critic_is_told_the_risk(source, tmp_path):
    anchored = tmp_path / 'anchored'
    _run(_cfg(anchored, init_from=str(source / 'best_actor.pt'), anchor_weight=5.0,
              actor_frozen_steps=70))
    said = {}
    for name, kw in (('plain', {}), ('anchored_too', {'anchor_weight': 1.0})):
        with Trainer(_cfg(tmp_path / name, init_from=str(anchored), **kw),
                     progress=False, tensorboard=False) as trainer:
            said[name] = [n for n in trainer.notes if 'trained with --anchor-weight 5' in n]
    assert len(said['plain']) == 1 and said['anchored_too'] == []
    assert 'give --anchor-weight (and --anchor-floor), or resume the source run' in (
        said['plain'][0])

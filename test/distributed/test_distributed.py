"""Distributed training on a local Ray instance: the run, its metrics, and its faults."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from symphony_ros.core.checkpoint import latest_checkpoint
from symphony_ros.core.config import TrainConfig
from symphony_ros.core.snapshot import load_actor
from symphony_ros.distributed.chunks import check_chunk
from symphony_ros.distributed.config import CollectorsFailed, DistributedConfig
from symphony_ros.distributed.workers import Collector

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = dict(hidden_dim=16, critic_heads=4, batch_size=16, capacity=400, explore_steps=100)


def tiny_config(run_dir, steps=400, **kw):
    """A tiny InvertedPendulum run (the core tests' widths)."""
    kw = dict(dict(eval_every=150, eval_episodes=1, checkpoint_every=100), **kw)
    overrides = dict(TINY, **kw.pop('overrides', {}))
    return TrainConfig(env='InvertedPendulum-v4', steps=steps, run_dir=str(run_dir), seed=3,
                       overrides=overrides, **kw)


def _learner(cfg, collectors=2, collector_cls=Collector, **kw):
    """A DistributedTrainer of 32-row chunks whose log lines land in the returned list."""
    from symphony_ros.distributed.learner import DistributedTrainer
    lines = []
    dist = DistributedConfig(collectors=collectors, chunk_steps=32, weights_every=20, **kw)
    trainer = DistributedTrainer(cfg, dist, progress=False, tensorboard=False,
                                 log=lines.append, collector_cls=collector_cls)
    return trainer, lines


def _cli(*args, **kw):
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    return subprocess.Popen([sys.executable, '-m', 'symphony_ros.cli.main', *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def tiny_args(run_dir, steps, *extra):
    """`symphony train` flags of the tiny run of tiny_config."""
    return ['train', '--run-dir', str(run_dir), '--env', 'InvertedPendulum-v4', '--seed', '3',
            '--eval-every', '150', '--eval-episodes', '1', '--checkpoint-every', '100',
            '--hidden-dim', '16', '--critic-heads', '4', '--batch-size', '16',
            '--capacity', '400', '--explore-steps', '100', '--steps', str(steps),
            '--no-progress', *extra]


def test_single_process_training_never_imports_ray(tmp_path):
    code = ('import sys\nfrom symphony_ros.cli.main import main\n'
            f'assert main({tiny_args(tmp_path / "r", 120)!r}) == 0\n'
            "print('RAY' if any(m == 'ray' or m.startswith('ray.') for m in sys.modules) "
            "else 'NO RAY')\n")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=120, env=dict(os.environ, PYTHONPATH=ROOT))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == 'NO RAY'
    assert (tmp_path / 'r' / 'metrics.csv').exists()


def test_a_ray_address_without_a_cluster_is_one_line_exit_2(tmp_path):
    out = _cli(*tiny_args(tmp_path / 'r', 100, '--collectors', '1', '--ray-address',
                          '127.0.0.1:1'))
    _, err = out.communicate(timeout=120)
    assert out.returncode == 2
    assert err.strip().splitlines() == [
        "symphony train: error: --ray-address '127.0.0.1:1': no Ray head answers there "
        '([Errno 111] Connection refused)']
    assert not (tmp_path / 'r').exists()


@pytest.fixture(scope='module')
def good_chunk():
    collector = Collector('run-a', 1, tiny_config('/unused').to_dict(), 4, 1)
    chunk = collector.collect(8, learning=False, seed=5)
    assert check_chunk(chunk, 'run-a', 4, 1, 8) is None
    return chunk


@pytest.mark.parametrize('colour', [0.0, 1.0])
def test_a_collector_acts_with_the_runs_noise_colour(colour):
    import torch
    cfg = tiny_config('/unused', overrides={'act_noise_color': colour})
    collector = Collector('run-a', 1, cfg.to_dict(), 4, 1)
    chunk = collector.collect(300, learning=False, seed=5)
    with torch.no_grad():
        a, s, _ = collector.actor.asb(torch.as_tensor(chunk['obs']))
    noise = (np.arctanh(np.clip(chunk['action'][:, 0], -0.999999, 0.999999))
             - (s * a)[:, 0].numpy())
    noise = noise - noise.mean()
    # Pairs of steps within one episode.
    same = ~chunk['episode_end'][:-1]
    lag = float(np.mean(noise[1:][same] * noise[:-1][same]) / np.mean(noise * noise))
    assert (lag > 0.5) if colour else (abs(lag) < 0.2)


@pytest.mark.parametrize('change, reason', [
    (dict(run_id='run-b'), "run id 'run-b' is not this run's"),
    (dict(obs=np.zeros((8, 5), np.float32)), 'obs has shape (8, 5), expected (8, 4)'),
    (dict(action=np.zeros((8, 2), np.float32)), 'action has shape (8, 2)'),
    (dict(reward=np.full(8, np.nan, np.float32)), 'reward is not all finite'),
    (dict(terminated=np.ones(8, np.float32)), 'terminated has dtype float32'),
    (dict(terminated=np.zeros(8, bool), episode_end=np.zeros(8, bool),
          noise_fall=np.ones(8, bool)), 'a noise fall that is not a terminated transition'),
    (dict(collector='1'), 'collector is a str'),
    (dict(obs=None), 'obs has shape NoneType'),
    (dict(randomization={'mass_scale_mean': 1.0}), 'randomization is not a list of objects'),
    (dict(randomization=[{}] * 10), 'randomization holds 10 episodes, expected at most'),
    (dict(randomization=[{'payload_kg': float('nan')}]), 'randomization is not plain JSON'),
])
def test_a_chunk_of_another_run_or_shape_is_refused_with_the_reason(good_chunk, change, reason):
    assert reason in check_chunk(dict(good_chunk, **change), 'run-a', 4, 1, 8)
    assert '16 rows, expected 1..8' in check_chunk(
        {k: (np.concatenate([v, v]) if isinstance(v, np.ndarray) else v)
         for k, v in good_chunk.items()}, 'run-a', 4, 1, 8)


def test_collectors_train_into_the_usual_run_folder(ray_local, tmp_path):
    trainer, lines = _learner(tiny_config(tmp_path / 'r'))
    try:
        summary = trainer.run()
        # A forged chunk (another run's id) is refused, logged, counted; nothing is stored.
        before = (trainer.step_count, trainer.buffer.head)
        forged = dict(ray_local_chunk(trainer), run_id='another-run')
        assert trainer.ingest(forged, 32) == 0
        assert (trainer.step_count, trainer.buffer.head) == before
        assert trainer.refused == 1 and 'refused' in lines[-1] and 'another-run' in lines[-1]
    finally:
        trainer.close()
    assert summary['step'] == 400
    # Updates follow the single-process schedule: G = 3 per step from the warm-up's last.
    assert summary['updates'] == 3 * (400 - 100 + 1)
    run = tmp_path / 'r'
    rows = list(csv.DictReader(open(run / 'metrics.csv')))
    assert int(rows[-1]['step']) == 400 and len(rows) >= 2
    for key in ('collector_0_steps_per_s', 'collector_1_steps_per_s', 'weight_lag',
                'updates_per_step', 'collector_busy_steps_per_s', 'test_return_mean'):
        assert rows[-1][key] not in ('', 'nan'), key
    learning = [r for r in rows if r['updates_per_step'] not in ('', 'nan')]
    assert all(abs(float(r['updates_per_step']) - 3.0) < 1e-9 for r in learning)
    assert latest_checkpoint(str(run)).endswith('ckpt_000000400.pt')
    assert load_actor(str(run)).obs_spec is None and (run / 'best_actor.pt').exists()
    assert summary['chunks_refused'] == 0 and summary['collector_failures'] == 0


def test_init_buffer_has_the_collectors_learn_on_from_the_sources_replay(ray_local, tmp_path):
    from symphony_ros.core.trainer import Trainer
    with Trainer(tiny_config(tmp_path / 'source', steps=150), progress=False,
                 tensorboard=False) as source:
        source.run()
        stored = len(source.buffer)
    cfg = tiny_config(tmp_path / 'r', steps=64, init_from=str(tmp_path / 'source'),
                      init_buffer=True)
    trainer, lines = _learner(cfg, collectors=1)
    try:
        # No warm-up: learning from the first chunk, on top of the source's transitions.
        assert trainer.learning and len(trainer.buffer) == stored
        summary = trainer.run()
    finally:
        trainer.close()
    assert summary['step'] == 64 and summary['updates'] == 3 * 64, (summary, lines)
    assert summary['chunks_refused'] == 0 and summary['collector_failures'] == 0


def ray_local_chunk(trainer):
    """A well-formed chunk of this run, stepped in this process."""
    collector = Collector(trainer.run_id, 0, trainer.cfg.to_dict(), trainer.obs_dim,
                          trainer.act_dim)
    return collector.collect(32, learning=True, seed=1)


def test_a_collector_killed_mid_run_is_replaced_and_no_chunk_is_lost(ray_local, tmp_path):
    import ray
    # No warm-up end within the run: the buffer then holds exactly what arrived.
    cfg = tiny_config(tmp_path / 'r', steps=400,
                      overrides=dict(explore_steps=10_000, capacity=1_000))
    trainer, lines = _learner(cfg)
    try:
        trainer.run(max_steps=100)
        pid = ray.get(trainer.slots[0].handle.pid.remote())
        os.kill(pid, signal.SIGKILL)
        summary = trainer.run()
        assert summary['step'] == 400 and trainer.failures >= 1
        # Every chunk received was stored whole; the one in flight at the kill never arrived.
        assert trainer.received == trainer.chunks and trainer.refused == 0
        assert len(trainer.buffer) == trainer.stored == trainer.step_count == 400
        assert any('collector 0 died' in line for line in lines)
    finally:
        trainer.close()


def test_a_collector_that_raises_is_logged_once_and_replaced(ray_local, tmp_path):
    faults = str(tmp_path / 'faults')
    os.makedirs(faults)

    class RaisesTwice(Collector):
        """Raises on the first call in each of its first two processes."""

        def collect(self, *args, **kwargs):
            if not getattr(self, 'called', False):
                self.called = True
                if len(os.listdir(faults)) < 2:
                    open(os.path.join(faults, str(os.getpid())), 'w').close()
                    raise RuntimeError('injected collector fault')
            return super().collect(*args, **kwargs)

    # One collector, so that it has to come back for the run to finish. A ratio of 0.5:
    # one update per two transitions from the warm-up's last (101 of them) on.
    trainer, lines = _learner(tiny_config(tmp_path / 'r', steps=200), collectors=1,
                              collector_cls=RaisesTwice, update_ratio=0.5)
    try:
        summary = trainer.run()
        assert summary['step'] == 200 and summary['updates'] == 50
        assert trainer.failures == 2
    finally:
        trainer.close()
    text = '\n'.join(lines)
    # The traceback once (its frame line once), then one line for the same fault again.
    assert text.count('File "') == 1 and text.count('raise RuntimeError') == 1
    assert 'collector 0 raised again (RuntimeError: injected collector fault)' in text


def test_collectors_that_keep_failing_stop_the_run_with_the_cause(ray_local, tmp_path):
    # Defined here, so that Ray ships the class by value (workers cannot import this file).
    class AlwaysRaises(Collector):
        """A collector whose env never steps."""

        def collect(self, *args, **kwargs):
            raise RuntimeError('injected: the env cannot step')

    trainer, lines = _learner(tiny_config(tmp_path / 'r'), collector_cls=AlwaysRaises,
                              collectors=1, max_failures=2)
    try:
        with pytest.raises(CollectorsFailed, match=r'every collector \(1\) failed 2 times in '
                                                   r'a row; last cause: .*env cannot step'):
            trainer.run()
    finally:
        trainer.close()
    assert '\n'.join(lines).count('File "') == 1
    assert latest_checkpoint(str(tmp_path / 'r')) is not None   # resumable once fixed


@pytest.mark.slow   # two trainer processes: about a minute on a loaded 2-core machine
def test_a_stage_is_taken_where_a_chunk_carries_the_run_past_its_step(ray_local, tmp_path):
    """Steps come a chunk at a time; a stage is taken at the first step at or past its own."""
    run, stages = tmp_path / 'r', tmp_path / 'stages.yaml'
    stages.write_text('- at: 150\n  lr: 5e-5\n')
    proc = _cli(*tiny_args(run, 300, '--collectors', '1', '--chunk-steps', '32', '--ray-address',
                           ray_local, '--stages', str(stages)))
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    assert 'stage 1 of 1 at step 150: lr 5e-05: resuming with it' in err, err
    assert '"step": 300' in out
    with open(run / 'config.json') as fh:
        stored = json.load(fh)
    (change,) = stored['train_config']['curriculum']
    assert 150 <= change['step'] < 150 + 32 and stored['symphony_config']['lr'] == 5e-5


def test_learner_killed_then_resumed_finishes_the_run(ray_local, tmp_path):
    run = tmp_path / 'r'
    args = tiny_args(run, 900, '--collectors', '2', '--chunk-steps', '32',
                     '--ray-address', ray_local)
    first = _cli(*args)
    try:
        deadline = time.monotonic() + 90
        while latest_checkpoint(str(run)) is None or 'ckpt_000000000' in (
                latest_checkpoint(str(run)) or ''):
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, 'no checkpoint within 90 s'
            time.sleep(0.2)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    killed_at = int(os.path.basename(latest_checkpoint(str(run)))[5:14])
    assert killed_at < 900
    second = _cli(*args, '--resume')
    out, err = second.communicate(timeout=150)
    assert second.returncode == 0, err
    assert f'resumed {run} at step {killed_at:,}' in err
    assert '"step": 900' in out
    rows = list(csv.DictReader(open(run / 'metrics.csv')))
    steps = [int(r['step']) for r in rows]
    assert steps == sorted(set(steps)) and steps[-1] == 900
    assert latest_checkpoint(str(run)).endswith('ckpt_000000900.pt')


def test_collectors_stack_the_observations_of_a_history_run(ray_local, tmp_path):
    trainer, _ = _learner(tiny_config(tmp_path / 'r', steps=200, history=2), collectors=1)
    try:
        trainer.run()
        n = trainer.buffer.head
        obs = trainer.buffer.obs[:n].cpu().numpy()
        nxt = trainer.buffer.next_obs[:n].cpu().numpy()
    finally:
        trainer.close()
    assert trainer.obs_dim == 8 and obs.shape[1] == 8 and n > 50    # 4 a frame
    # Each stored step's next input holds the step's newest frame as its older one.
    np.testing.assert_array_equal(nxt[:, 4:], obs[:, :4])
    assert not np.array_equal(nxt[:, :4], obs[:, :4])


def test_a_resume_without_its_replay_warms_up_again_before_learning(ray_local, tmp_path):
    from symphony_ros.core.trainer import Trainer
    with Trainer(tiny_config(tmp_path / 'r', steps=200, exact_resume=False), progress=False,
                 tensorboard=False) as single:
        single.run()
        before = single.updates
    from symphony_ros.distributed.learner import DistributedTrainer
    lines = []
    trainer = DistributedTrainer(tiny_config(tmp_path / 'r', steps=330, exact_resume=False),
                                 DistributedConfig(collectors=1, chunk_steps=32,
                                                   weights_every=20),
                                 resume=True, progress=False, tensorboard=False,
                                 log=lines.append)
    try:
        resumed = trainer.step_count
        assert not trainer.learning and len(trainer.buffer) == 0
        summary = trainer.run()
    finally:
        trainer.close()
    # 100 steps of warm-up from where it resumed, then G = 3 per step, as a fresh run.
    assert summary['updates'] - before == 3 * (summary['step'] - (resumed + 100) + 1), lines


def test_refill_steps_with_collectors_is_refused_before_ray_starts(tmp_path):
    from symphony_ros.distributed.entry import make_trainer
    with pytest.raises(ValueError, match='--refill-steps runs in a single process only'):
        make_trainer(tiny_config(tmp_path / 'f', refill_steps=100),
                     DistributedConfig(collectors=2))
    assert not os.path.exists(tmp_path / 'f')

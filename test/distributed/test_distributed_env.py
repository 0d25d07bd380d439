"""A distributed run trains on the run's randomised env and evaluates by the run's protocol.

Both through real Ray (the session's local instance of 2 CPUs), tiny networks, few steps.
"""

import csv
import json
import os

from symphony_ros.core.config import TrainConfig
from symphony_ros.core.envs import make_run_env
from symphony_ros.core.evaluation import PAPER_EPISODES, episode_seeds
from symphony_ros.core.run_dir import RANDOMIZATION_LOG
from symphony_ros.core.snapshot import load_actor
from symphony_ros.distributed.config import DistributedConfig
from symphony_ros.distributed.workers import Evaluator

TINY = dict(hidden_dim=16, critic_heads=4, batch_size=16, capacity=400, explore_steps=60)


def _run(cfg, **kw):
    """Train ``cfg`` to the end with 2 collectors of 32-row chunks; return the trainer."""
    from symphony_ros.distributed.learner import DistributedTrainer
    dist = DistributedConfig(collectors=2, chunk_steps=32, weights_every=20)
    with DistributedTrainer(cfg, dist, progress=False, tensorboard=False,
                            log=lambda line: None, **kw) as trainer:
        trainer.run()
    return trainer


def test_collectors_step_the_randomised_env_and_its_draws_are_logged(ray_local, tmp_path):
    run = tmp_path / 'r'
    cfg = TrainConfig(env='symphony/Humanoid-v4', steps=160, run_dir=str(run), seed=2,
                      eval_every=1000, eval_episodes=1, checkpoint_every=1000,
                      randomize='default', overrides=TINY)
    trainer = _run(cfg)
    lines = [json.loads(line) for line in open(run / RANDOMIZATION_LOG)]
    # The line one process writes (the wrapper's own log), plus the collector that drew it.
    ref_log = tmp_path / 'one_process.jsonl'
    env = make_run_env(cfg, randomized=True, log_path=str(ref_log))
    env.reset(seed=0)
    env.close()
    keys = set(json.loads(ref_log.read_text()))
    assert all(set(line) == keys | {'collector', 'step'} for line in lines)
    steps = [line['step'] for line in lines]    # the learner's step when each chunk came
    assert steps == sorted(steps) and 0 < steps[0] and steps[-1] <= 160
    # One line per episode ended (none reaches the episode limit here), with its outcome.
    assert trainer.episodes >= 3
    assert len(lines) == trainer.episodes
    assert sum(line['fell'] for line in lines) == trainer.falls
    # Each collector's stream starts from its own seed, derived from the run seed.
    firsts = {c: next(d for d in lines if d['collector'] == c) for c in (0, 1)}
    seeds = [firsts[c]['seed'] for c in (0, 1)]
    from symphony_ros.distributed.learner import _Slot
    assert seeds == [trainer._seed(_Slot(c, None)) for c in (0, 1)] and seeds[0] != seeds[1]
    assert sum(d['seed'] is not None for d in lines) == 2
    draws = [json.dumps({k: v for k, v in d.items() if k not in ('seed', 'collector')})
             for d in lines]
    assert len(set(draws)) == len(draws)
    assert all(0.9 <= d['mass_scale_mean'] <= 1.1 for d in lines)


def test_the_evaluator_runs_the_paper_protocol_of_the_run(ray_local, tmp_path):
    out = tmp_path / 'seeds'
    out.mkdir()

    # Defined here, so that Ray ships the class by value (workers cannot import this file).
    class Recording(Evaluator):
        """Writes the reset seeds and the mean return of each evaluation to ``out``."""

        def evaluate(self, weights, evaluation):
            seeds, reset = [], self.env.reset

            def recording_reset(seed=None, options=None):
                seeds.append(seed)
                return reset(seed=seed, options=options)
            self.env.reset = recording_reset
            try:
                result = super().evaluate(weights, evaluation)
            finally:
                self.env.reset = reset
            (out / f'{evaluation}.json').write_text(json.dumps([seeds, result.mean]))
            return result

    cfg = TrainConfig(env='InvertedPendulum-v4', steps=400, run_dir=str(tmp_path / 'r'),
                      seed=3, episode_limit=20, eval_every=150, checkpoint_every=1000,
                      eval_protocol='paper', overrides=dict(TINY, explore_steps=100))
    _run(cfg, evaluator_cls=Recording)
    rows = {int(r['step']): r for r in csv.DictReader(open(tmp_path / 'r' / 'metrics.csv'))}
    remote = {int(name[:-5]): json.loads((out / name).read_text())
              for name in os.listdir(out)}
    # The first evaluation past 150 runs on the evaluator (one past 300 too, unless the
    # first is still running then); the last, at 400, in the learner.
    assert remote and set(remote) < set(rows) and max(rows) == 400
    for step, (seeds, mean) in remote.items():
        assert seeds == episode_seeds('paper', 3, step, PAPER_EPISODES)
        assert float(rows[step]['test_return_mean']) == mean
    # The paper protocol keeps the last evaluated actor, not the best.
    assert load_actor(str(tmp_path / 'r')).step == 400

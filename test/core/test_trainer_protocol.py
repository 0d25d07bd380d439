"""The trainer's acting and evaluation rules that come from the paper's reference code."""

from symphony_ros.core.config import TrainConfig
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

    def recording_act(obs, noise=True, fall=False):
        seen.append((trainer.learning, trainer._ep_step + 1, fall))
        return act(obs, noise=noise, fall=fall)

    trainer.agent.act = recording_act
    try:
        trainer.run()
    finally:
        trainer.close()
    assert all(not fall for learning, _, fall in seen if not learning)
    learned = [(step, fall) for learning, step, fall in seen if learning]
    assert all(fall == (step >= 5) for step, fall in learned)
    assert {4, 5} <= {step for step, _ in learned}

"""A small symmetric G1 run with a privileged critic, for the tests that branch one."""

from symphony_ros.core.config import TrainConfig

G1, TURN = 'velocity:g1', 'velocity_gait_turn'
TINY = dict(hidden_dim=16, critic_heads=4, batch_size=16, capacity=400, explore_steps=40)
"""Widths and sizes that train in seconds on one core."""


def tiny_g1_config(run_dir, steps=120, obs_spec=TURN, **kw) -> TrainConfig:
    """Return the config of a tiny run that keeps every checkpoint and actor."""
    return TrainConfig(env=G1, steps=steps, run_dir=str(run_dir), seed=1, eval_every=1000,
                       eval_episodes=1, checkpoint_every=40, episode_limit=30,
                       privileged_critic=True, keep_checkpoints=True, keep_actors=True,
                       symmetric_actor=True, obs_spec=obs_spec, overrides=dict(TINY), **kw)

"""Settings of ``symphony distill``: what the student meets and how long it learns."""

from __future__ import annotations

from dataclasses import dataclass

from ..util.fields import check_ranges, ranged

DELAY_KNOBS = 'delay_s,delay_jitter_steps'
"""What a student learns beyond its teacher most surely: to act ahead of the action delay.
Sensor noise can be added (obs_noise_scale, imu_bias_scale: the student sees the noisy
observation, its labels come from the exact one), but on the shipped G1 the two together
at the default amplitudes gave a worse student than either alone (README)."""


@dataclass(frozen=True)
class DistillConfig:
    """A DAgger distillation: the student acts, the teacher labels, the student learns."""

    randomize: str = 'default'
    """Ranges the perturbations are drawn from: default (the robot file's) or a YAML file,
    as `symphony train --randomize`."""
    knobs: str = DELAY_KNOBS
    """Comma-separated knobs of those ranges the student meets (the rest stay nominal), or
    'all'."""
    obs_spec: str = ''
    """The student's observation: empty for its teacher's, or a spec that appends terms to
    it, given at weight 0 (e.g. humanoid_v4_torque, Humanoid-v4's with the previous action:
    the command in flight, which a student needs to act ahead of a delay)."""
    history: int = ranged(1, 1, 8)
    """Observations the student takes at once, newest first (1: the teacher's input). More
    let it see what one cannot, e.g. how the base drifts after a kick; deploying it needs
    this project's deploy loop, which keeps them (`FrameStack`)."""
    randomize_scale: float = ranged(1.0, 0)
    """Factor on every range's width about nominal."""
    rounds: int = ranged(10, 1)
    """DAgger rounds: collect with the student, then learn on everything collected so far."""
    steps_per_round: int = ranged(20_000, 1)
    """Control steps the student acts for in each round."""
    updates_per_round: int = ranged(3_000, 0)
    """Gradient steps on the collected data after each round's collection."""
    batch_size: int = ranged(512, 1)
    """Samples per gradient step."""
    lr: float = ranged(1e-4, 0, above=True)
    """Adam learning rate of the student."""
    max_samples: int = ranged(1_000_000, 1)
    """Labelled steps kept; the oldest go first."""
    seed: int = ranged(0, 0, 2**32 - 1)
    """Seed of the episodes, the perturbations' draws and the minibatches."""
    threads: int = ranged(1, 1)
    """torch CPU threads."""

    def __post_init__(self) -> None:
        check_ranges(self)


__all__ = ['DELAY_KNOBS', 'DistillConfig']

"""Before a run is created: its config checked, its device and observation spec resolved.

Everything here may refuse (ValueError) before the run folder is touched, so a bad flag
never leaves a half-made run behind.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import torch

from .checkpoint import CheckpointError, list_checkpoints, load_checkpoint
from .config import SymphonyConfig, TrainConfig
from .envs import check_env_name, default_obs_spec, randomization, run_env_options
from .evaluation import PAPER_EPISODES, PROTOCOLS
from .run_dir import RunDirError, read_run_config


def resolve_device(name: str) -> torch.device:
    """Map auto/cpu/cuda to a device; cuda without CUDA is an error."""
    if name == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    if name == 'cuda' and not torch.cuda.is_available():
        raise ValueError('--device cuda asked for, but torch sees no CUDA device '
                         f'(torch {torch.__version__})')
    if name not in ('cpu', 'cuda'):
        raise ValueError(f'unknown device {name!r}; expected auto, cpu or cuda')
    return torch.device(name)


def validate(cfg: TrainConfig) -> SymphonyConfig:
    """Check a TrainConfig before anything is created; return its Symphony config.

    Field ranges are checked when the config is built (see ``util.fields.Range``).
    """
    check_env_name(cfg.env)
    if cfg.eval_protocol not in PROTOCOLS:
        raise ValueError(f'eval_protocol must be {" or ".join(PROTOCOLS)}, '
                         f'got {cfg.eval_protocol!r}')
    if cfg.eval_protocol == 'paper' and cfg.eval_episodes not in (
            TrainConfig().eval_episodes, PAPER_EPISODES):
        raise ValueError(f'eval_episodes: the paper protocol runs {PAPER_EPISODES} episodes, '
                         f'got {cfg.eval_episodes}')
    run_env_options(cfg)  # a bad --reward-weights is refused before the run folder is touched
    spec = randomization(cfg.env, cfg.randomize, cfg.randomize_scale)
    if cfg.eval_randomized and spec is None:
        raise ValueError('--eval-randomized: there is no randomisation to evaluate under '
                         'without --randomize (default or a YAML file of ranges)')
    if cfg.eval_randomized and spec.hard_auto:
        raise ValueError('--eval-randomized: the ranges set hard_depth: auto, a corner that '
                         'moves as the run trains, so its test returns would compare '
                         'different robots (give the corner a fixed depth, or test nominal)')
    if cfg.critic_dynamics and not (cfg.privileged_critic and spec is not None):
        raise ValueError('--critic-dynamics: the dynamics go to a privileged critic of a '
                         'randomised run; give --privileged-critic true and --randomize '
                         '(default or a YAML file of ranges)')
    if cfg.anchor_weight and not cfg.init_from:
        raise ValueError('--anchor-weight: there is no actor to anchor to without --init-from')
    if cfg.anchor_floor > cfg.anchor_weight:
        raise ValueError(f'--anchor-floor {cfg.anchor_floor:g}: the anchor fades from '
                         f'--anchor-weight ({cfg.anchor_weight:g}) to it; give at most that')
    if cfg.anchor_free_error and not (cfg.anchor_weight and cfg.privileged_critic):
        raise ValueError(f'--anchor-free-error {cfg.anchor_free_error:g}: it frees steps from '
                         'an anchor; give --anchor-weight (with --init-from) and '
                         '--privileged-critic true (the critic\'s view holds the velocity)')
    if cfg.noise_smoothing and (spec is None or not spec.adds_sensor_noise):
        raise ValueError('--noise-smoothing: the randomisation adds no sensor noise to smooth '
                         'over; give --randomize default, or a YAML file of ranges with '
                         'obs_noise')
    if cfg.relabel_commands and not cfg.privileged_critic:
        raise ValueError('--relabel-commands: needs --privileged-critic true (the critic\'s '
                         'view holds the velocity a relabelled step is scored against)')
    if cfg.init_buffer and not cfg.init_from:
        raise ValueError('--init-buffer: there is no checkpoint to take a buffer from without '
                         '--init-from')
    if cfg.randomize_ramp and spec is None:
        raise ValueError('--randomize-ramp: there is nothing to ramp without --randomize '
                         '(default or a YAML file of ranges)')
    _check_stages(cfg)
    return cfg.symphony()


def _check_stages(cfg: TrainConfig) -> None:
    """Refuse now a stage the run could not take when it gets there, hours on.

    Each stage's settings are checked as the run's own would be, under every stage before it.
    """
    from .run_dir import changes_randomization
    from .stages import under
    for index, stage in enumerate(cfg.stages, 1):
        where = f'--stages: stage {index} (at step {stage["at"]:,})'
        if cfg.eval_randomized and changes_randomization(stage):
            raise ValueError(f'{where}: changes the randomisation of a run that tests under it '
                             '(--eval-randomized), whose test returns would then compare '
                             'different robots')
        try:
            validate(dataclasses.replace(under(cfg, cfg.stages[:index]), stages=[]))
        except ValueError as exc:
            raise ValueError(f'{where}: {exc}') from None


def stored_obs_spec(run_dir: str) -> Optional[str]:
    """Return the obs spec a run folder's config.json names (None: none, or no run)."""
    try:
        return read_run_config(run_dir)['train_config'].get('obs_spec')
    except RunDirError:
        return None  # check_run_dir says what is wrong with the folder


def run_obs_spec(cfg: TrainConfig, resume: bool) -> str:
    """Return the observation spec of a run whose config names none.

    A new run takes the env's default and records it; a run stored without one (older runs)
    keeps the spec its newest checkpoint was trained on, since the env's default may have
    changed since (the G1's did, when its task gained a gait clock).
    """
    for path in reversed(list_checkpoints(cfg.run_dir) if resume else []):
        try:
            recorded = load_checkpoint(path).get('obs_spec')
        except CheckpointError:
            continue  # the resume itself names a damaged checkpoint, and what to do
        if recorded:
            return recorded
    return default_obs_spec(cfg.env)


__all__ = ['resolve_device', 'run_obs_spec', 'stored_obs_spec', 'validate']

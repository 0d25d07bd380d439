"""Pure-Python learning core of symphony_ros (torch, numpy, mujoco); never imports rclpy.

The names below load on first use: nodes and CLI commands that only need ``core.config``
must not pay for importing torch.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    'Symphony': 'agent', 'CONFIGS': 'config', 'SymphonyConfig': 'config',
    'TrainConfig': 'config', 'get_config': 'config', 'Actor': 'networks',
    'Critic': 'networks', 'FeedForward': 'networks', 'GradientDropout': 'networks',
    'ReSine': 'networks', 'Batch': 'replay', 'FadingReplayBuffer': 'replay',
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    return getattr(import_module(f'.{_EXPORTS[name]}', __name__), name)

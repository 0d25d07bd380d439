"""Pure-Python learning core of symphony_ros (torch, numpy, mujoco); never imports rclpy."""

from .agent import Symphony
from .config import CONFIGS, SymphonyConfig, TrainConfig, get_config
from .networks import Actor, Critic, FeedForward, GradientDropout, ReSine
from .replay import Batch, FadingReplayBuffer

__all__ = ['Actor', 'Batch', 'CONFIGS', 'Critic', 'FadingReplayBuffer', 'FeedForward',
           'GradientDropout', 'ReSine', 'Symphony', 'SymphonyConfig', 'TrainConfig',
           'get_config']

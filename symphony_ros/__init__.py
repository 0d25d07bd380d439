"""symphony_ros: train, export, deploy and evaluate Symphony humanoid controllers."""

__version__ = "0.1.0"

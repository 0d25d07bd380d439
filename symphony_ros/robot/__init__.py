"""Robot model facts and observation building; pure Python (mujoco, numpy), never rclpy."""

from .description import DEFAULT_ROBOT, RobotDescription, get_robot

__all__ = ['DEFAULT_ROBOT', 'RobotDescription', 'get_robot']

"""Humanoid-v4's reward, recomputed from measured robot state.

One definition for the sim node (live, per tick) and the bag evaluator (offline, from a
recording), so their returns agree. Gymnasium's Humanoid-v4 gives per step
``forward_weight * vx_com + healthy_reward - ctrl_cost_weight * |ctrl|^2`` (no contact cost
in v4), where ``vx_com`` is the forward velocity of the whole-body centre of mass over one
control period and ``ctrl`` the actuator input (torque / gear, clamped to ctrlrange). The
centre of mass needs the full configuration, so the state must carry odometry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import mujoco
import numpy as np

from .description import RobotDescription, get_robot
from .mujoco_state import MujocoStateReader
from .state import RobotState


@dataclass(frozen=True)
class RewardWeights:
    """Humanoid-v4's reward constants (gymnasium's defaults)."""

    forward: float = 1.25
    """Weight of the centre-of-mass forward velocity (m/s)."""
    ctrl_cost: float = 0.1
    """Weight of the squared actuator input."""
    healthy: float = 5.0
    """Reward per step alive (Humanoid-v4 ends the episode rather than withhold it)."""
    healthy_z: Tuple[float, float] = (1.0, 2.0)
    """m; base height range outside which the robot has fallen."""


@dataclass(frozen=True)
class StepReward:
    """The terms of one control step's reward."""

    forward: float
    healthy: float
    ctrl_cost: float
    fallen: bool

    @property
    def total(self) -> float:
        """Reward of the step, as the training environment gives it."""
        return self.forward + self.healthy - self.ctrl_cost


class HumanoidReward:
    """Per-step Humanoid-v4 reward from two consecutive measured states."""

    def __init__(self, robot: Optional[RobotDescription] = None,
                 weights: RewardWeights = RewardWeights()) -> None:
        """Load the robot's MJCF once: the centre of mass needs its masses and kinematics."""
        self.robot = robot or get_robot()
        self.weights = weights
        self.model = mujoco.MjModel.from_xml_path(self.robot.mjcf_path)
        self.data = mujoco.MjData(self.model)
        self.reader = MujocoStateReader(self.model, self.robot)
        self._mass = self.model.body_mass / self.model.body_mass.sum()

    def center_of_mass(self, state: RobotState) -> np.ndarray:
        """World position (m) of the whole-body centre of mass in ``state``."""
        self.data.qpos[:] = self.reader.qpos(state, self.model.qpos0)
        mujoco.mj_kinematics(self.model, self.data)
        return self._mass @ self.data.xipos

    def fallen(self, state: RobotState) -> bool:
        """Return True when the base height is outside the healthy range."""
        lo, hi = self.weights.healthy_z
        return not lo <= float(state.base_position[2]) <= hi

    def step(self, before: RobotState, after: RobotState, torque: np.ndarray,
             dt: Optional[float] = None) -> StepReward:
        """Reward of the step from ``before`` to ``after`` under joint ``torque`` (N*m)."""
        dt = self.robot.control_dt if dt is None else dt
        vx = (self.center_of_mass(after)[0] - self.center_of_mass(before)[0]) / dt
        ctrl = self.robot.torque_to_ctrl(torque)
        w = self.weights
        return StepReward(forward=w.forward * float(vx), healthy=w.healthy,
                          ctrl_cost=w.ctrl_cost * float(np.sum(ctrl * ctrl)),
                          fallen=self.fallen(after))


__all__ = ['HumanoidReward', 'RewardWeights', 'StepReward']

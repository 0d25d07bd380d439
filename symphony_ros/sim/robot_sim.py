"""The MuJoCo robot behind mujoco_sim_node: torques in, measured state out.

It steps the robot's own MJCF exactly like the training environment (same model, same
frame skip, ctrl = torque / gear clamped to ctrlrange), so a policy meets the same physics
through ROS as in training.
"""

from __future__ import annotations

from typing import Optional

import mujoco
import numpy as np

from ..robot.description import RobotDescription, get_robot
from ..robot.state import MujocoStateReader, RobotState
from .config import SimConfig


class RobotSim:
    """A MuJoCo model of the robot advanced one control period at a time."""

    def __init__(self, cfg: SimConfig, robot: Optional[RobotDescription] = None) -> None:
        cfg.validate()
        self.cfg = cfg
        self.robot = robot or get_robot(cfg.robot)
        self.model = mujoco.MjModel.from_xml_path(self.robot.mjcf_path)
        self.data = mujoco.MjData(self.model)
        self.reader = MujocoStateReader(self.model, self.robot)
        self._base = self.model.body(self.robot.base_body).id
        self.resets = 0
        self.reset()

    @property
    def time(self) -> float:
        """Simulated seconds since the last reset."""
        return float(self.data.time)

    def reset(self) -> RobotState:
        """Reset to the initial pose plus uniform noise of ``reset_noise`` (as Humanoid-v4).

        Episode k draws its noise from ``default_rng(seed + k)``, in gymnasium's order
        (qpos, then qvel), so it starts where ``env.reset(seed=seed + k)`` does.
        """
        mujoco.mj_resetData(self.model, self.data)
        k = self.cfg.reset_noise
        rng = np.random.default_rng(self.cfg.seed + self.resets)
        self.data.qpos[:] = self.model.qpos0 + rng.uniform(-k, k, self.model.nq)
        self.data.qvel[:] = rng.uniform(-k, k, self.model.nv)
        mujoco.mj_forward(self.model, self.data)
        self.resets += 1  # the number of the next episode, too
        return self.state()

    def torque_to_ctrl(self, torque: np.ndarray) -> np.ndarray:
        """Actuator ctrl for joint torques (N*m): torque / gear, clamped to ctrlrange."""
        return self.robot.torque_to_ctrl(torque)

    def step(self, torque: Optional[np.ndarray]) -> RobotState:
        """Advance one control period with ``torque`` (None or non-finite: zero torque)."""
        if torque is None or len(torque) != self.robot.n_joints or not np.all(
                np.isfinite(torque)):
            torque = np.zeros(self.robot.n_joints)
        self.data.ctrl[:] = self.torque_to_ctrl(torque)
        mujoco.mj_step(self.model, self.data, nstep=self.robot.frame_skip)
        return self.state()

    def state(self) -> RobotState:
        """Measured state as a robot with a state estimator would publish it."""
        return self.reader.read(self.data)

    def base_height(self) -> float:
        """Height of the base body origin (m)."""
        return float(self.data.xpos[self._base][2])

    def fallen(self) -> bool:
        """Return True when the base height is outside the healthy range."""
        z = self.base_height()
        return not self.cfg.healthy_z_min <= z <= self.cfg.healthy_z_max

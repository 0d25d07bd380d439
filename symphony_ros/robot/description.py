"""The robot a policy drives: joint order, limits and timing, read from its MJCF model.

This is the one source of truth for joint order (the actuator order of the model, which is
also the action order of the policy and the order of the hardware command), torque limits
(gear x ctrlrange), position limits and the control period.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import mujoco
import numpy as np

DEFAULT_ROBOT = 'humanoid'
HUMANOID_FRAME_SKIP = 5
"""Gymnasium Humanoid-v4 steps MuJoCo 5 times per action: control period 5 x 3 ms = 15 ms."""
DEFAULT_VELOCITY_LIMIT = 30.0
"""rad/s; the MJCF states no velocity limits, so this project default applies to every joint."""


def gymnasium_asset(name: str) -> str:
    """Path of a MuJoCo asset shipped with gymnasium (e.g. ``humanoid.xml``)."""
    import gymnasium.envs.mujoco as gm
    return os.path.join(os.path.dirname(gm.__file__), 'assets', name)


@dataclass(frozen=True)
class RobotDescription:
    """Joint-level facts of one robot, in actuator (= action = command) order."""

    name: str
    mjcf_path: str
    xml_sha256: str
    joint_names: Tuple[str, ...]
    gear: np.ndarray
    ctrl_range: np.ndarray
    """[n, 2] range of the policy action per joint (MuJoCo clamps ctrl to it)."""
    effort_limits: np.ndarray
    """N*m: gear x max |ctrl|."""
    position_limits: np.ndarray
    """[n, 2] rad."""
    velocity_limits: np.ndarray
    """rad/s."""
    control_dt: float
    frame_skip: int
    base_body: str
    default_joint_positions: Optional[np.ndarray] = None
    """rad: the model's reference pose (qpos0); None reads as all zeros."""

    @property
    def n_joints(self) -> int:
        """Number of actuated joints."""
        return len(self.joint_names)

    def action_to_torque(self, action: np.ndarray) -> np.ndarray:
        """Torque the model applies for a policy action: gear * clip(a, ctrlrange)."""
        a = np.clip(action, self.ctrl_range[:, 0], self.ctrl_range[:, 1])
        return self.gear * a

    def torque_to_ctrl(self, torque: np.ndarray) -> np.ndarray:
        """Actuator ctrl for joint torques (N*m): torque / gear, clamped to ctrlrange."""
        ctrl = np.asarray(torque, dtype=np.float64) / self.gear
        return np.clip(ctrl, self.ctrl_range[:, 0], self.ctrl_range[:, 1])

    def to_dict(self) -> Dict[str, object]:
        """JSON-friendly summary (for metadata and reports)."""
        return {'name': self.name, 'xml_sha256': self.xml_sha256,
                'joint_names': list(self.joint_names), 'gear': self.gear.tolist(),
                'ctrl_range': self.ctrl_range.tolist(),
                'effort_limits': self.effort_limits.tolist(),
                'position_limits': self.position_limits.tolist(),
                'velocity_limits': self.velocity_limits.tolist(),
                'control_dt': self.control_dt, 'frame_skip': self.frame_skip,
                'base_body': self.base_body,
                'default_joint_positions': self.default_pose().tolist()}

    def default_pose(self) -> np.ndarray:
        """Return the default joint positions (rad), zeros where the description gives none."""
        if self.default_joint_positions is None:
            return np.zeros(self.n_joints)
        return np.asarray(self.default_joint_positions, dtype=np.float64)


def describe_model(name: str, mjcf_path: str, frame_skip: int, base_body: str
                   ) -> RobotDescription:
    """Read a RobotDescription off an MJCF file whose actuators each drive one hinge joint."""
    with open(mjcf_path, 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    model = mujoco.MjModel.from_xml_path(mjcf_path)
    joints = []
    for i in range(model.nu):
        if model.actuator_trntype[i] != mujoco.mjtTrn.mjTRN_JOINT:
            raise ValueError(f'{mjcf_path}: actuator {model.actuator(i).name!r} does not drive a '
                             'joint; only joint actuators are supported')
        joints.append(int(model.actuator_trnid[i, 0]))
    gear = model.actuator_gear[:, 0].astype(np.float64).copy()
    ctrl = model.actuator_ctrlrange.astype(np.float64).copy()
    effort = gear * np.abs(ctrl).max(axis=1)
    pos = model.jnt_range[joints].astype(np.float64).copy()
    unlimited = ~model.jnt_limited[joints].astype(bool)
    pos[unlimited] = (-np.inf, np.inf)
    return RobotDescription(
        name=name, mjcf_path=mjcf_path, xml_sha256=digest,
        joint_names=tuple(model.joint(j).name for j in joints), gear=gear, ctrl_range=ctrl,
        effort_limits=effort, position_limits=pos,
        velocity_limits=np.full(len(joints), DEFAULT_VELOCITY_LIMIT),
        control_dt=float(model.opt.timestep) * frame_skip, frame_skip=frame_skip,
        base_body=base_body,
        default_joint_positions=model.qpos0[model.jnt_qposadr[joints]].astype(np.float64))


@functools.lru_cache(maxsize=None)
def get_robot(name: str = DEFAULT_ROBOT) -> RobotDescription:
    """Return the description of a known robot by name.

    :raises ValueError: unknown robot name.
    """
    if name == 'humanoid':
        return describe_model('humanoid', gymnasium_asset('humanoid.xml'),
                              HUMANOID_FRAME_SKIP, 'torso')
    raise ValueError(f'unknown robot {name!r}; expected one of: humanoid')

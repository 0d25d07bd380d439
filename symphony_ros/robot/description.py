"""The robot a policy drives: joint order, gains, limits and timing, from its robot file.

A robot is an MJCF model plus one robot file (YAML, see `symphony_ros.robot.robot_file`).
`RobotDescription` is the one source of truth for joint order (= action order = hardware
command order), the action law (torque or PD position), gains, limits, default pose and the
control and physics periods. Shipped robots are found by name, a user's by path.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

import numpy as np

SOFT_LIMIT_MARGIN = 0.05
"""rad inside each joint's range: on a real robot the watchdog clamps position targets to it
and cuts torque pushing a joint past it (config/watchdog.yaml). A pd_position robot's
simulated servos clamp their targets there too, so a policy cannot learn to press a joint
against its stop with a target beyond it: the torque it would count on never reaches the
robot."""
DEFAULT_ROBOT = 'humanoid'
ROBOTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'robots')
"""Folder of the shipped robot files, ``<name>.yaml`` each (installed as package data)."""
ACTION_KINDS = ('torque', 'pd_position')
"""torque: tau = gear * clip(a, ctrl_range); pd_position: see :meth:`RobotDescription.pd`."""


@dataclass(frozen=True)
class RobotDescription:
    """Joint-level facts of one robot, in action (= actuator = command) order."""

    name: str
    mjcf_path: str
    xml_sha256: str
    """sha256 of the MJCF file as written (the robot file's additions are checked apart)."""
    joint_names: Tuple[str, ...]
    gear: np.ndarray
    ctrl_range: np.ndarray
    """[n, 2] range of the actuator input per joint (MuJoCo clamps ctrl to it). For
    pd_position robots the input is the joint target (gear 1): default -+ action_scale, the
    reach of an action in [-1, 1]."""
    effort_limits: np.ndarray
    """N*m: gear x max |ctrl| (torque robots) or the motor's limit (pd_position robots)."""
    position_limits: np.ndarray
    """[n, 2] rad."""
    velocity_limits: np.ndarray
    """rad/s."""
    control_dt: float
    """s between actions: physics_dt x frame_skip."""
    frame_skip: int
    base_body: str
    default_joint_positions: Optional[np.ndarray] = None
    """rad: the default (standing) pose; None reads as all zeros."""
    action_kind: str = 'torque'
    """One of `ACTION_KINDS`."""
    kp: Optional[np.ndarray] = None
    """N*m/rad per joint (pd_position robots; None for torque robots)."""
    kd: Optional[np.ndarray] = None
    """N*m*s/rad per joint (pd_position robots)."""
    action_scale: Optional[np.ndarray] = None
    """rad per unit action (pd_position robots): q_target = default + scale * a."""
    armature: Optional[np.ndarray] = None
    """kg*m^2 reflected rotor inertia per joint, set on the model (None: the MJCF's)."""
    imu_site: Optional[str] = None
    """MJCF site of the IMU; None: the IMU sits at the base origin, aligned with it."""
    feet: Tuple[str, ...] = ()
    """Foot bodies (contact, slip and air-time terms)."""
    nominal_base_height: Optional[float] = None
    """m: base height standing in the default pose."""
    fall_min_height: Optional[float] = None
    """m: below this base height the robot has fallen."""
    fall_max_height: Optional[float] = None
    """m: above this base height the episode ends (Humanoid-v4's healthy range)."""
    fall_max_tilt: Optional[float] = None
    """rad: tilt of the base z axis from vertical beyond which the robot has fallen."""
    add_floor: bool = False
    """The model gets a ground plane (MJCFs of robots alone have none)."""
    self_collision: bool = True
    """False: robot geoms collide with the floor only (cheaper, as most locomotion work)."""
    source: str = ''
    """The robot file this description was read from."""
    tasks: Dict[str, Dict[str, object]] = field(default_factory=dict)
    """Task settings by task name (e.g. 'velocity'), overriding the task's defaults."""
    randomization: Dict[str, object] = field(default_factory=dict)
    """Training randomisation ranges overriding `symphony_ros.robot.ranges.DEFAULTS`."""

    @property
    def n_joints(self) -> int:
        """Number of actuated joints."""
        return len(self.joint_names)

    @property
    def healthy_z(self) -> Tuple[float, float]:
        """Base heights (m) of a robot that has not fallen; an unset bound is infinite."""
        lo, hi = self.fall_min_height, self.fall_max_height
        return (-np.inf if lo is None else lo, np.inf if hi is None else hi)

    @property
    def physics_dt(self) -> float:
        """Seconds per physics step (the PD period of pd_position robots)."""
        return self.control_dt / self.frame_skip

    def action_to_torque(self, action: np.ndarray) -> np.ndarray:
        """Torque the model applies for a torque action: gear * clip(a, ctrlrange)."""
        a = np.clip(action, self.ctrl_range[:, 0], self.ctrl_range[:, 1])
        return self.gear * a

    def torque_to_ctrl(self, torque: np.ndarray) -> np.ndarray:
        """Actuator ctrl for joint torques (N*m): torque / gear, clamped to ctrlrange."""
        ctrl = np.asarray(torque, dtype=np.float64) / self.gear
        return np.clip(ctrl, self.ctrl_range[:, 0], self.ctrl_range[:, 1])

    def to_dict(self) -> Dict[str, object]:
        """JSON-friendly summary (for metadata and reports)."""
        def arr(x: Optional[np.ndarray]) -> Optional[list]:
            return None if x is None else np.asarray(x).tolist()
        return {'name': self.name, 'xml_sha256': self.xml_sha256,
                'joint_names': list(self.joint_names), 'gear': self.gear.tolist(),
                'ctrl_range': self.ctrl_range.tolist(),
                'effort_limits': self.effort_limits.tolist(),
                'position_limits': self.position_limits.tolist(),
                'velocity_limits': self.velocity_limits.tolist(),
                'control_dt': self.control_dt, 'frame_skip': self.frame_skip,
                'base_body': self.base_body,
                'default_joint_positions': self.default_pose().tolist(),
                'action_kind': self.action_kind, 'kp': arr(self.kp), 'kd': arr(self.kd),
                'action_scale': arr(self.action_scale)}

    def servo_range(self) -> np.ndarray:
        """Return [n, 2] the joint targets the servos take (pd_position robots).

        The reach of an action (``ctrl_range``) within the soft joint limits
        (:data:`SOFT_LIMIT_MARGIN` inside the range), never excluding the default pose;
        a torque robot's ``ctrl_range`` as it is.
        """
        if self.action_kind != 'pd_position':
            return self.ctrl_range
        lo = np.maximum(self.ctrl_range[:, 0], self.position_limits[:, 0] + SOFT_LIMIT_MARGIN)
        hi = np.minimum(self.ctrl_range[:, 1], self.position_limits[:, 1] - SOFT_LIMIT_MARGIN)
        pose = self.default_pose()
        return np.stack([np.minimum(lo, pose), np.maximum(hi, pose)], axis=1)

    def default_pose(self) -> np.ndarray:
        """Return the default joint positions (rad), zeros where the description gives none."""
        if self.default_joint_positions is None:
            return np.zeros(self.n_joints)
        return np.asarray(self.default_joint_positions, dtype=np.float64)


def no_feet(robot: RobotDescription) -> Optional[str]:
    """Say why leg odometry cannot estimate ``robot`` (None: its file names feet).

    One message for every place that refuses it (node, graph, launch, demo), each adding
    its own context in front.
    """
    if robot.feet:
        return None
    return (f'robot {robot.name!r} names no feet (the robot file\'s `feet:`), the bodies the '
            'leg odometry stands on')


def shipped_robots() -> Tuple[str, ...]:
    """Names of the robots shipped with the package."""
    return tuple(sorted(f[:-5] for f in os.listdir(ROBOTS_DIR) if f.endswith('.yaml')))


def robot_file_path(name_or_path: str) -> str:
    """Return the robot file of a shipped robot's name, or ``name_or_path`` as a path.

    A value with a path separator or a .yaml/.yml suffix is a path; anything else a name.

    :raises ValueError: an unknown name (listing the shipped ones).
    """
    if os.sep in name_or_path or name_or_path.endswith(('.yaml', '.yml')):
        return os.path.abspath(name_or_path)
    path = os.path.join(ROBOTS_DIR, name_or_path + '.yaml')
    if not os.path.isfile(path):
        raise ValueError(f'unknown robot {name_or_path!r}; expected one of: '
                         f'{", ".join(shipped_robots())}, or the path of a robot file '
                         '(<name>.yaml)')
    return path


@functools.lru_cache(maxsize=None)
def _load(path: str) -> RobotDescription:
    from .robot_file import load_robot_file
    return load_robot_file(path)


def get_robot(name: str = DEFAULT_ROBOT) -> RobotDescription:
    """Return a robot by shipped name (``g1``) or by the path of its robot file.

    The same name or path gives the same (cached) object.

    :raises ValueError: unknown name; :class:`~symphony_ros.robot.robot_file.RobotFileError`
        (a ValueError) naming file and field for a robot file that is wrong.
    """
    return _load(robot_file_path(name))

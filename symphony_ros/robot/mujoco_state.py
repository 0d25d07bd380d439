"""`RobotState` from MuJoCo: what a real robot's drivers would publish, read from a model.

Kept apart from `robot.state` so the nodes that only convert messages (the watchdog) do not
load MuJoCo.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence, Tuple

import mujoco
import numpy as np

from .description import RobotDescription, get_robot
from .rotations import rotate_to_body
from .state import RobotState


class MujocoStateReader:
    """Read the `RobotState` a real robot would publish from a MuJoCo model and data.

    Reads only qpos, qvel, qacc and qfrc_actuator: after mj_step every other field of
    ``data`` (xquat, cvel, ...) still describes the state before the last substep. The
    accelerometer is the base's: qacc of the last substep less gravity, in the base frame.
    """

    def __init__(self, model: mujoco.MjModel, robot: Optional[RobotDescription] = None):
        """Resolve the base free joint and the robot's joints in ``model`` by name."""
        self.robot = robot or get_robot()
        body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, self.robot.base_body)
        if body < 0:
            raise ValueError(f'base_body {self.robot.base_body!r} is not a body of the model')
        jnt = int(model.body_jntadr[body])
        if jnt < 0 or int(model.jnt_type[jnt]) != mujoco.mjtJoint.mjJNT_FREE.value:
            raise ValueError(f'base_body {self.robot.base_body!r} has no free joint; '
                             'a floating-base robot is expected')
        self.base_qpos = int(model.jnt_qposadr[jnt])
        self.base_dof = int(model.jnt_dofadr[jnt])
        self.joint_qpos, self.joint_dof = joint_addresses(model, self.robot.joint_names)
        self.gravity = np.array(model.opt.gravity, dtype=np.float64)

    def read(self, data: mujoco.MjData) -> RobotState:
        """Snapshot of ``data`` as the robot's drivers and state estimator would publish it."""
        p, v, qpos, qvel = self.base_qpos, self.base_dof, data.qpos, data.qvel
        quat = qpos[p + 3:p + 7].copy()
        ang = qvel[v + 3:v + 6].copy()
        # World-frame linear velocity into the base frame: rotate by the inverse of the
        # (normalized: reset noise leaves it off unit length) orientation.
        inverse = quat.copy()
        mujoco.mju_normalize4(inverse)
        mujoco.mju_negQuat(inverse, inverse)
        lin, acc = np.empty(3), np.empty(3)
        mujoco.mju_rotVecQuat(lin, qvel[v:v + 3], inverse)
        mujoco.mju_rotVecQuat(acc, data.qacc[v:v + 3] - self.gravity, inverse)
        return RobotState(
            stamp=float(data.time),
            joint_positions=qpos[self.joint_qpos],
            joint_velocities=qvel[self.joint_dof],
            joint_efforts=data.qfrc_actuator[self.joint_dof],
            base_position=qpos[p:p + 3].copy(), base_orientation=quat,
            base_lin_vel=lin, base_ang_vel=ang,
            # The IMU sits at the base origin, aligned with it.
            imu_orientation=quat.copy(), imu_angular_velocity=ang.copy(),
            imu_linear_acceleration=acc)

    def qpos(self, state: RobotState, default: np.ndarray) -> np.ndarray:
        """Return the configuration vector of ``state`` (:meth:`read` inverted for positions).

        The base pose comes from odometry, the joints from the encoders; entries the state
        does not cover keep ``default`` (e.g. ``model.qpos0``).
        """
        if state.base_position is None or state.base_orientation is None:
            raise ValueError('a configuration needs the base pose: the state has no odometry')
        q = np.array(default, dtype=np.float64)
        p = self.base_qpos
        q[p:p + 3] = state.base_position
        q[p + 3:p + 7] = state.base_orientation
        q[self.joint_qpos] = state.joint_positions
        return q


def joint_addresses(model: mujoco.MjModel, joint_names: Sequence[str]
                    ) -> Tuple[np.ndarray, np.ndarray]:
    """Return (qpos addresses, dof addresses) of single-dof joints, in the given order."""
    qpos, dof = [], []
    for name in joint_names:
        j = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
        if j < 0:
            raise ValueError(f'joint {name!r} is not in the MuJoCo model')
        if int(model.jnt_type[j]) not in (mujoco.mjtJoint.mjJNT_HINGE.value,
                                          mujoco.mjtJoint.mjJNT_SLIDE.value):
            raise ValueError(f'joint {name!r} is not a hinge or slide joint')
        qpos.append(int(model.jnt_qposadr[j]))
        dof.append(int(model.jnt_dofadr[j]))
    return np.array(qpos, dtype=np.intp), np.array(dof, dtype=np.intp)


def with_push(state: RobotState, push: np.ndarray, period: float) -> RobotState:
    """Return ``state`` whose accelerometer felt a push of ``push`` (m/s, world) over ``period``.

    The sims push by adding to the base's velocity between two physics steps, which no
    qacc shows; a real push lasts a fraction of a control period or more, and a filtered
    IMU reports its mean acceleration over the period it fell in: push / period.
    """
    if state.imu_linear_acceleration is None or not np.any(push):
        return state
    felt = rotate_to_body(state.imu_orientation, np.asarray(push, dtype=np.float64) / period)
    return dataclasses.replace(state, imu_linear_acceleration=state.imu_linear_acceleration
                               + felt)


def state_from_mujoco(model: mujoco.MjModel, data: mujoco.MjData,
                      robot: Optional[RobotDescription] = None) -> RobotState:
    """One-off `MujocoStateReader.read` (a loop should keep a reader instead)."""
    return MujocoStateReader(model, robot).read(data)


__all__ = ['MujocoStateReader', 'joint_addresses', 'state_from_mujoco', 'with_push']

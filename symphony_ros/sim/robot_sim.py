"""The MuJoCo robot behind mujoco_sim_node: commands in, measured state out.

It steps the robot's own model exactly like the training environment (same model, same
frame skip), so a policy meets the same physics through ROS as in training. A torque robot
takes torques (ctrl = torque / gear clamped to ctrlrange). A pd_position robot's model
(`symphony_ros.robot.model`) has position servos; the sim drives them in one of two ways:

* ``command_input`` 'position' (a driver that runs the PD): ctrl = the joint targets and the
  servo gains = the kp, kd that came with them, so MuJoCo evaluates the PD in C at every
  physics step from that step's state, as the training env does (exact lockstep parity).
* ``command_input`` 'effort' (the watchdog's torque gate runs the PD): the servos become
  plain motors (gain 1, no bias, force limited to +-effort), ctrl = torque; the node then
  steps one physics step at a time and publishes every physics step's state, which the
  gate's PD needs (a broadcaster at the controller manager's rate on hardware).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Optional, Tuple

import mujoco
import numpy as np

from ..robot.description import RobotDescription, get_robot
from ..robot.falls import has_fallen
from ..robot.model import build_model, home_qpos
from ..robot.mujoco_state import MujocoStateReader, with_push
from ..robot.rotations import rotate_to_body, yaw
from ..robot.state import RobotState
from .config import SimConfig


class RobotSim:
    """A MuJoCo model of the robot advanced one control period at a time."""

    def __init__(self, cfg: SimConfig, robot: Optional[RobotDescription] = None) -> None:
        cfg.validate()
        self.cfg = cfg
        self.robot = robot or get_robot(cfg.robot)
        self.pd = self.robot.action_kind == 'pd_position'
        if self.pd:
            self.model = copy.copy(build_model(self.robot))   # gains change per command
            self._home = home_qpos(self.model, self.robot)
            # Targets are clamped as MuJoCo clamps ctrl: only on limited servos (a held
            # joint's is not).
            limited = self.model.actuator_ctrllimited.astype(bool)
            self._target_range = np.where(limited, self.model.actuator_ctrlrange.T,
                                          [[-np.inf], [np.inf]])
            if cfg.command_input == 'effort':
                effort = np.asarray(self.robot.effort_limits, dtype=np.float64)
                self.model.actuator_gainprm[:, 0] = 1.0
                self.model.actuator_biasprm[:, :3] = 0.0
                self.model.actuator_ctrlrange[:] = np.stack([-effort, effort], axis=1)
        else:
            self.model = mujoco.MjModel.from_xml_path(self.robot.mjcf_path)
            self._home = self.model.qpos0
        z = self.robot.healthy_z
        self.healthy_z = (cfg.healthy_z_min or z[0], cfg.healthy_z_max or z[1])
        """Base heights of a standing robot: the sim's parameters, else the robot file's."""
        self.data = mujoco.MjData(self.model)
        self.reader = MujocoStateReader(self.model, self.robot)
        self._base = self.model.body(self.robot.base_body).id
        self._base_dof = int(self.model.jnt_dofadr[self.model.body_jntadr[self._base]])
        self._base_qpos = int(self.model.jnt_qposadr[self.model.body_jntadr[self._base]])
        self.resets = 0
        self._push = np.zeros(3)
        """Kicks given since the last step (m/s, world), which the next step's IMU feels."""
        self._felt: Optional[Tuple[np.ndarray, float]] = None
        """(the kicks the last step's period held, its length in s): `with_push`; None: no
        step since the reset."""
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
        self.data.qpos[:] = self._home + rng.uniform(-k, k, self.model.nq)
        self.data.qvel[:] = rng.uniform(-k, k, self.model.nv)
        mujoco.mj_forward(self.model, self.data)
        self.resets += 1  # the number of the next episode, too
        self._push[:], self._felt = 0.0, None
        return self.state()

    def torque_to_ctrl(self, torque: np.ndarray) -> np.ndarray:
        """Actuator ctrl for joint torques (N*m): torque / gear, clamped to ctrlrange."""
        if self.pd:
            lo, hi = self.model.actuator_ctrlrange.T
            return np.minimum(np.maximum(torque, lo), hi)
        return self.robot.torque_to_ctrl(torque)

    def step(self, torque: Optional[np.ndarray], nstep: Optional[int] = None) -> RobotState:
        """Advance one control period (or ``nstep`` physics steps) with ``torque``.

        None or non-finite: zero torque. With position commands use :meth:`step_targets`.
        """
        if torque is None or len(torque) != self.robot.n_joints or not np.all(
                np.isfinite(torque)):
            torque = np.zeros(self.robot.n_joints)
        self.data.ctrl[:] = self.torque_to_ctrl(torque)
        nstep = nstep or self.robot.frame_skip
        mujoco.mj_step(self.model, self.data, nstep=nstep)
        self._stepped_for(nstep)
        return self.state()

    def step_targets(self, target: Optional[np.ndarray], kp: Optional[np.ndarray],
                     kd: Optional[np.ndarray]) -> RobotState:
        """Advance one control period with the servos on ``target`` at gains ``kp``, ``kd``.

        Anything missing, misshapen or non-finite: zero gains (no torque), never a stale PD.
        """
        n = self.robot.n_joints
        ok = all(v is not None and np.shape(v) == (n,) and np.all(np.isfinite(v))
                 for v in (target, kp, kd))
        if not ok:
            target, kp, kd = self.data.qpos[self.reader.joint_qpos], np.zeros(n), np.zeros(n)
        self.model.actuator_gainprm[:, 0] = kp
        self.model.actuator_biasprm[:, 1] = -np.asarray(kp)
        self.model.actuator_biasprm[:, 2] = -np.asarray(kd)
        lo, hi = self._target_range
        self.data.ctrl[:] = np.minimum(np.maximum(target, lo), hi)
        mujoco.mj_step(self.model, self.data, nstep=self.robot.frame_skip)
        self._stepped_for(self.robot.frame_skip)
        return self.state()

    def _stepped_for(self, nstep: int) -> None:
        self._felt = (self._push.copy(), nstep * self.robot.physics_dt)
        self._push[:] = 0.0

    def kick(self, velocity: Tuple[float, float]) -> None:
        """Add ``velocity`` (vx, vy) m/s, world frame, to the base's velocity (a push).

        The IMU feels it over the next step (`with_push`).
        """
        self.data.qvel[self._base_dof:self._base_dof + 2] += velocity
        self._push[:2] += velocity

    def heading(self) -> float:
        """Yaw of the base (rad): which way the robot faces."""
        return yaw(self.data.qpos[self._base_qpos + 3:self._base_qpos + 7])

    def state(self) -> RobotState:
        """Measured state as a robot with a state estimator would publish it.

        Until the first step after a reset the accelerometer reads the robot at rest
        (gravity's reaction alone): an IMU measures motion that happened, and there qacc is
        what the dynamics would do next (the G1, reset a millimetre into the floor, is pushed
        up at 47 m/s^2), which a robot held on its gantry, its state republished with fresh
        stamps, would otherwise report as long as it hangs. A kick reaches it over the
        step after it (`with_push`).
        """
        state = self.reader.read(self.data)
        if self._felt is not None:
            return with_push(state, *self._felt)
        return dataclasses.replace(state, imu_linear_acceleration=rotate_to_body(
            state.imu_orientation, -self.reader.gravity))

    def base_height(self) -> float:
        """Height of the base body origin (m)."""
        return float(self.data.xpos[self._base][2])

    def fallen(self) -> bool:
        """Return True when the base height or tilt says the robot fell.

        Height outside the healthy range, or tilt beyond the robot file's fall max_tilt (when
        it gives one): the training env's rule, so episodes end alike.
        """
        p = self.reader.base_qpos
        return has_fallen(self.base_height(), self.data.qpos[p + 3:p + 7], self.healthy_z,
                          self.robot.fall_max_tilt)

"""The one observation builder: policy input from a `RobotState`, for training and deployment.

The training environment (`symphony_ros.robot.envs`) and the deploy-side policy node both call
`ObservationBuilder.build`, so the vector a policy saw in training and the one it gets on the
robot come from the same code. Specs (layouts) live in `symphony_ros.robot.obs_specs`.
"""

from __future__ import annotations

from typing import Optional

import mujoco
import numpy as np

from .description import RobotDescription, get_robot
from .mujoco_state import joint_addresses
from .obs_specs import OBS_SPECS, ObservationSpec, get_obs_spec
from .rotations import projected_gravity
from .state import RobotState


def _field(spec: str, state: RobotState, name: str, size: int) -> np.ndarray:
    """Return ``state.<name>`` or raise naming the field, the spec and the expected size."""
    value = getattr(state, name)
    if value is None:
        raise ValueError(f'observation spec {spec!r} needs RobotState.{name} ({size} values), '
                         'got None')
    if not isinstance(value, np.ndarray):
        value = np.asarray(value, dtype=np.float64)
    if value.shape != (size,):
        raise ValueError(f'observation spec {spec!r}: RobotState.{name} expected shape '
                         f'({size},), got {np.shape(value)}')
    return value


def _prev_action(spec: str, prev_action: Optional[np.ndarray], n: int) -> np.ndarray:
    """Return ``prev_action`` or raise naming the spec and the expected size."""
    if prev_action is None:
        raise ValueError(f'observation spec {spec!r} needs prev_action ({n} values; '
                         'zeros before the first action), got None')
    if np.shape(prev_action) != (n,):
        raise ValueError(f'observation spec {spec!r}: prev_action expected shape ({n},), '
                         f'got {np.shape(prev_action)}')
    return prev_action


class _FullStateTerms:
    """Gymnasium Humanoid-v4 layout from measured state, via a private MuJoCo model."""

    def __init__(self, spec: ObservationSpec, robot: RobotDescription):
        self.spec, self.n = spec, robot.n_joints
        self.model = mujoco.MjModel.from_xml_path(robot.mjcf_path)
        # The output must depend on the given state only. mj_forward never updates
        # qacc_warmstart (mj_step does), so this is belt and braces: it also starts the contact
        # solver from the unconstrained acceleration rather than from zero.
        self.model.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_WARMSTART
        self.data = d = mujoco.MjData(self.model)
        body = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, robot.base_body)
        jnt = int(self.model.body_jntadr[body]) if body >= 0 else -1
        if jnt != 0 or int(self.model.jnt_type[0]) != mujoco.mjtJoint.mjJNT_FREE.value:
            raise ValueError(f'{spec.name}: base_body {robot.base_body!r} must carry the '
                             "model's first joint, a free joint (Gymnasium drops qpos[0:2])")
        self.joint_qpos, self.joint_dof = joint_addresses(self.model, robot.joint_names)
        sl = spec.slices()
        # Views into MjData, fetched once: each attribute access builds a new array object.
        self.qpos, self.qvel, self.qfrc_applied = d.qpos, d.qvel, d.qfrc_applied
        self.derived = ((sl['cinert'], d.cinert.reshape(-1)), (sl['cvel'], d.cvel.reshape(-1)),
                        (sl['cfrc_ext'], d.cfrc_ext.reshape(-1)))
        self.sl_qpos, self.sl_qvel, self.sl_qfrc = sl['qpos_without_xy'], sl['qvel'], \
            sl['qfrc_actuator']
        self.qfrc_joint = self.sl_qfrc.start + self.joint_dof
        self.sl_prev = sl.get('previous_action')
        self.quat = np.zeros(4)
        self.lin_world = np.zeros(3)

    def fill(self, state: RobotState, prev_action: Optional[np.ndarray], out: np.ndarray,
             command: Optional[np.ndarray] = None,
             gait_phase: Optional[np.ndarray] = None) -> None:
        name, n, quat, qpos, qvel = self.spec.name, self.n, self.quat, self.qpos, self.qvel
        quat[:] = _field(name, state, 'base_orientation', 4)
        # Leaves a unit quaternion bit-identical (MuJoCo skips |q| within 1e-15 of 1).
        mujoco.mju_normalize4(quat)
        if quat[0] < 0:
            # q and -q are one rotation; a policy sees one of them (MuJoCo's upright w > 0).
            np.negative(quat, out=quat)
        qpos[0:3] = _field(name, state, 'base_position', 3)
        qpos[3:7] = quat
        qpos[self.joint_qpos] = _field(name, state, 'joint_positions', n)
        # Odometry twist is in the base frame; MuJoCo's free joint wants world-frame linear
        # velocity and base-frame angular velocity.
        mujoco.mju_rotVecQuat(self.lin_world, _field(name, state, 'base_lin_vel', 3), quat)
        qvel[0:3] = self.lin_world
        qvel[3:6] = _field(name, state, 'base_ang_vel', 3)
        qvel[self.joint_dof] = _field(name, state, 'joint_velocities', n)
        efforts = _field(name, state, 'joint_efforts', n)
        # Measured torques enter as applied forces: the contact solve sees what the motors
        # did, with no round trip through ctrl = effort / gear and its clamp.
        self.qfrc_applied[self.joint_dof] = efforts
        mujoco.mj_forward(self.model, self.data)
        mujoco.mj_rnePostConstraint(self.model, self.data)
        out[self.sl_qpos] = qpos[2:]
        out[self.sl_qvel] = qvel
        for sl, values in self.derived:
            out[sl] = values
        out[self.sl_qfrc] = 0.0
        out[self.qfrc_joint] = efforts
        if self.sl_prev is not None:
            out[self.sl_prev] = _prev_action(name, prev_action, n)


class _ProprioceptiveTerms:
    """IMU, joint encoders and the previous action; no model needed."""

    def __init__(self, spec: ObservationSpec, robot: RobotDescription):
        self.spec, self.n = spec, robot.n_joints
        self.default = robot.default_pose()
        self.sl = spec.slices()

    def fill(self, state: RobotState, prev_action: Optional[np.ndarray], out: np.ndarray,
             command: Optional[np.ndarray] = None,
             gait_phase: Optional[np.ndarray] = None) -> None:
        name, n, sl = self.spec.name, self.n, self.sl
        out[sl['imu_angular_velocity']] = _field(name, state, 'imu_angular_velocity', 3)
        out[sl['projected_gravity']] = projected_gravity(
            _field(name, state, 'imu_orientation', 4))
        np.subtract(_field(name, state, 'joint_positions', n), self.default,
                    out=out[sl['joint_pos_rel']])
        out[sl['joint_vel']] = _field(name, state, 'joint_velocities', n)
        out[sl['previous_action']] = _prev_action(name, prev_action, n)
        if 'command' in sl:
            if command is None or np.shape(command) != (3,):
                raise ValueError(f'observation spec {name!r} needs command (vx, vy, yaw rate), '
                                 f'got {None if command is None else np.shape(command)}')
            out[sl['command']] = command
        if 'gait_phase' in sl:
            if gait_phase is None or np.shape(gait_phase) != (2,):
                raise ValueError(f'observation spec {name!r} needs gait_phase (sin, cos of the '
                                 'gait clock), got '
                                 f'{None if gait_phase is None else np.shape(gait_phase)}')
            out[sl['gait_phase']] = gait_phase
        if 'odom_lin_vel' in sl:
            out[sl['odom_lin_vel']] = _field(name, state, 'base_lin_vel', 3)


_TERMS = {'humanoid_v4_full': _FullStateTerms, 'humanoid_v4_action': _FullStateTerms,
          'humanoid_v4_torque': _FullStateTerms,
          'proprioceptive': _ProprioceptiveTerms,
          'velocity': _ProprioceptiveTerms, 'velocity_gait': _ProprioceptiveTerms,
          'velocity_gait_scaled': _ProprioceptiveTerms,
          'velocity_gait_turn': _ProprioceptiveTerms,
          'velocity_gait_odom': _ProprioceptiveTerms}


class ObservationBuilder:
    """Compute observation ``spec_name`` from measured robot state.

    Owns its MuJoCo model and data (for specs with derived terms): one builder per thread.
    """

    def __init__(self, spec_name: str, robot: Optional[RobotDescription] = None):
        """Prepare spec ``spec_name`` for ``robot``.

        :raises ValueError: unknown spec, or one that cannot be computed from measured state.
        """
        self.robot = robot or get_robot()
        self.spec = get_obs_spec(spec_name, self.robot)
        if not self.spec.reproducible_from_state:
            raise ValueError(
                f'observation spec {spec_name!r} cannot be computed from robot state: '
                f'{self.spec.description} Use one of: '
                f'{", ".join(n for n, s in OBS_SPECS.items() if s.reproducible_from_state)}')
        self._terms = _TERMS[spec_name](self.spec, self.robot)
        self._scale = self.spec.scale_vector()

    @property
    def dim(self) -> int:
        """Length of the observation vector."""
        return self.spec.dim

    def build(self, state: RobotState, prev_action: Optional[np.ndarray] = None,
              out: Optional[np.ndarray] = None, command: Optional[np.ndarray] = None,
              gait_phase: Optional[np.ndarray] = None) -> np.ndarray:
        """Return the observation (float64, shape [dim]) for ``state``, terms scaled.

        :param prev_action: the policy's previous action, robot joint order (zeros before the
            first one); required by specs that need 'previous_action', ignored by the others.
        :param out: optional float64 [dim] buffer to write into (and return) instead of a new
            array.
        :param command: velocity command (vx, vy, yaw rate) for specs that need 'command'.
        :param gait_phase: (sin, cos) of the gait clock (`GaitClock.observe`) for specs that
            need 'gait_clock'.
        :raises ValueError: a field the spec needs is None or mis-sized, or the result is not
            finite (naming the terms).
        """
        if out is None:
            out = np.empty(self.spec.dim)
        self._terms.fill(state, prev_action, out, command, gait_phase)
        if self._scale is not None:
            out *= self._scale
        if not np.isfinite(out).all():
            bad = [n for n, s in self.spec.slices().items() if not np.isfinite(out[s]).all()]
            raise ValueError(f'observation spec {self.spec.name!r}: non-finite values in '
                             f'terms {bad}')
        return out


__all__ = ['OBS_SPECS', 'ObservationBuilder', 'ObservationSpec', 'get_obs_spec']

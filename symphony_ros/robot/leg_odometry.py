"""Base odometry from the legs and the IMU: what a robot without a state estimator lacks.

A policy whose observation reads the base velocity or height (``odom`` among its inputs)
needs nav_msgs/Odometry, which no motor driver publishes. This estimator builds it from
what every humanoid does publish, the joint encoders and the IMU:

* **prediction** from the accelerometer: the world-frame acceleration is R f + g (f the
  specific force the IMU measures, R its orientation), integrated into velocity and
  position;
* **correction** from the stance legs: a foot on the ground does not move, so the base
  moves at v = -R (omega x r + J(q) dq) with r the foot's position in the base frame and
  J its Jacobian (forward kinematics of the robot's own MJCF); the lowest foot, and every
  foot within ``stance_band`` of it, counts as standing;
* the **height** from the same stance feet: the base stands as high above the lowest
  foot's sole as the kinematics put it.

Each world axis is a Kalman filter of position and velocity, driven by the accelerometer,
corrected by the legs' velocity (and on z by the height): the legs hold the integration's
drift and accelerometer bias, the accelerometer fills the steps where no foot stands still
(a slipping or landing foot, a kick). The horizontal position is dead reckoning and drifts
like any odometry; the orientation and angular velocity are the IMU's. The IMU is taken at
the base origin, aligned with the base (as `MujocoStateReader` publishes it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import mujoco
import numpy as np

from .description import RobotDescription, no_feet
from .model import build_model, home_qpos
from .mujoco_state import joint_addresses
from .rotations import normalize, rotation_matrix
from .state import RobotState


@dataclass(frozen=True)
class LegOdometryConfig:
    """Noise figures of the filter (standard deviations) and the stance rule."""

    accel_noise: float = 2.0
    """m/s^2 of the accelerometer's world-frame acceleration (impacts, vibration, bias)."""
    leg_velocity_noise: float = 0.3
    """m/s of one stance foot's velocity measurement (slip, joint-velocity noise)."""
    height_noise: float = 0.02
    """m of the kinematic base height (a foot on its heel or toe, an uneven floor)."""
    stance_band: float = 0.03
    """m: a foot this close in height to the lowest foot stands on the ground too."""

    def validate(self) -> None:
        """Raise ValueError naming a field that is not a positive number."""
        for name in ('accel_noise', 'leg_velocity_noise', 'height_noise', 'stance_band'):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0.0):
                raise ValueError(f'leg odometry: {name} must be a positive number, got {value}')


class LegKinematics:
    """Each foot's lowest sole point relative to the base, from the robot's own MJCF.

    A foot rolling onto its heel or toe pivots about that edge, which stays still while the
    foot's origin moves: so the point taken as standing is the bottom of the lowest of the
    foot's collision spheres and capsule ends, not the body origin, nor the sphere's centre
    (a sphere rolling on the floor rests where it touches it while its centre moves: told
    0.5 m/s, taking the centre under-read the G1's walk by 0.062 m/s, the bottom by 0.041).
    A foot with no such geoms falls back to the point its origin's standing height below it.
    """

    def __init__(self, robot: RobotDescription) -> None:
        """Resolve the robot's feet, their sole points and its joints in its model.

        :raises ValueError: the robot file names no feet.
        """
        refusal = no_feet(robot)
        if refusal:
            raise ValueError(f'leg odometry: {refusal}')
        self.robot = robot
        self.model = build_model(robot)
        self.data = mujoco.MjData(self.model)
        self.foot_bodies = [self.model.body(name).id for name in robot.feet]
        self._qpos, self._dof = joint_addresses(self.model, robot.joint_names)
        self._base = self.model.body(robot.base_body).id
        self._base_qpos = int(self.model.jnt_qposadr[int(self.model.body_jntadr[self._base])])
        self._jac = np.zeros((3, self.model.nv))
        self.soles = [self._sole_points(b) for b in self.foot_bodies]
        """Per foot: ([k, 3] points in the foot frame, [k] their height above the floor
        when they touch it)."""

    def _sole_points(self, body: int) -> Tuple[np.ndarray, np.ndarray]:
        m, points, radii = self.model, [], []
        for g in np.flatnonzero(m.geom_bodyid == body):
            if not (m.geom_contype[g] or m.geom_conaffinity[g]):
                continue                                # visual only
            kind, radius = int(m.geom_type[g]), float(m.geom_size[g][0])
            ends = [0.0]
            if kind == mujoco.mjtGeom.mjGEOM_CAPSULE:
                ends = [-float(m.geom_size[g][1]), float(m.geom_size[g][1])]
            elif kind != mujoco.mjtGeom.mjGEOM_SPHERE:
                continue
            axis = np.empty(3)
            mujoco.mju_rotVecQuat(axis, np.array([0.0, 0.0, 1.0]), m.geom_quat[g])
            for e in ends:
                points.append(m.geom_pos[g] + e * axis)
                radii.append(radius)
        if points:
            return np.array(points), np.array(radii)
        d = self.data                                   # the origin, at its standing height
        d.qpos[:] = home_qpos(m, self.robot)
        mujoco.mj_kinematics(m, d)
        return np.zeros((1, 3)), np.array([float(d.xpos[body][2])])

    def feet(self, joint_positions: np.ndarray, joint_velocities: np.ndarray,
             up: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Return [n_feet, 3] positions and velocities of the feet's sole points, base frame.

        The point of each foot is the bottom, along ``up`` (the world's z axis in the base
        frame), of its sphere lowest along it: on the floor when the foot stands.
        """
        d, b = self.data, self._base_qpos
        d.qpos[:] = 0.0
        d.qpos[b + 3] = 1.0
        d.qpos[self._qpos] = joint_positions
        mujoco.mj_kinematics(self.model, d)
        mujoco.mj_comPos(self.model, d)
        base = d.xpos[self._base]
        n = len(self.foot_bodies)
        positions, velocities = np.empty((n, 3)), np.empty((n, 3))
        for i, (foot, (local, radius)) in enumerate(zip(self.foot_bodies, self.soles)):
            points = d.xpos[foot] + local @ d.xmat[foot].reshape(3, 3).T
            k = int(np.argmin(points @ up - radius))
            sole = points[k] - radius[k] * up
            positions[i] = sole - base
            mujoco.mj_jac(self.model, d, self._jac, None, sole, foot)
            velocities[i] = self._jac[:, self._dof] @ joint_velocities
        return positions, velocities


class LegOdometry:
    """Fuse the IMU and the legs into the base pose and twist (see the module docstring).

    :meth:`update` takes each `RobotState` with joints and IMU and returns it with the base
    fields filled; the first call starts the filter at the legs' velocity and height.
    """

    def __init__(self, robot: RobotDescription,
                 config: Optional[LegOdometryConfig] = None) -> None:
        """Build the kinematics of ``robot``; :raises ValueError: as `LegKinematics`."""
        self.config = config or LegOdometryConfig()
        self.config.validate()
        self.kinematics = LegKinematics(robot)
        self.gravity = np.array(self.kinematics.model.opt.gravity, dtype=np.float64)
        self.reset()

    def reset(self) -> None:
        """Forget the estimate: the next update starts again from the legs."""
        self.position = np.zeros(3)
        self.velocity = np.zeros(3)
        self.covariance = np.zeros((3, 2, 2))
        self.stamp: Optional[float] = None

    def update(self, state: RobotState) -> RobotState:
        """Return ``state`` with base position, orientation, linear and angular velocity.

        :raises ValueError: the state has no IMU orientation or angular velocity.
        """
        if state.imu_orientation is None or state.imu_angular_velocity is None:
            raise ValueError('leg odometry needs the IMU orientation and angular velocity')
        quat = normalize(np.asarray(state.imu_orientation, dtype=np.float64))
        rot = rotation_matrix(quat)
        omega = np.asarray(state.imu_angular_velocity, dtype=np.float64)
        if self.stamp is None:
            legs_v, legs_w, height = self._legs(state, rot, omega, None)
            self._start(legs_v, height)
        else:
            dt = max(float(state.stamp) - self.stamp, 0.0)
            self._predict(self._acceleration(state, rot), dt)
            legs_v, legs_w, height = self._legs(state, rot, omega, self.velocity)
            self._correct_velocity(legs_v, legs_w)
            self._correct_height(height, legs_w)
        self.stamp = float(state.stamp)
        return state.with_odometry({
            'base_position': self.position.copy(), 'base_orientation': quat,
            'base_lin_vel': rot.T @ self.velocity, 'base_ang_vel': omega.copy()})

    def _legs(self, state: RobotState, rot: np.ndarray, omega: np.ndarray,
              predicted: Optional[np.ndarray]) -> Tuple[np.ndarray, float, float]:
        """Return the base velocity (world) and height the stance feet say, and their weight.

        Feet within the stance band that disagree are a landing or lifting foot beside the
        standing one: the foot whose velocity is nearest the prediction stands, and the
        others count as far as they agree with it (within ``leg_velocity_noise``). One foot
        alone in the band is believed whatever the prediction: a kick the accelerometer
        missed (a robot's, filtered away) is corrected by it.
        """
        r, v = self.kinematics.feet(
            np.asarray(state.joint_positions, dtype=np.float64),
            np.asarray(state.joint_velocities, dtype=np.float64), rot[2])
        below = (r @ rot.T)[:, 2]                      # soles' heights relative to the base
        stance = 1.0 - (below - below.min()) / self.config.stance_band
        weight = np.clip(stance, 0.0, 1.0)
        base_v = -(np.cross(omega, r) + v) @ rot.T     # per foot, world frame
        candidates = np.flatnonzero(weight > 0.0)
        if predicted is not None and len(candidates) > 1:
            best = candidates[np.argmin(np.linalg.norm(base_v[candidates] - predicted, axis=1))]
            spread = np.linalg.norm(base_v - base_v[best], axis=1)
            weight *= np.exp(-0.5 * (spread / self.config.leg_velocity_noise) ** 2)
        total = float(weight.sum())
        velocity = weight @ base_v / total
        height = -float(below.min())
        return velocity, total, height

    def _acceleration(self, state: RobotState, rot: np.ndarray) -> Optional[np.ndarray]:
        if state.imu_linear_acceleration is None:
            return None
        return rot @ np.asarray(state.imu_linear_acceleration, dtype=np.float64) + self.gravity

    def _start(self, velocity: np.ndarray, height: float) -> None:
        self.position = np.array([0.0, 0.0, height])
        self.velocity = velocity.copy()
        c = self.config
        self.covariance[:] = np.diag([c.height_noise ** 2, c.leg_velocity_noise ** 2])

    def _predict(self, acceleration: Optional[np.ndarray], dt: float) -> None:
        """Advance by ``dt``: x <- F x + B a, P <- F P F' + Q (Q: white acceleration noise).

        Without an accelerometer the prediction holds the velocity (a = 0) and the legs
        carry the estimate alone.
        """
        a = np.zeros(3) if acceleration is None else acceleration
        self.position += self.velocity * dt + 0.5 * a * dt * dt
        self.velocity += a * dt
        f = np.array([[1.0, dt], [0.0, 1.0]])
        g = np.array([0.5 * dt * dt, dt])
        q = self.config.accel_noise ** 2 * np.outer(g, g)
        self.covariance = f @ self.covariance @ f.T + q

    def _correct_velocity(self, measured: np.ndarray, weight: float) -> None:
        variance = self.config.leg_velocity_noise ** 2 / max(weight, 1e-6)
        for axis in range(3):
            self._correct(axis, 1, measured[axis], variance)

    def _correct_height(self, measured: float, weight: float) -> None:
        self._correct(2, 0, measured, self.config.height_noise ** 2 / max(weight, 1e-6))

    def _correct(self, axis: int, which: int, measured: float, variance: float) -> None:
        """Scalar Kalman update of state component ``which`` (0 position, 1 velocity)."""
        p = self.covariance[axis]
        gain = p[:, which] / (p[which, which] + variance)
        state = np.array([self.position[axis], self.velocity[axis]])
        state += gain * (measured - state[which])
        self.position[axis], self.velocity[axis] = state
        self.covariance[axis] = p - np.outer(gain, p[which, :])


__all__ = ['LegKinematics', 'LegOdometry', 'LegOdometryConfig']

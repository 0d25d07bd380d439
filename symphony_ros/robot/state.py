"""What the deploy side knows about the robot at one instant: `RobotState`.

Frames and conventions (the same in simulation and on hardware):

* ``base_position``: base (``RobotDescription.base_body``) origin in the odometry frame, z up
  (nav_msgs/Odometry ``pose.pose.position``, in ``header.frame_id``).
* ``base_orientation``: base orientation in the odometry frame, (w, x, y, z).
* ``base_lin_vel``, ``base_ang_vel``: base twist expressed in the base frame, as
  nav_msgs/Odometry carries it (``twist`` is in ``child_frame_id``). MuJoCo's free joint differs:
  qvel[0:3] is the linear velocity in the world frame, qvel[3:6] the angular velocity in the body
  frame; `robot.mujoco_state` and the observation builder convert.
* ``imu_*``: sensor_msgs/Imu; orientation (w, x, y, z) relative to a z-up world frame,
  angular velocity and linear acceleration in the IMU frame, which is assumed to coincide with
  the base frame.
* joint arrays: in the robot's joint order (actuator = action order), radians, rad/s, N*m.

Message-shaped data enters through `odometry_to_base`, `imu_to_arrays` and `JointStateMapper`;
this module imports neither rclpy nor MuJoCo: the ROS nodes pull the fields out of their
messages, and the watchdog, which needs only this, loads no physics engine.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from .description import RobotDescription, get_robot
from .rotations import normalize, rotate_to_body, xyzw_to_wxyz


@dataclass(frozen=True)
class RobotState:
    """One snapshot of measured robot state; see the module docstring for frames and units.

    Fields a robot does not measure are None (no odometry without a state estimator, no
    efforts from some drivers); an observation spec states which ones it needs.
    """

    stamp: float
    """Seconds (simulation time, or the message header stamp)."""
    joint_positions: np.ndarray
    joint_velocities: np.ndarray
    joint_efforts: Optional[np.ndarray] = None
    base_position: Optional[np.ndarray] = None
    base_orientation: Optional[np.ndarray] = None
    base_lin_vel: Optional[np.ndarray] = None
    base_ang_vel: Optional[np.ndarray] = None
    imu_orientation: Optional[np.ndarray] = None
    imu_angular_velocity: Optional[np.ndarray] = None
    imu_linear_acceleration: Optional[np.ndarray] = None

    def with_odometry(self, odom: Dict[str, np.ndarray]) -> 'RobotState':
        """Return a copy with the base fields replaced (``odom`` from `odometry_to_base`)."""
        return replace(self, **odom)

    def with_imu(self, imu: Dict[str, np.ndarray]) -> 'RobotState':
        """Return a copy with the IMU fields replaced (``imu`` from `imu_to_arrays`)."""
        return replace(self, **imu)


def _vector(name: str, value: Sequence[float], size: int) -> np.ndarray:
    """Return ``value`` as a finite float64 vector of ``size`` or raise naming the field."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (size,):
        raise ValueError(f'{name}: expected {size} values, got shape {arr.shape}')
    if not np.all(np.isfinite(arr)):
        raise ValueError(f'{name}: expected finite values, got {arr.tolist()}')
    return arr


def _quaternion_xyzw(name: str, value: Sequence[float]) -> np.ndarray:
    """Return the unit (w, x, y, z) quaternion of a ROS (x, y, z, w) one; raise naming it."""
    q = _vector(name, value, 4)
    try:
        return normalize(xyzw_to_wxyz(q))
    except ValueError as exc:
        raise ValueError(f'{name}: expected a nonzero (x, y, z, w) quaternion: {exc}') from None


def joint_jump(positions: np.ndarray, velocities: np.ndarray, next_positions: np.ndarray,
               gap: float) -> float:
    """Return how far (rad) ``next_positions`` lie from where ``gap`` s at ``velocities`` put them.

    The largest over the joints: near 0 for a joint driven between two states, large for
    a robot put somewhere else between them (a sim's reset).
    """
    reached = np.asarray(positions, dtype=np.float64) + np.asarray(velocities) * gap
    return float(np.max(np.abs(np.asarray(next_positions, dtype=np.float64) - reached)))


def odometry_to_base(position: Sequence[float], orientation_xyzw: Sequence[float],
                     linear: Sequence[float], angular: Sequence[float],
                     twist_frame: str = 'child') -> Dict[str, np.ndarray]:
    """Convert nav_msgs/Odometry fields to the base fields of `RobotState`.

    :param position: ``pose.pose.position`` (x, y, z) in the odometry frame (z up).
    :param orientation_xyzw: ``pose.pose.orientation`` as ROS orders it, (x, y, z, w).
    :param linear: ``twist.twist.linear``.
    :param angular: ``twist.twist.angular``.
    :param twist_frame: 'child' (REP 105: the twist is in ``child_frame_id``, the base frame)
        or 'parent' for estimators that publish it in the odometry frame; either way the
        result is in the base frame.
    :raises ValueError: a field with the wrong size, non-finite values, a zero quaternion or
        an unknown ``twist_frame``.
    """
    q = _quaternion_xyzw('odometry orientation', orientation_xyzw)
    lin = _vector('odometry twist linear', linear, 3)
    ang = _vector('odometry twist angular', angular, 3)
    if twist_frame == 'parent':
        lin, ang = rotate_to_body(q, lin), rotate_to_body(q, ang)
    elif twist_frame != 'child':
        raise ValueError(f"twist_frame: expected 'child' or 'parent', got {twist_frame!r}")
    return {'base_position': _vector('odometry position', position, 3),
            'base_orientation': q, 'base_lin_vel': lin, 'base_ang_vel': ang}


def imu_to_arrays(orientation_xyzw: Sequence[float], angular_velocity: Sequence[float],
                  linear_acceleration: Optional[Sequence[float]] = None
                  ) -> Dict[str, Optional[np.ndarray]]:
    """Convert sensor_msgs/Imu fields to the IMU fields of `RobotState`.

    :param orientation_xyzw: ``orientation`` as ROS orders it, (x, y, z, w).
    :param angular_velocity: ``angular_velocity`` in the IMU frame, rad/s.
    :param linear_acceleration: ``linear_acceleration`` in the IMU frame, or None.
    :raises ValueError: a field with the wrong size, non-finite values or a zero quaternion.
    """
    acc = (None if linear_acceleration is None
           else _vector('imu linear_acceleration', linear_acceleration, 3))
    return {'imu_orientation': _quaternion_xyzw('imu orientation', orientation_xyzw),
            'imu_angular_velocity': _vector('imu angular_velocity', angular_velocity, 3),
            'imu_linear_acceleration': acc}


class JointStateMapper:
    """Reorder sensor_msgs/JointState arrays (any name order) into the robot's joint order.

    The permutation is cached per name list, since a driver publishes the same names every
    message.
    """

    def __init__(self, robot: Optional[RobotDescription] = None, ignore_unknown: bool = False):
        """Map to ``robot``'s joints; ``ignore_unknown`` drops joints the robot lacks."""
        self.robot = robot or get_robot()
        self.ignore_unknown = ignore_unknown
        self._names: Tuple[str, ...] = ()
        self._index = np.zeros(0, dtype=np.intp)

    def index(self, names: Sequence[str]) -> np.ndarray:
        """Return the indices into the message arrays that give the robot's joint order.

        :raises ValueError: naming missing, duplicate or (unless ignored) unknown joints.
        """
        names = tuple(names)
        if names == self._names:
            return self._index
        where = {}
        for i, n in enumerate(names):
            if n in where:
                raise ValueError(f'joint_state name: {n!r} appears more than once')
            where[n] = i
        missing = [n for n in self.robot.joint_names if n not in where]
        unknown = [n for n in names if n not in self.robot.joint_names]
        problems = []
        if missing:
            problems.append(f'missing joints {missing}')
        if unknown and not self.ignore_unknown:
            problems.append(f'unknown joints {unknown}')
        if problems:
            raise ValueError(f'joint_state name: {"; ".join(problems)}; robot '
                             f'{self.robot.name!r} expects {list(self.robot.joint_names)}')
        self._index = np.array([where[n] for n in self.robot.joint_names], dtype=np.intp)
        self._names = names
        return self._index

    def _field(self, field: str, values: Optional[Sequence[float]], n_names: int,
               index: np.ndarray) -> Optional[np.ndarray]:
        # JointState leaves an array empty when the driver does not report that quantity.
        if values is None or len(values) == 0:
            return None
        arr = np.asarray(values, dtype=np.float64)
        if arr.shape != (n_names,):
            raise ValueError(f'joint_state {field}: expected {n_names} values (one per name), '
                             f'got shape {arr.shape}')
        out = arr[index]
        if not np.all(np.isfinite(out)):
            raise ValueError(f'joint_state {field}: expected finite values, got {out.tolist()}')
        return out

    def reorder(self, names: Sequence[str], position: Sequence[float],
                velocity: Sequence[float], effort: Optional[Sequence[float]] = None
                ) -> Dict[str, Optional[np.ndarray]]:
        """Return ``joint_positions``, ``joint_velocities``, ``joint_efforts`` in robot order.

        An empty effort array (the driver does not report efforts) gives ``joint_efforts``
        None; positions and velocities are required.

        :raises ValueError: naming the joints or the field that is wrong.
        """
        index = self.index(names)
        n = len(names)
        pos = self._field('position', position, n, index)
        vel = self._field('velocity', velocity, n, index)
        if pos is None or vel is None:
            raise ValueError('joint_state position and velocity: expected one value per name, '
                             'got an empty array')
        return {'joint_positions': pos, 'joint_velocities': vel,
                'joint_efforts': self._field('effort', effort, n, index)}


def joint_state_to_arrays(names: Sequence[str], position: Sequence[float],
                          velocity: Sequence[float], effort: Optional[Sequence[float]] = None,
                          robot: Optional[RobotDescription] = None
                          ) -> Dict[str, Optional[np.ndarray]]:
    """One-off `JointStateMapper.reorder` (a control loop should keep a mapper instead)."""
    return JointStateMapper(robot).reorder(names, position, velocity, effort)


__all__ = ['JointStateMapper', 'RobotState', 'imu_to_arrays', 'joint_state_to_arrays',
           'joint_jump', 'odometry_to_base']

"""Observation specs: the named, ordered layouts of a policy's input vector.

A spec says which terms make up the observation, in which order and frames, and which
measured inputs it needs. `symphony_ros.robot.observations.ObservationBuilder` computes it;
``to_dict()`` goes into a trained policy's metadata so the deploy side builds the same vector.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import mujoco
import numpy as np

from ..util.layout import term_slices
from .description import RobotDescription, get_robot

INPUTS = ('odom', 'imu', 'joint_states', 'joint_efforts', 'previous_action', 'command',
          'gait_clock', 'simulator')
"""What a spec may need: nav_msgs/Odometry; sensor_msgs/Imu; sensor_msgs/JointState positions
and velocities; its efforts too; the policy's previous action; a velocity command (vx, vy,
yaw rate; geometry_msgs/Twist on a robot); the policy's own gait clock (its control ticks
times the control period, modulo the gait period: nothing measured); or the simulator itself
(a spec that cannot be computed from measured state)."""

QUATERNION_CONVENTION = 'wxyz'
"""Order of every quaternion inside an observation (MuJoCo's); ROS messages carry xyzw."""


@dataclass(frozen=True)
class ObservationSpec:
    """Layout of one observation vector."""

    name: str
    terms: Tuple[Tuple[str, int], ...]
    """Ordered (term name, size) pairs."""
    needs: Tuple[str, ...]
    """Inputs it is computed from, names from `INPUTS`."""
    reproducible_from_state: bool
    """False for an observation only a simulator can produce (no policy using it deploys)."""
    robot: str
    description: str
    frames: Dict[str, str] = field(default_factory=dict)
    """Term name -> frame and units of that term."""
    scales: Dict[str, Tuple[float, ...]] = field(default_factory=dict)
    """Term name -> factor per element, applied to the term in the units of ``frames``; a
    term not named is unscaled. Sensor noise is drawn in those units and scaled alike."""

    @property
    def dim(self) -> int:
        """Length of the observation vector."""
        return sum(size for _, size in self.terms)

    def slices(self) -> Dict[str, slice]:
        """Term name -> its slice of the observation vector."""
        return term_slices(self.terms)

    def scale_vector(self) -> Optional[np.ndarray]:
        """Return the factor of each observation element, None when no term is scaled."""
        if not self.scales:
            return None
        out = np.ones(self.dim)
        for name, sl in self.slices().items():
            if name in self.scales:
                out[sl] = self.scales[name]
        return out

    def to_dict(self) -> Dict[str, object]:
        """JSON-friendly form, for ONNX metadata and reports (``scales`` only when some)."""
        out = {'name': self.name, 'dim': self.dim, 'robot': self.robot,
               'terms': [[n, s] for n, s in self.terms], 'needs': list(self.needs),
               'reproducible_from_state': self.reproducible_from_state,
               'quaternion_convention': QUATERNION_CONVENTION,
               'frames': dict(self.frames), 'description': self.description}
        if self.scales:
            out['scales'] = {n: list(v) for n, v in self.scales.items()}
        return out


@functools.lru_cache(maxsize=None)
def model_dims(mjcf_path: str) -> Tuple[int, int, int]:
    """Return (nq, nv, nbody) of an MJCF model (the world body counts, as in MjData)."""
    model = mujoco.MjModel.from_xml_path(mjcf_path)
    return int(model.nq), int(model.nv), int(model.nbody)


_GYM_TERMS_FRAMES = {
    'qpos_without_xy': 'base z (m, odometry frame), base quaternion wxyz (odometry frame), '
                       'joint angles (rad) in MJCF joint order',
    'qvel': 'MuJoCo free-joint velocity: linear (m/s, world frame), angular (rad/s, base '
            'frame); joint velocities (rad/s) in MJCF joint order',
    'cinert': 'per body (world first): MuJoCo cinert, 10 numbers, com-based, world axes',
    'cvel': 'per body: MuJoCo cvel [angular, linear], com-based, world axes',
    'qfrc_actuator': 'generalized actuator force per dof (N*m; 0 on the free joint)',
    'cfrc_ext': 'per body: MuJoCo cfrc_ext [torque, force] of contacts, com-based, world axes',
}


def _gym_terms(robot: RobotDescription) -> Tuple[Tuple[str, int], ...]:
    nq, nv, nbody = model_dims(robot.mjcf_path)
    return (('qpos_without_xy', nq - 2), ('qvel', nv), ('cinert', 10 * nbody),
            ('cvel', 6 * nbody), ('qfrc_actuator', nv), ('cfrc_ext', 6 * nbody))


def humanoid_v4_full(robot: RobotDescription) -> ObservationSpec:
    """Gymnasium Humanoid-v4's layout, computed from measured state (deployable)."""
    return ObservationSpec(
        name='humanoid_v4_full', terms=_gym_terms(robot),
        needs=('odom', 'joint_states', 'joint_efforts'), reproducible_from_state=True,
        robot=robot.name, frames=dict(_GYM_TERMS_FRAMES),
        description='Gymnasium Humanoid-v4 layout; the derived terms (cinert, cvel, '
                    'cfrc_ext) come from the MuJoCo model driven by the current measured '
                    'state (mj_forward, mj_rnePostConstraint); the quaternion is taken with '
                    'w >= 0; joint efforts are the applied actuator torques.')


def gym_humanoid_v4(robot: RobotDescription) -> ObservationSpec:
    """Gymnasium's own Humanoid-v4 observation: simulator-only, not deployable."""
    return ObservationSpec(
        name='gym_humanoid_v4', terms=_gym_terms(robot), needs=('simulator',),
        reproducible_from_state=False, robot=robot.name, frames=dict(_GYM_TERMS_FRAMES),
        description='Vanilla Gymnasium Humanoid-v4 observation (for reproducing published '
                    'results): its derived terms are read after mj_step, from the state '
                    'before the last substep, so no measured state reproduces them.')


def proprioceptive(robot: RobotDescription) -> ObservationSpec:
    """Return what a humanoid measures without a state estimator: joints, IMU, last action."""
    n = robot.n_joints
    return ObservationSpec(
        name='proprioceptive',
        terms=(('imu_angular_velocity', 3), ('projected_gravity', 3),
               ('joint_pos_rel', n), ('joint_vel', n), ('previous_action', n)),
        needs=('imu', 'joint_states', 'previous_action'), reproducible_from_state=True,
        robot=robot.name,
        frames={'imu_angular_velocity': 'rad/s, IMU frame (= base frame)',
                'projected_gravity': 'unit gravity direction in the IMU frame, from the IMU '
                                     'orientation; (0, 0, -1) upright',
                'joint_pos_rel': 'rad, joint position minus the default pose, robot joint '
                                 'order (= action order)',
                'joint_vel': 'rad/s, robot joint order',
                'previous_action': 'the policy output of the previous step as sent to the '
                                   'robot, before clipping; zeros after reset'},
        description='Proprioception only: IMU angular velocity and projected gravity, joint '
                    'positions relative to the default pose, joint velocities, previous '
                    'action.')


def _extend(base: ObservationSpec, name: str, term: Tuple[str, int], need: str,
            frame: str, description: str) -> ObservationSpec:
    """Return ``base`` with one more term at its end, computed from input ``need``."""
    return ObservationSpec(
        name=name, terms=base.terms + (term,), needs=base.needs + (need,),
        reproducible_from_state=base.reproducible_from_state, robot=base.robot,
        frames={**base.frames, term[0]: frame}, description=f'{base.description} {description}')


def humanoid_v4_action(robot: RobotDescription) -> ObservationSpec:
    """Return Humanoid-v4's measured-state layout plus the previous action.

    Under action delay the command still pending is part of the state; without it in the
    observation the policy cannot tell what its motors are about to do.
    """
    return _extend(humanoid_v4_full(robot), 'humanoid_v4_action',
                   ('previous_action', robot.n_joints), 'previous_action',
                   'the policy output of the previous step as sent to the robot, before '
                   'clipping; zeros after reset',
                   'Then the previous action.')


def humanoid_v4_torque(robot: RobotDescription) -> ObservationSpec:
    """Return 'humanoid_v4_action' with the previous action as the torque it asks for.

    Scaled by each joint's gear (N*m, as qfrc_actuator): raw, the previous action (rms ~0.3
    over 17 values) weighs about 1e-5 of the first layer's input next to the contact forces
    and torques (rms 34-59 over 107), too little for an actor to learn from; as torques it
    weighs as much as the measured ones.
    """
    base = humanoid_v4_action(robot)
    return dataclasses.replace(
        base, name='humanoid_v4_torque',
        scales={'previous_action': tuple(float(g) for g in robot.gear)},
        description=f'{base.description} The previous action is scaled by the joint gears: '
                    'the torque it asks for (N*m, before clipping).')


def velocity(robot: RobotDescription) -> ObservationSpec:
    """Proprioception plus the velocity command the policy is asked to follow."""
    return _extend(proprioceptive(robot), 'velocity', ('command', 3), 'command',
                   'commanded base velocity in the base frame, heading-free: vx, vy (m/s), yaw '
                   'rate (rad/s); geometry_msgs/Twist linear.x, linear.y, angular.z',
                   'Then the velocity command (vx, vy, yaw rate).')


def velocity_gait(robot: RobotDescription) -> ObservationSpec:
    """Return the velocity observation plus a gait clock, so a stepping rhythm can be rewarded.

    A reward that asks each foot to be down or up at given phases is only learnable if the
    policy sees the phase; the clock is the policy's own (nothing on the robot measures it).
    """
    return _extend(velocity(robot), 'velocity_gait', ('gait_phase', 2), 'gait_clock',
                   'sin and cos of 2 pi phase, phase in [0, 1) = (control ticks since the '
                   'policy started x control period / task.gait_period) mod 1 (training: from '
                   'a tick drawn at each reset); the left foot swings in the second part of '
                   'the cycle, the right foot half a cycle later',
                   'Then the gait clock (sin, cos of its phase).')


VELOCITY_SCALES = {'imu_angular_velocity': 0.25, 'joint_vel': 0.05, 'command': (2.0, 2.0, 0.25)}
"""legged_gym's and unitree_rl_gym's observation scales (the G1's among them): raw, the joint
velocities (rms ~1.3 rad/s over 29 joints) outweigh the command (rms ~0.35 over 3) about
fifty-fold in the first layer's input, and the joint positions (rms ~0.09) too; scaled, the
command weighs most and the posture is seen."""


TURN_SCALES = dict(VELOCITY_SCALES, imu_angular_velocity=(0.25, 0.25, 1.0),
                   command=(2.0, 2.0, 1.0))
"""`VELOCITY_SCALES` with both yaw rates (the IMU's and the command's) at x1: at x0.25 a
command to turn at 0.5 rad/s is 0.125 of input beside 1.0 for walking at 0.5 m/s, and G1
actors trained on it barely answer it (their legs' targets move a fifth as much for a yaw
command of 0.5 rad/s as for a forward one of 0.5 m/s); learning grows a column by about the
same step whatever its input's size, so a faint input is learnt slowly."""


def _scaled(base: ObservationSpec, name: str, factors: Dict[str, Any],
            text: str) -> ObservationSpec:
    n = dict(base.terms)
    scales = {term: (tuple(float(v) for v in f) if isinstance(f, tuple)
                     else (float(f),) * n[term]) for term, f in factors.items()}
    return dataclasses.replace(base, name=name, scales=scales,
                               description=f'{base.description} Scaled: {text}.')


def velocity_gait_scaled(robot: RobotDescription) -> ObservationSpec:
    """Return 'velocity_gait' with the terms scaled to comparable sizes (`VELOCITY_SCALES`)."""
    return _scaled(velocity_gait(robot), 'velocity_gait_scaled', VELOCITY_SCALES,
                   'IMU angular velocity x0.25, joint velocities x0.05, command x(2, 2, 0.25) '
                   '(legged_gym\'s scales)')


def velocity_gait_turn(robot: RobotDescription) -> ObservationSpec:
    """Return 'velocity_gait_scaled' with the yaw rates unscaled (`TURN_SCALES`)."""
    return _scaled(velocity_gait(robot), 'velocity_gait_turn', TURN_SCALES,
                   'IMU angular velocity x(0.25, 0.25, 1), joint velocities x0.05, command '
                   'x(2, 2, 1) (legged_gym\'s scales, the yaw rates unscaled)')


ODOM_LIN_VEL_SCALE = 2.0
"""legged_gym's scale of the base linear velocity, the same as the command's vx and vy: the
velocity the robot has and the one it is told weigh alike in the first layer."""


def velocity_gait_odom(robot: RobotDescription) -> ObservationSpec:
    """Return 'velocity_gait_turn' plus the base linear velocity from odometry.

    A kick changes the base velocity at once and the joints only as the body swings over
    them; an actor that sees the velocity can step into a kick before the fall shows in its
    posture (mjlab's G1 velocity actor observes it). On a robot it comes from a state
    estimator publishing nav_msgs/Odometry, so the spec needs 'odom'.
    """
    turn = velocity_gait_turn(robot)
    base = _extend(turn, 'velocity_gait_odom', ('odom_lin_vel', 3), 'odom',
                   'base linear velocity in the base frame (m/s), nav_msgs/Odometry '
                   'twist.twist.linear (a state estimator on a robot)',
                   f'Then the base linear velocity from odometry x{ODOM_LIN_VEL_SCALE:g}.')
    return dataclasses.replace(
        base, scales={**turn.scales, 'odom_lin_vel': (ODOM_LIN_VEL_SCALE,) * 3})


SPEC_FACTORIES: Dict[str, Callable[[RobotDescription], ObservationSpec]] = {
    'humanoid_v4_full': humanoid_v4_full,
    'humanoid_v4_action': humanoid_v4_action,
    'humanoid_v4_torque': humanoid_v4_torque,
    'proprioceptive': proprioceptive,
    'gym_humanoid_v4': gym_humanoid_v4,
    'velocity': velocity,
    'velocity_gait': velocity_gait,
    'velocity_gait_scaled': velocity_gait_scaled,
    'velocity_gait_turn': velocity_gait_turn,
    'velocity_gait_odom': velocity_gait_odom,
}

OBS_SPECS: Dict[str, ObservationSpec] = {
    name: make(get_robot()) for name, make in SPEC_FACTORIES.items()}
"""The specs for the default robot, by name."""


def scale_changes(theirs: Mapping[str, Any], mine: Mapping[str, Any]) -> List[str]:
    """Return the terms whose factors differ between two ``scales`` maps (JSON form), sorted.

    A term absent from one map is unscaled there, so it differs from any factor.
    """
    return sorted(t for t in set(theirs) | set(mine) if theirs.get(t) != mine.get(t))


def scale_mismatch(trained: Mapping[str, Any], now: Mapping[str, Any], spec: str
                   ) -> Optional[str]:
    """Say how spec ``spec`` scaled its terms in training and scales them now, or None if alike.

    One wording for every place that compares (resume, export, deploy): each differing term
    with both factors, 'none' where a side leaves the term unscaled.
    """
    terms = scale_changes(trained, now)
    if not terms:
        return None
    both = '; '.join(f'{t} by {trained.get(t, "none")} in training, by {now.get(t, "none")} '
                     'now' for t in terms)
    return f'observation spec {spec!r} scales {both}'


def get_obs_spec(name: str, robot: Optional[RobotDescription] = None) -> ObservationSpec:
    """Return spec ``name`` for ``robot`` (default: the default robot).

    :raises ValueError: unknown name, listing the known ones.
    """
    if name not in SPEC_FACTORIES:
        raise ValueError(f'unknown observation spec {name!r}; expected one of: '
                         f'{", ".join(SPEC_FACTORIES)}')
    if robot is None or robot is get_robot():
        return OBS_SPECS[name]
    return SPEC_FACTORIES[name](robot)

"""Left-right mirror images of a robot's observations and actions (symmetry augmentation).

A robot built symmetric about its sagittal (x-z) plane, on a flat floor, obeys mirrored
physics: reflect the state (y -> -y) and the actions, and the motion that follows is the
reflection of the original. A transition seen once therefore teaches twice, when its mirror
image is learned from too; and a reward that is itself symmetric scores both alike.

Everything here is read from the robot, not written by hand. Joints pair up by name
(``left_*`` with ``right_*``; a joint with neither prefix is its own partner) and each pair's
sign comes from the MJCF's joint axes at the default pose: reflection maps a hinge's world
axis a to -S a (S = diag(1, -1, 1); an angular velocity is a pseudovector), so the partner's
angle is +q if its axis is -S a (pitch joints) and -q if it is +S a (roll and yaw joints).
A model for which neither holds, or whose default pose is not its own mirror image, has no
mirror, and the error names the joint.

Each observation term mirrors by its meaning: angular velocity (-x, y, -z), gravity and
linear velocity (x, -y, z), joint terms by the joint map, the command (vx, -vy, -yaw rate),
the gait clock half a cycle on (its (sin, cos) negated: the right foot runs half a cycle
after the left), per-foot terms by swapping the feet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence, Tuple

import mujoco
import numpy as np

from .description import RobotDescription
from .model import build_model, home_qpos

PREFIXES = ('left_', 'right_')
AXIS_TOLERANCE = 1e-3
"""How far (in |a'.b| from 1) a partner's axis may be from the mirror image of a joint's."""


@dataclass(frozen=True)
class Mirror:
    """The mirror image of a vector: ``x[..., index] * sign``."""

    index: np.ndarray
    sign: np.ndarray

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Return the mirror image of ``x`` (last axis; any leading batch axes)."""
        return x[..., self.index] * self.sign

    @staticmethod
    def concat(parts: Sequence['Mirror']) -> 'Mirror':
        """Return the mirror of the concatenation of vectors each mirrored by ``parts``."""
        index, sign, start = [], [], 0
        for p in parts:
            index.append(p.index + start)
            sign.append(p.sign)
            start += len(p.index)
        return Mirror(np.concatenate(index).astype(np.intp),
                      np.concatenate(sign).astype(np.float64))


def _partner_name(name: str) -> str:
    for mine, other in (PREFIXES, PREFIXES[::-1]):
        if name.startswith(mine):
            return other + name[len(mine):]
    return name


def _pairing(names: Sequence[str], what: str) -> np.ndarray:
    """Index of each name's mirror partner in ``names``.

    :raises ValueError: a left_/right_ name whose partner is missing.
    """
    at = {n: i for i, n in enumerate(names)}
    index = []
    for n in names:
        partner = _partner_name(n)
        if partner not in at:
            raise ValueError(f'{what} {n!r} has no mirror partner {partner!r}')
        index.append(at[partner])
    return np.asarray(index, dtype=np.intp)


def _world_axes(robot: RobotDescription, model: Optional[mujoco.MjModel]) -> np.ndarray:
    model = model if model is not None else build_model(robot)
    data = mujoco.MjData(model)
    data.qpos[:] = home_qpos(model, robot)
    mujoco.mj_forward(model, data)
    ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n) for n in robot.joint_names]
    return data.xaxis[ids].copy()


def joint_mirror(robot: RobotDescription, model: Optional[mujoco.MjModel] = None) -> Mirror:
    """Return the mirror map of the robot's joint vectors (angles, velocities, actions).

    :param model: the robot's built model, if the caller has one (else it is built).
    :raises ValueError: naming the joint that has no partner, whose partner's axis is not its
        mirror image, or whose default angle is not its partner's mirror image.
    """
    names = list(robot.joint_names)
    index = _pairing(names, f'{robot.source}: joint')
    axes = _world_axes(robot, model)
    reflect = np.array([1.0, -1.0, 1.0])
    sign = np.empty(len(names))
    for i, j in enumerate(index):
        image = -reflect * axes[i]
        dot = float(image @ axes[j])
        if abs(abs(dot) - 1.0) > AXIS_TOLERANCE:
            raise ValueError(f'{robot.source}: joint {names[i]!r}: axis {np.round(axes[i], 3)} '
                             f'has no mirror image in {names[j]!r} (axis '
                             f'{np.round(axes[j], 3)}): the model is not left-right symmetric')
        sign[i] = 1.0 if dot > 0 else -1.0
    mirror = Mirror(index, sign)
    default = robot.default_pose()
    off = np.abs(mirror(default) - default)
    if off.max() > 1e-9:
        k = int(off.argmax())
        raise ValueError(f'{robot.source}: the default pose is not its own mirror image at '
                         f'joint {names[k]!r} ({default[k]} against {names[index[k]]!r} '
                         f'{default[index[k]]})')
    return mirror


Rule = Callable[[RobotDescription, int, Mirror], Mirror]
"""A term's mirror map from the robot, the term's size and the robot's joint map."""


def _fixed(*sign: float) -> Rule:
    return lambda robot, size, joints: Mirror(np.arange(len(sign)),
                                              np.asarray(sign, dtype=float))


def _joints(robot: RobotDescription, size: int, joints: Mirror) -> Mirror:
    return joints


def _feet(robot: RobotDescription, size: int, joints: Mirror) -> Mirror:
    return Mirror(_pairing(list(robot.feet), f'{robot.source}: foot'), np.ones(size))


TERMS: Dict[str, Rule] = {
    'imu_angular_velocity': _fixed(-1.0, 1.0, -1.0),   # a pseudovector: -S w
    'projected_gravity': _fixed(1.0, -1.0, 1.0),
    'base_lin_vel': _fixed(1.0, -1.0, 1.0),
    'odom_lin_vel': _fixed(1.0, -1.0, 1.0),
    'base_height': _fixed(1.0),
    'joint_pos_rel': _joints,
    'joint_vel': _joints,
    'previous_action': _joints,
    'command': _fixed(1.0, -1.0, -1.0),                # vx, vy, yaw rate
    'gait_phase': _fixed(-1.0, -1.0),                  # half a cycle on: the other foot's
    'feet_contact': _feet,
    'feet_lift': _feet,
    'yaw_rate_stride': _fixed(-1.0),                   # a yaw rate
}
"""Observation term -> its mirror map (from the robot and the term's size)."""


def terms_mirror(terms: Sequence[Tuple[str, int]], robot: RobotDescription, what: str,
                 joints: Optional[Mirror] = None) -> Mirror:
    """Return the mirror map of a vector laid out as ``terms`` ((name, size) pairs).

    :param joints: the robot's joint map (`joint_mirror`), if the caller has it (else made).
    :raises ValueError: a term with no mirror rule (naming it and ``what`` it is part of).
    """
    joints = joints if joints is not None else joint_mirror(robot)
    parts = []
    for name, size in terms:
        rule = TERMS.get(name)
        if rule is None:
            raise ValueError(f'{what}: term {name!r} has no mirror rule; terms with one: '
                             f'{", ".join(TERMS)}')
        part = rule(robot, size, joints)
        if len(part.index) != size:
            raise ValueError(f'{what}: term {name!r} has {size} values, its mirror '
                             f'{len(part.index)}')
        parts.append(part)
    return Mirror.concat(parts)


__all__ = ['Mirror', 'TERMS', 'joint_mirror', 'terms_mirror']

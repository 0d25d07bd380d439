"""The simulation model of a robot: its MJCF plus what its robot file adds.

Torque robots load their MJCF as is. pd_position robots get, from the robot file: the
physics timestep, each joint's armature, one position servo per joint in action order, and
optionally a ground plane and floor-only collisions. The servo is `symphony_ros.robot.pd`'s
law computed by MuJoCo in C at every physics step: ctrl = q_target, force = kp ctrl - kp q -
kd qd (gain kp; bias 0, -kp, -kd), clamped to +-effort limit (forcerange); its target is
clamped into the joint's soft limits, as the watchdog clamps it on the robot
(`RobotDescription.servo_range`). Under the Euler
integrator the kd term is explicit, as the pure law and a motor driver compute it, so
``data.actuator_force`` equals `PDLaw.torque` of the step's state (tested to 1e-9).
Compiling meshes takes about a second, so the model is built once per robot file; callers
share it read-only (``copy.copy`` before changing it).
"""

from __future__ import annotations

import functools

import mujoco
import numpy as np

from .description import RobotDescription
from .mujoco_state import joint_addresses


@functools.lru_cache(maxsize=None)
def _build(source: str, mjcf_path: str) -> mujoco.MjModel:
    from .description import get_robot
    robot = get_robot(source)
    if robot.action_kind == 'torque':
        return mujoco.MjModel.from_xml_path(mjcf_path)
    spec = mujoco.MjSpec.from_file(mjcf_path)
    spec.option.timestep = robot.physics_dt
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_EULER
    servo_range = robot.servo_range()
    for i, name in enumerate(robot.joint_names):
        joint = spec.joint(name)
        if robot.armature is not None:
            joint.armature = float(robot.armature[i])
        kp, kd, effort = (float(robot.kp[i]), float(robot.kd[i]),
                          float(robot.effort_limits[i]))
        act = spec.add_actuator()
        act.name, act.target = name, name
        act.trntype = mujoco.mjtTrn.mjTRN_JOINT
        act.gear[0] = 1.0
        act.gaintype = mujoco.mjtGain.mjGAIN_FIXED
        act.biastype = mujoco.mjtBias.mjBIAS_AFFINE
        act.gainprm[0] = kp
        act.biasprm[0:3] = [0.0, -kp, -kd]
        lo, hi = (float(v) for v in servo_range[i])
        if lo < hi:  # a held joint's range is one point, which MuJoCo refuses as a range
            act.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
            act.ctrlrange = [lo, hi]
        act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        act.forcerange = [-effort, effort]
    if not robot.self_collision:
        for geom in spec.geoms:
            if geom.contype or geom.conaffinity:
                geom.contype, geom.conaffinity = 0, 1
    if robot.add_floor:
        floor = spec.worldbody.add_geom()
        floor.name, floor.type = 'floor', mujoco.mjtGeom.mjGEOM_PLANE
        floor.size = [0.0, 0.0, 0.05]
        floor.contype, floor.conaffinity = 1, 0 if not robot.self_collision else 1
        light = spec.worldbody.add_light()
        light.pos, light.dir = [0.0, 0.0, 3.0], [0.0, 0.0, -1.0]
    return spec.compile()


def build_model(robot: RobotDescription) -> mujoco.MjModel:
    """Return the (shared, read-only) simulation model of ``robot``."""
    return _build(robot.source, robot.mjcf_path)


def home_qpos(model: mujoco.MjModel, robot: RobotDescription) -> np.ndarray:
    """Return the configuration: joints at the default pose, base upright at nominal height.

    The base keeps the MJCF's x, y and orientation; its height is ``nominal_base_height``
    when the robot file gives one.
    """
    q = model.qpos0.astype(np.float64).copy()
    body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, robot.base_body)
    adr = int(model.jnt_qposadr[int(model.body_jntadr[body])])
    if robot.nominal_base_height is not None:
        q[adr + 2] = robot.nominal_base_height
    q[joint_addresses(model, robot.joint_names)[0]] = robot.default_pose()
    return q


__all__ = ['build_model', 'home_qpos']

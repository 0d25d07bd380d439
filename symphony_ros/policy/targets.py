"""What a run's policy drives: its observation layout, its robot and its control period.

A run records its env id and observation spec name (None = the env's default). Robot envs
resolve to an observation spec and the robot that spec belongs to; any other Gymnasium env
gets ``gym:<env id>`` with dimensions only and no robot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from .contract import (ACTION_TO_TORQUE, PD_ACTION_TO_TORQUE, ObservationContract,
                       RobotContract)
from .errors import ExportError

GYM_ROBOT_SPECS: Dict[str, str] = {'Humanoid-v4': 'gym_humanoid_v4'}
"""Plain Gymnasium ids whose observation is a known spec (used when no project env of that
name is registered): vanilla Humanoid-v4 emits exactly the 'gym_humanoid_v4' layout."""


@dataclass(frozen=True)
class Target:
    """The observation, robot and control period a policy was trained for."""

    observation: ObservationContract
    robot: Optional[RobotContract]
    control_dt: Optional[float]
    task: Optional[Dict[str, Any]] = None


def _project_spec(env: str, obs_spec: Optional[str], source: str
                  ) -> Tuple[Optional[str], Optional[str], Optional[Dict[str, Any]]]:
    """(observation spec, robot, task) of a run; spec None for a plain Gymnasium observation."""
    from ..core import envs as core_envs
    try:
        entry = core_envs.lookup(env)
    except ValueError as exc:
        raise ExportError(source, 'env', str(exc)) from None
    if entry is not None:
        return obs_spec or core_envs.default_obs_spec(env), entry.robot, entry.task
    if obs_spec not in (None, 'gym'):
        return obs_spec, None, None
    return GYM_ROBOT_SPECS.get(env), None, None


def robot_contract(robot: Any) -> RobotContract:
    """Return the contract's robot section for a `~symphony_ros.robot.RobotDescription`."""
    def floats(x: Any) -> Optional[Tuple[float, ...]]:
        return None if x is None else tuple(float(v) for v in x)
    pd = robot.action_kind == 'pd_position'
    return RobotContract(
        name=robot.name, xml_sha256=robot.xml_sha256, joint_names=tuple(robot.joint_names),
        gear=floats(robot.gear), ctrl_range=tuple((float(lo), float(hi))
                                                  for lo, hi in robot.ctrl_range),
        control_dt=float(robot.control_dt),
        action_to_torque=PD_ACTION_TO_TORQUE if pd else ACTION_TO_TORQUE,
        action_kind=robot.action_kind, kp=floats(robot.kp), kd=floats(robot.kd),
        action_scale=floats(robot.action_scale), default_pose=floats(robot.default_pose()),
        effort_limits=floats(robot.effort_limits), pd_dt=float(robot.physics_dt) if pd else None)


def _gym_dt(env: str) -> Optional[float]:
    """Return the env's step period (MuJoCo envs have ``dt``), or None if it cannot be made."""
    import warnings
    try:
        import gymnasium as gym
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # "v4 is out of date" is no news at export
            e = gym.make(env)
    except Exception:  # noqa: BLE001 - an env that cannot be built only loses its dt
        return None
    try:
        dt = getattr(e.unwrapped, 'dt', None)
        return float(dt) if dt else None
    finally:
        e.close()


def resolve_target(env: str, obs_spec: Optional[str], obs_dim: int, act_dim: int,
                   source: str, history: int = 1) -> Target:
    """Resolve what a policy from ``source`` (env ``env``) observes and drives.

    :param history: observations of the spec the actor takes at once (`FrameStack`).

    :raises ExportError: unknown spec or robot, or dims that disagree with the actor's.
    """
    spec_name, robot_name, task = _project_spec(env, obs_spec, source)
    if spec_name is None:
        obs = ObservationContract(name=f'gym:{env}', terms=(('observation', obs_dim),))
        return Target(obs, None, _gym_dt(env))
    try:
        from ..robot import get_robot
        from ..robot.obs_specs import get_obs_spec
        robot = get_robot(robot_name) if robot_name is not None else None
        spec = get_obs_spec(spec_name, robot)
        robot = robot or get_robot(spec.robot)
    except (ImportError, ValueError) as exc:
        raise ExportError(source, 'obs_spec', f'cannot resolve observation spec '
                          f'{spec_name!r} of env {env!r}: {exc}') from None
    if spec.dim * history != obs_dim:
        frames = f' x {history} frames' if history > 1 else ''
        raise ExportError(source, 'obs_dim', f'actor takes {obs_dim} inputs but observation '
                          f'spec {spec.name!r} has {spec.dim}{frames}')
    if robot.n_joints != act_dim:
        raise ExportError(source, 'act_dim', f'actor emits {act_dim} actions but robot '
                          f'{robot.name!r} has {robot.n_joints} actuated joints')
    d = spec.to_dict()
    obs = ObservationContract(
        name=spec.name, terms=tuple((str(n), int(s)) for n, s in spec.terms),
        quaternion_convention=d.get('quaternion_convention'),
        reproducible_from_state=bool(spec.reproducible_from_state), spec=d, history=history)
    rc = robot_contract(robot)
    return Target(obs, rc, rc.control_dt, task)

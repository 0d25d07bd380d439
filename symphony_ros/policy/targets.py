"""What a run's policy drives: its observation layout, its robot and its control period.

A run records its env id and observation spec name (None = the env's default). Robot envs
resolve to an observation spec and the robot that spec belongs to; any other Gymnasium env
gets ``gym:<env id>`` with dimensions only and no robot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

from .contract import ObservationContract, RobotContract
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


def _project_spec(env: str, obs_spec: Optional[str]) -> Optional[str]:
    """Observation spec name of a run, or None for a plain Gymnasium observation."""
    from ..core import envs as core_envs
    try:
        core_envs.check_env_name(env)  # also registers the project's robot envs
    except ValueError:
        pass  # an env this install does not know still exports, with dims only
    entry = core_envs.ENVS.get(env)
    if entry is not None:
        return obs_spec or entry.obs_specs[0]
    if obs_spec not in (None, 'gym'):
        return obs_spec
    return GYM_ROBOT_SPECS.get(env)


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
                   source: str) -> Target:
    """Resolve what a policy from ``source`` (env ``env``) observes and drives.

    :raises ExportError: unknown spec or robot, or dims that disagree with the actor's.
    """
    spec_name = _project_spec(env, obs_spec)
    if spec_name is None:
        obs = ObservationContract(name=f'gym:{env}', terms=(('observation', obs_dim),))
        return Target(obs, None, _gym_dt(env))
    try:
        from ..robot import get_robot
        try:
            from ..robot.obs_specs import get_obs_spec
        except ImportError:  # the spec registry's earlier home
            from ..robot.observations import get_obs_spec
        spec = get_obs_spec(spec_name)
        robot = get_robot(spec.robot)
    except (ImportError, ValueError) as exc:
        raise ExportError(source, 'obs_spec', f'cannot resolve observation spec '
                          f'{spec_name!r} of env {env!r}: {exc}') from None
    if spec.dim != obs_dim:
        raise ExportError(source, 'obs_dim', f'actor takes {obs_dim} inputs but observation '
                          f'spec {spec.name!r} has {spec.dim}')
    if robot.n_joints != act_dim:
        raise ExportError(source, 'act_dim', f'actor emits {act_dim} actions but robot '
                          f'{robot.name!r} has {robot.n_joints} actuated joints')
    d = spec.to_dict()
    obs = ObservationContract(
        name=spec.name, terms=tuple((str(n), int(s)) for n, s in spec.terms),
        quaternion_convention=d.get('quaternion_convention'),
        reproducible_from_state=bool(spec.reproducible_from_state), spec=d)
    rc = RobotContract(
        name=robot.name, xml_sha256=robot.xml_sha256, joint_names=tuple(robot.joint_names),
        gear=tuple(float(g) for g in robot.gear),
        ctrl_range=tuple((float(lo), float(hi)) for lo, hi in robot.ctrl_range),
        control_dt=float(robot.control_dt))
    return Target(obs, rc, rc.control_dt)

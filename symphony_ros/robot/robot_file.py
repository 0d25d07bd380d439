"""Robot files: one YAML beside (or pointing at) an MJCF, read and checked into a description.

Fields (see the README section "Adding a robot" for an example)::

    extends              a shipped robot's name or a robot file (relative path) that this
                         one varies: its fields, with this file's merged on top
    name                 robot name (str)
    mjcf                 MJCF path, relative to this file, or package://<python package>/<path>
    action.kind          torque | pd_position
    timing.physics_dt    s per physics step (torque robots: must equal the MJCF's timestep)
    timing.frame_skip    physics steps per action (control period = physics_dt x frame_skip)
    base_body            body carrying the free joint
    imu_site             MJCF site of the IMU (optional)
    feet                 foot bodies (optional)
    nominal_base_height  m, base height standing in the default pose
    fall                 min_base_height, max_base_height (m), max_tilt (rad); each optional
    floor                add a ground plane to the model (default false)
    self_collision       robot geoms collide with each other (default true)
    motors               named motor types: effort_limit, velocity_limit, armature, kp, kd,
                         action_scale
    joint_defaults       values every joint takes unless its motor or entry says otherwise
    joints               action order; each a name or {name, motor, default, kp, kd,
                         effort_limit, velocity_limit, armature, action_scale, position_limits,
                         held}; ``held: true`` (pd_position) keeps the joint at its default
                         under PD whatever the action (action_scale 0): the policy drives the
                         rest, a smaller problem, while the action vector keeps every joint
    tasks                task name -> settings overriding that task's defaults
    randomization        knob -> [lo, hi] overriding the default training randomisation
                         (robot.ranges.KNOBS), plus obs_noise / imu_bias per term

Torque robots take joint order, gear, ctrl range and the default pose (qpos0) from the MJCF's
actuators; pd_position robots have no actuators in their MJCF (the model builder adds one
position servo per joint, see `symphony_ros.robot.model`) and state gains, limits and the
default pose here. Every error names
the file and the field, so a user fixes a robot file without reading code.
"""

from __future__ import annotations

import importlib.util
import math
import os
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import mujoco
import numpy as np
import yaml

from ..util.files import sha256_file
from ..util.strict_yaml import load_yaml, yaml_error_line
from .description import ACTION_KINDS, RobotDescription, robot_file_path

TOP_LEVEL = ('extends', 'name', 'mjcf', 'action', 'timing', 'base_body', 'imu_site', 'feet',
             'nominal_base_height', 'fall', 'floor', 'self_collision', 'motors',
             'joint_defaults', 'joints', 'tasks', 'randomization')
JOINT_FIELDS = ('effort_limit', 'velocity_limit', 'armature', 'kp', 'kd', 'action_scale')
"""Per-joint numbers a motor type, ``joint_defaults`` or a joint entry may give."""
ENTRY_FIELDS = ('name', 'motor', 'default', 'position_limits', 'held') + JOINT_FIELDS
NONNEGATIVE = ('armature', 'kp', 'kd')
POSITIVE = ('effort_limit', 'velocity_limit', 'action_scale')


class RobotFileError(ValueError):
    """A robot file that is wrong: the message names the file and the field."""

    def __init__(self, path: str, fieldname: str, message: str) -> None:
        """Record where (file, dotted field) and what was expected."""
        super().__init__(f'{path}: {fieldname}: {message}')
        self.path, self.field = path, fieldname


def resolve_mjcf(robot_file: str, value: str) -> str:
    """Return the MJCF path a robot file names (relative path or ``package://pkg/path``).

    A package is located with ``importlib.util.find_spec`` without importing it (mjlab's
    import pulls GPU packages; only its files are needed).

    :raises RobotFileError: unknown package or a file that does not exist.
    """
    if value.startswith('package://'):
        package, _, rest = value[len('package://'):].partition('/')
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            raise RobotFileError(robot_file, 'mjcf', f'package {package!r} is not installed '
                                 f'(needed for {value}); e.g. pip install --no-deps {package}')
        path = os.path.join(list(spec.submodule_search_locations)[0], rest)
    else:
        path = os.path.join(os.path.dirname(robot_file), value)
    path = os.path.normpath(path)
    if not os.path.isfile(path):
        raise RobotFileError(robot_file, 'mjcf', f'{path} does not exist')
    return path


class _Fields:
    """Typed reads from a mapping; errors name the file and the dotted field."""

    def __init__(self, path: str, doc: Any, where: str = '') -> None:
        self.path, self.doc, self.where = path, doc, where
        if not isinstance(doc, dict):
            raise self.error('', f'expected a mapping, got {type(doc).__name__}')

    def error(self, key: str, message: str) -> RobotFileError:
        name = f'{self.where}.{key}' if self.where and key else (self.where or key or '(top)')
        return RobotFileError(self.path, name, message)

    def known(self, keys: Tuple[str, ...]) -> None:
        unknown = sorted(set(self.doc) - set(keys))
        if unknown:
            raise self.error(unknown[0], f'unknown field; expected one of {", ".join(keys)}')

    def get(self, key: str, typ: type, default: Any = ..., check: Any = None) -> Any:
        if key not in self.doc or self.doc[key] is None:
            if default is ...:
                raise self.error(key, f'missing (expected {typ.__name__})')
            return default
        v = self.doc[key]
        if typ is float and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if not isinstance(v, typ) or (typ in (int, float) and isinstance(v, bool)):
            raise self.error(key, f'expected {typ.__name__}, got {v!r:.60}')
        if typ is float and not math.isfinite(v):
            raise self.error(key, f'expected a finite number, got {v}')
        if check is not None and not check[0](v):
            raise self.error(key, f'expected {check[1]}, got {v!r}')
        return v

    def sub(self, key: str) -> '_Fields':
        return _Fields(self.path, self.doc.get(key) or {}, f'{self.where}.{key}'.lstrip('.'))


def _check_meshes(robot_file: str, mjcf: str, spec: mujoco.MjSpec) -> None:
    """Every mesh file the MJCF names exists (MuJoCo would only say so at compile time)."""
    base = os.path.join(os.path.dirname(mjcf), spec.meshdir or '')
    for mesh in spec.meshes:
        if mesh.file and not os.path.isfile(os.path.join(base, mesh.file)):
            raise RobotFileError(robot_file, 'mjcf', f'mesh {mesh.name!r} of {mjcf}: file '
                                 f'{os.path.join(base, mesh.file)} does not exist')


def _mjcf_joints(model: mujoco.MjModel) -> List[str]:
    """Names of the model's hinge and slide joints, in model order."""
    kinds = (mujoco.mjtJoint.mjJNT_HINGE.value, mujoco.mjtJoint.mjJNT_SLIDE.value)
    return [model.joint(j).name for j in range(model.njnt) if int(model.jnt_type[j]) in kinds]


def _joint_table(f: _Fields, motors: Dict[str, Dict[str, float]],
                 defaults: Dict[str, float]) -> List[Dict[str, Any]]:
    """Resolve each joint entry: entry over motor type over joint_defaults."""
    raw = f.doc.get('joints')
    if not isinstance(raw, list) or not raw:
        raise f.error('joints', 'expected a non-empty list of joint names or mappings')
    table, seen = [], {}
    for i, item in enumerate(raw):
        e = _Fields(f.path, {'name': item} if isinstance(item, str) else item, f'joints[{i}]')
        e.known(ENTRY_FIELDS)
        name = e.get('name', str)
        if name in seen:
            raise e.error('name', f'duplicate joint {name!r} (also joints[{seen[name]}])')
        seen[name] = i
        row: Dict[str, Any] = dict(defaults)
        motor = e.get('motor', str, None)
        if motor is not None:
            if motor not in motors:
                raise e.error('motor', f'unknown motor {motor!r}; expected one of '
                              f'{", ".join(motors) or "(no motors defined)"}')
            row.update(motors[motor])
        for key in JOINT_FIELDS:
            if key in e.doc:
                row[key] = _number(e, key)
        row['name'], row['index'] = name, i
        row['default'] = e.get('default', float, None)
        row['held'] = e.get('held', bool, False)
        if row['held']:
            row['action_scale'] = 0.0
        lim = e.doc.get('position_limits')
        if lim is not None:
            if (not isinstance(lim, list) or len(lim) != 2
                    or not all(isinstance(x, (int, float)) for x in lim)):
                raise e.error('position_limits', f'expected [lower, upper] in rad, got {lim!r}')
            if not lim[0] < lim[1]:
                raise e.error('position_limits', f'inverted limits: lower {lim[0]} must be '
                              f'below upper {lim[1]}')
            row['position_limits'] = (float(lim[0]), float(lim[1]))
        table.append(row)
    return table


def _number(f: _Fields, key: str) -> float:
    v = f.get(key, float)
    if key in NONNEGATIVE and v < 0:
        raise f.error(key, f'negative value {v}; expected >= 0')
    if key in POSITIVE and not v > 0:
        raise f.error(key, f'expected > 0, got {v}')
    return v


def _number_table(f: _Fields, key: str) -> Dict[str, Dict[str, float]]:
    """``motors`` (name -> fields) or, with key 'joint_defaults', one mapping of fields."""
    if key == 'joint_defaults':
        d = f.sub(key)
        d.known(JOINT_FIELDS)
        return {'': {k: _number(d, k) for k in JOINT_FIELDS if k in d.doc}}
    out = {}
    for name in (f.doc.get(key) or {}):
        m = f.sub(key).sub(str(name))
        m.known(JOINT_FIELDS)
        out[str(name)] = {k: _number(m, k) for k in JOINT_FIELDS if k in m.doc}
    return out


def _require(f: _Fields, table: List[Dict[str, Any]], keys: Tuple[str, ...], why: str) -> None:
    for row in table:
        for key in keys:
            if key not in row:
                raise f.error(f'joints[{row["index"]}].{key}', f'missing for joint '
                              f'{row["name"]!r} ({why}; give it in the entry, its motor or '
                              'joint_defaults)')


def _column(table: List[Dict[str, Any]], key: str) -> Optional[np.ndarray]:
    if not all(key in row for row in table):
        return None
    return np.array([row[key] for row in table], dtype=np.float64)


def load_robot_file(path: str) -> RobotDescription:
    """Read, check and resolve the robot file at ``path``.

    :raises RobotFileError: naming the file and the field that is wrong.
    """
    path = os.path.abspath(path)
    f = _Fields(path, read_robot_doc(path))
    f.known(TOP_LEVEL)
    name = f.get('name', str)
    mjcf = resolve_mjcf(path, f.get('mjcf', str))
    kind = f.sub('action').get('kind', str, check=(lambda k: k in ACTION_KINDS,
                                                   ' or '.join(ACTION_KINDS)))
    f.sub('action').known(('kind',))
    timing = f.sub('timing')
    timing.known(('physics_dt', 'frame_skip'))
    physics_dt = timing.get('physics_dt', float, check=(lambda v: v > 0, 'seconds > 0'))
    frame_skip = timing.get('frame_skip', int, check=(lambda v: v >= 1, 'an integer >= 1'))
    model = _compile(path, mjcf)
    motors = _number_table(f, 'motors')
    table = _joint_table(f, motors, _number_table(f, 'joint_defaults')[''])
    names, joints_id = _model_joints(f, table, model, mjcf)
    if kind == 'torque':
        drive = _torque_drive(f, table, model, names, mjcf, physics_dt, joints_id)
    else:
        drive = _pd_drive(f, table, model, names, mjcf)
    _require(f, table, ('velocity_limit',), 'every robot')
    limits = _position_limits(table, model, joints_id)
    default = _checked_default(f, table, limits, drive.default)
    ctrl = drive.ctrl
    if kind == 'pd_position':
        # The actuators are MuJoCo position servos whose input is the joint target: the
        # range an action in [-1, 1] reaches (MuJoCo's clamp to it never binds).
        ctrl = np.stack([drive.scale * -1.0 + default, drive.scale * 1.0 + default], axis=1)
    base_body = f.get('base_body', str)
    _check_base(f, model, base_body)
    imu_site, feet = _imu_and_feet(f, model, mjcf)
    lo_h, hi_h = _fall_heights(f.sub('fall'))
    tasks, randomization = _tasks_and_ranges(f)
    return RobotDescription(
        name=name, mjcf_path=mjcf, xml_sha256=sha256_file(mjcf), joint_names=tuple(names),
        gear=drive.gear, ctrl_range=ctrl, effort_limits=drive.effort, position_limits=limits,
        velocity_limits=_column(table, 'velocity_limit'),
        control_dt=physics_dt * frame_skip, frame_skip=frame_skip, base_body=base_body,
        default_joint_positions=default, action_kind=kind, kp=drive.kp, kd=drive.kd,
        action_scale=drive.scale, armature=_column(table, 'armature'), imu_site=imu_site,
        feet=feet, nominal_base_height=f.get('nominal_base_height', float, None,
                                             (lambda v: v > 0, 'metres > 0')),
        fall_min_height=lo_h, fall_max_height=hi_h,
        fall_max_tilt=f.sub('fall').get('max_tilt', float, None,
                                        (lambda v: 0 < v <= math.pi, 'radians in (0, pi]')),
        add_floor=f.get('floor', bool, False), self_collision=f.get('self_collision', bool, True),
        source=path, tasks=tasks, randomization=randomization)


class _Drive(NamedTuple):
    """How the actions reach the joints, as the robot file and its MJCF state it."""

    gear: np.ndarray
    ctrl: Optional[np.ndarray]
    """Torque robots: the actuators' ctrl range; pd_position: None (from the default pose)."""
    effort: np.ndarray
    kp: Optional[np.ndarray]
    kd: Optional[np.ndarray]
    scale: Optional[np.ndarray]
    default: np.ndarray
    """The pose before the robot file's own ``default`` entries (qpos0 or zeros)."""


def read_robot_doc(path: str, _seen: Tuple[str, ...] = ()) -> Any:
    """Return a robot file's document, with the file it ``extends`` merged under it.

    A variant states what differs from its base (gains, action scales, held joints, tasks):
    mappings merge key by key, at every depth (``motors``, ``tasks``, ``randomization``);
    anything else, lists included (``joints``, the action order), replaces the base's
    whole. The base's MJCF stays the one it names. A variant names itself, so that a policy
    trained on it is not taken for one of its base (contracts carry the name).

    :raises RobotFileError: the base is missing or unreadable, the chain loops, or the
        variant has no name of its own.
    """
    doc = _read_yaml(path)
    if not isinstance(doc, dict) or 'extends' not in doc:
        return doc
    base = doc['extends']
    if not isinstance(base, str) or not base:
        raise RobotFileError(path, 'extends', 'expected the name of a shipped robot or the '
                             'path of a robot file, relative to this one')
    if 'name' not in doc:
        raise RobotFileError(path, 'name', f'missing: a robot that extends {base!r} names '
                             'itself, so that its policies are not taken for that robot\'s')
    shipped = os.sep not in base and not base.endswith(('.yaml', '.yml'))
    try:
        base_path = (robot_file_path(base) if shipped else
                     os.path.normpath(os.path.join(os.path.dirname(path), base)))
    except ValueError as exc:
        raise RobotFileError(path, 'extends', str(exc)) from None
    if base_path in _seen + (path,):
        raise RobotFileError(path, 'extends', f'{base_path} extends this file again (a loop)')
    if not os.path.isfile(base_path):
        raise RobotFileError(path, 'extends', f'{base_path} does not exist')
    under = read_robot_doc(base_path, _seen + (path,))
    if not isinstance(under, dict):
        raise RobotFileError(base_path, '(file)', 'expected a mapping of robot fields')
    mjcf = under.get('mjcf')
    if isinstance(mjcf, str) and not mjcf.startswith('package://'):
        under = dict(under, mjcf=os.path.join(os.path.dirname(base_path), mjcf))
    return _merge(under, {k: v for k, v in doc.items() if k != 'extends'})


def _merge(base: Dict[str, Any], over: Dict[str, Any]) -> Dict[str, Any]:
    """Return ``base`` with ``over`` on top: mappings merged key by key, the rest replaced."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_yaml(path: str) -> Any:
    try:
        with open(path) as fh:
            return load_yaml(fh)
    except OSError as exc:
        raise RobotFileError(path, '(file)', f'cannot read: {exc.strerror}') from None
    except yaml.YAMLError as exc:
        raise RobotFileError(path, '(file)', f'not valid YAML: {yaml_error_line(exc)}'
                             ) from None


def _compile(robot_file: str, mjcf: str) -> mujoco.MjModel:
    spec = mujoco.MjSpec.from_file(mjcf)
    _check_meshes(robot_file, mjcf, spec)
    try:
        return spec.compile()
    except ValueError as exc:
        raise RobotFileError(robot_file, 'mjcf', f'MuJoCo cannot compile {mjcf}: {exc}'
                             ) from None


def _model_joints(f: _Fields, table: List[Dict[str, Any]], model: mujoco.MjModel,
                  mjcf: str) -> Tuple[List[str], List[int]]:
    """Return the joints' names and MuJoCo ids, each checked to be a joint of the MJCF."""
    in_model = _mjcf_joints(model)
    for row in table:
        if row['name'] not in in_model:
            raise f.error(f'joints[{row["index"]}].name', f'joint {row["name"]!r} is not a '
                          f'hinge or slide joint of {mjcf}')
    names = [row['name'] for row in table]
    return names, [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n) for n in names]


def _torque_drive(f: _Fields, table: List[Dict[str, Any]], model: mujoco.MjModel,
                  names: List[str], mjcf: str, physics_dt: float, joints_id: List[int]
                  ) -> _Drive:
    for row in table:
        if row['held']:
            raise f.error(f'joints[{row["index"]}].held', 'only pd_position robots hold '
                          'joints (a torque robot has no target to hold)')
    gear, ctrl, default = _torque_actuators(f, model, names, mjcf, physics_dt, joints_id)
    return _Drive(gear=gear, ctrl=ctrl, effort=gear * np.abs(ctrl).max(axis=1), kp=None,
                  kd=None, scale=None, default=default)


def _pd_drive(f: _Fields, table: List[Dict[str, Any]], model: mujoco.MjModel,
              names: List[str], mjcf: str) -> _Drive:
    if model.nu:
        raise f.error('action.kind', f'pd_position robots add their own actuators, but '
                      f'{mjcf} has {model.nu}; remove them or use kind torque')
    missing = [j for j in _mjcf_joints(model) if j not in names]
    if missing:
        raise f.error('joints', f'missing joint(s) of the MJCF: {", ".join(missing)} (a '
                      'pd_position robot lists every joint, none left passive)')
    _require(f, table, ('kp', 'kd', 'effort_limit', 'action_scale'), 'pd_position')
    return _Drive(gear=np.ones(len(names)), ctrl=None, effort=_column(table, 'effort_limit'),
                  kp=_column(table, 'kp'), kd=_column(table, 'kd'),
                  scale=_column(table, 'action_scale'),
                  default=np.array([row['default'] or 0.0 for row in table]))


def _position_limits(table: List[Dict[str, Any]], model: mujoco.MjModel,
                     joints_id: List[int]) -> np.ndarray:
    """Return each joint's limits: its entry's, else the MJCF's (unlimited: +-inf)."""
    mj_range = model.jnt_range[joints_id].astype(np.float64).copy()
    mj_range[~model.jnt_limited[joints_id].astype(bool)] = (-np.inf, np.inf)
    return np.array([row.get('position_limits', tuple(mj_range[i]))
                     for i, row in enumerate(table)], dtype=np.float64)


def _checked_default(f: _Fields, table: List[Dict[str, Any]], limits: np.ndarray,
                     default: np.ndarray) -> np.ndarray:
    """Return ``default`` with the robot file's entries put in, each within its limits."""
    default = default.copy()
    for i, row in enumerate(table):
        if row['default'] is None:
            continue  # qpos0 (torque) or 0: Humanoid-v4's qpos0 has its knees past the range
        default[i] = row['default']
        lo, hi = limits[i]
        if not lo <= default[i] <= hi:
            raise f.error(f'joints[{i}].default', f'{default[i]:g} rad for joint '
                          f'{row["name"]!r} is outside its position limits [{lo:g}, {hi:g}]')
    return default


def _imu_and_feet(f: _Fields, model: mujoco.MjModel, mjcf: str
                  ) -> Tuple[Optional[str], Tuple[str, ...]]:
    imu_site = f.get('imu_site', str, None)
    if imu_site is not None and mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE,
                                                  imu_site) < 0:
        raise f.error('imu_site', f'{imu_site!r} is not a site of {mjcf}')
    feet = f.doc.get('feet') or []
    if not isinstance(feet, list) or not all(isinstance(b, str) for b in feet):
        raise f.error('feet', f'expected a list of body names, got {feet!r}')
    for i, body in enumerate(feet):
        if mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, body) < 0:
            raise f.error(f'feet[{i}]', f'{body!r} is not a body of {mjcf}')
    return imu_site, tuple(feet)


def _fall_heights(fall: _Fields) -> Tuple[Optional[float], Optional[float]]:
    fall.known(('min_base_height', 'max_base_height', 'max_tilt'))
    lo_h = fall.get('min_base_height', float, None)
    hi_h = fall.get('max_base_height', float, None)
    if lo_h is not None and hi_h is not None and not lo_h < hi_h:
        raise fall.error('max_base_height', f'inverted limits: min_base_height {lo_h} must be '
                         f'below max_base_height {hi_h}')
    return lo_h, hi_h


def _tasks_and_ranges(f: _Fields) -> Tuple[Dict[str, dict], Dict[str, Any]]:
    tasks = f.doc.get('tasks') or {}
    if not isinstance(tasks, dict) or not all(isinstance(v, dict) for v in tasks.values()):
        raise f.error('tasks', 'expected a mapping of task name -> settings')
    randomization = f.doc.get('randomization') or {}
    from .ranges import check_ranges  # ranges imports description, not this module
    try:
        check_ranges(randomization, 'randomization')
    except ValueError as exc:
        raise RobotFileError(f.path, 'randomization', str(exc).partition(': ')[2]) from None
    return {str(k): dict(v) for k, v in tasks.items()}, dict(randomization)


def _torque_actuators(f: _Fields, model: mujoco.MjModel, names: List[str], mjcf: str,
                      physics_dt: float, joints_id: List[int]
                      ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gear, ctrl range and qpos0 of a torque robot; its joints must be the actuator order."""
    if abs(model.opt.timestep - physics_dt) > 1e-12:
        raise f.sub('timing').error('physics_dt', f'{physics_dt} differs from the MJCF '
                                    f'timestep {model.opt.timestep} of {mjcf}')
    driven = []
    for i in range(model.nu):
        if model.actuator_trntype[i] != mujoco.mjtTrn.mjTRN_JOINT:
            raise f.error('mjcf', f'actuator {model.actuator(i).name!r} of {mjcf} does not '
                          'drive a joint; only joint actuators are supported')
        driven.append(model.joint(int(model.actuator_trnid[i, 0])).name)
    if names != driven:
        missing = [j for j in driven if j not in names]
        extra = [j for j in names if j not in driven]
        what = (f'missing joint(s) {", ".join(missing)}' if missing else
                f'joint(s) with no actuator {", ".join(extra)}' if extra else
                'same joints in another order')
        raise f.error('joints', f'expected the MJCF actuator order ({", ".join(driven)}): '
                      f'{what}')
    return (model.actuator_gear[:, 0].astype(np.float64).copy(),
            model.actuator_ctrlrange.astype(np.float64).copy(),
            model.qpos0[model.jnt_qposadr[joints_id]].astype(np.float64).copy())


def _check_base(f: _Fields, model: mujoco.MjModel, base_body: str) -> None:
    body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, base_body)
    if body < 0:
        raise f.error('base_body', f'{base_body!r} is not a body of the MJCF')
    jnt = int(model.body_jntadr[body])
    if jnt < 0 or int(model.jnt_type[jnt]) != mujoco.mjtJoint.mjJNT_FREE.value:
        raise f.error('base_body', f'{base_body!r} has no free joint; a floating-base robot '
                      'is expected')


__all__ = ['RobotFileError', 'load_robot_file', 'resolve_mjcf']

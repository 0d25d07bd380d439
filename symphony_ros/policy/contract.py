"""The contract an exported policy carries: what it was trained on and what it drives.

One versioned JSON document under :data:`METADATA_KEY` in the ONNX ``metadata_props``. The
deploy side reads it before anything moves and refuses a file whose observation layout,
joint order or control period disagree with the robot it is asked to drive.

Versioning: fields may be added without a version bump (older readers ignore them); a change
of meaning or a removal bumps :data:`FORMAT_VERSION`, and a reader refuses newer versions.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..util.layout import term_slices
from .errors import ContractError, MissingContractError, NewerFormatError

METADATA_KEY = 'symphony_ros.contract'
FORMAT_VERSION = 1
INPUT_NAME = 'obs'
OUTPUT_NAME = 'action'
ACTION_TO_TORQUE = 'torque = gear * clip(action, ctrl_range[:, 0], ctrl_range[:, 1])'
PD_ACTION_TO_TORQUE = ('q_target = default_pose + action_scale * action; torque = clip(kp * '
                       '(q_target - q) - kd * qd, -effort_limits, effort_limits), every pd_dt')
ACTION_KINDS = ('torque', 'pd_position')
PD_FIELDS = ('kp', 'kd', 'action_scale', 'default_pose', 'effort_limits')
"""Per-joint tables a pd_position contract must carry (action order)."""


@dataclass(frozen=True)
class ObservationContract:
    """Layout of the policy input: a named spec and its ordered (term, size) pairs."""

    name: str
    """Observation spec name, or ``gym:<env id>`` for a plain Gymnasium env."""
    terms: Tuple[Tuple[str, int], ...]
    quaternion_convention: Optional[str] = None
    """Order of quaternion components inside the observation ('wxyz'), None if it has none."""
    reproducible_from_state: Optional[bool] = None
    """False: only a simulator produces it (not deployable); None: unknown (gym env)."""
    spec: Dict[str, Any] = field(default_factory=dict)
    """The spec's full ``to_dict()`` (frames, needs, description); empty for gym envs."""
    history: int = 1
    """Observations of the spec the input holds, newest first (`FrameStack`): the input is
    ``history`` frames of ``terms``."""

    @property
    def frame_dim(self) -> int:
        """Length of one observation of the spec."""
        return sum(size for _, size in self.terms)

    @property
    def dim(self) -> int:
        """Length of the policy input: ``history`` observations."""
        return self.frame_dim * self.history

    def term_at(self, index: int) -> str:
        """Name of the term holding input element ``index`` (and its frame, if not the newest)."""
        frame, index = divmod(index, max(self.frame_dim, 1))
        name = next((name for name, s in term_slices(self.terms).items()
                     if s.start <= index < s.stop), '?')
        return name if frame == 0 else f'{name} ({frame} steps ago)'


@dataclass(frozen=True)
class RobotContract:
    """The robot the action drives, in action order, and the law turning action into torque.

    torque robots: torque = gear * clip(a, ctrl_range). pd_position robots: see
    `PD_ACTION_TO_TORQUE`; the PD runs every ``pd_dt`` seconds, the policy every control_dt.
    """

    name: str
    xml_sha256: str
    joint_names: Tuple[str, ...]
    gear: Tuple[float, ...]
    ctrl_range: Tuple[Tuple[float, float], ...]
    control_dt: float
    action_to_torque: str = ACTION_TO_TORQUE
    action_kind: str = 'torque'
    """One of `ACTION_KINDS` (contracts without the field are torque)."""
    kp: Optional[Tuple[float, ...]] = None
    """N*m/rad per joint (pd_position)."""
    kd: Optional[Tuple[float, ...]] = None
    """N*m*s/rad per joint (pd_position)."""
    action_scale: Optional[Tuple[float, ...]] = None
    """rad per unit action (pd_position)."""
    default_pose: Optional[Tuple[float, ...]] = None
    """rad; the pose an all-zero action holds (pd_position)."""
    effort_limits: Optional[Tuple[float, ...]] = None
    """N*m per joint."""
    pd_dt: Optional[float] = None
    """s between PD evaluations (the physics step it was trained with; pd_position)."""


@dataclass(frozen=True)
class PolicyContract:
    """Everything the deploy side must agree with before it runs a policy file."""

    env: str
    obs_dim: int
    act_dim: int
    observation: ObservationContract
    robot: Optional[RobotContract]
    control_dt: Optional[float]
    """Seconds between actions (the robot's control period; the env's dt for gym envs)."""
    algorithm: str
    algorithm_config: Dict[str, Any]
    train_config: Dict[str, Any]
    training_steps: int
    test_return: Optional[float]
    weights_sha256: str
    """sha256 of the actor's state_dict; see :func:`symphony_ros.policy.export.weights_sha256`."""
    project_version: str
    opset: int
    exported_at: str
    input_name: str = INPUT_NAME
    output_name: str = OUTPUT_NAME
    action_range: Tuple[float, float] = (-1.0, 1.0)
    format_version: int = FORMAT_VERSION
    task: Optional[Dict[str, Any]] = None
    """The task trained (name, command_ranges for velocity tasks), None for a plain env."""
    stress: Optional[Dict[str, Any]] = None
    """Summary of a ``symphony stress`` report of these weights (``symphony export --stress``):
    verdict, thresholds, fall rate per condition; None when none was given."""
    randomization: Optional[Dict[str, Any]] = None
    """The ranges the training env drew from at full width (name, scale, ranges per knob,
    noise amplitudes per term): a set's name alone may mean other ranges in another
    version. None: trained without randomisation, or exported before this was recorded."""

    def to_dict(self) -> Dict[str, Any]:
        """Return the JSON-friendly form (tuples become lists)."""
        return _jsonable(asdict(self))

    def to_json(self) -> str:
        """Serialise as the one metadata value (standard JSON, no NaN)."""
        return json.dumps(self.to_dict(), allow_nan=False, separators=(',', ':'))

    def validate(self, path: Optional[str] = None) -> 'PolicyContract':
        """Check the fields agree with each other; return self.

        :raises ContractError: naming the first field that disagrees.
        """
        if self.obs_dim <= 0 or self.act_dim <= 0:
            raise ContractError(path, 'obs_dim/act_dim', f'must be positive, got '
                                f'{self.obs_dim}/{self.act_dim}')
        if self.observation.history < 1:
            raise ContractError(path, 'observation.history', f'expected >= 1 frames, got '
                                f'{self.observation.history}')
        if self.observation.dim != self.obs_dim:
            o = self.observation
            frames = f' x {o.history} frames = {o.dim}' if o.history > 1 else ''
            raise ContractError(path, 'observation.terms', f'sizes add up to '
                                f'{o.frame_dim}{frames}, but obs_dim is {self.obs_dim}')
        if self.control_dt is not None and not self.control_dt > 0:
            raise ContractError(path, 'control_dt', f'must be > 0, got {self.control_dt}')
        r = self.robot
        if r is not None:
            for name, n in (('joint_names', len(r.joint_names)), ('gear', len(r.gear)),
                            ('ctrl_range', len(r.ctrl_range))):
                if n != self.act_dim:
                    raise ContractError(path, f'robot.{name}', f'has {n} entries, but act_dim '
                                        f'is {self.act_dim}')
            if len(set(r.joint_names)) != len(r.joint_names):
                raise ContractError(path, 'robot.joint_names', 'joint names repeat')
            if self.control_dt != r.control_dt:
                raise ContractError(path, 'control_dt', f'{self.control_dt} differs from '
                                    f'robot.control_dt {r.control_dt}')
            self._validate_action(r, path)
        return self

    def _validate_action(self, r: RobotContract, path: Optional[str]) -> None:
        if r.action_kind not in ACTION_KINDS:
            raise ContractError(path, 'robot.action_kind', f'expected one of '
                                f'{", ".join(ACTION_KINDS)}, got {r.action_kind!r}')
        for name in PD_FIELDS:
            table = getattr(r, name)
            if table is None:
                if r.action_kind == 'pd_position':
                    raise ContractError(path, f'robot.{name}', 'missing (pd_position needs it)')
                continue
            if len(table) != self.act_dim:
                raise ContractError(path, f'robot.{name}', f'has {len(table)} entries, but '
                                    f'act_dim is {self.act_dim}')
        if r.action_kind == 'pd_position':
            if r.pd_dt is None or not 0 < r.pd_dt <= r.control_dt:
                raise ContractError(path, 'robot.pd_dt', f'expected 0 < pd_dt <= control_dt '
                                    f'{r.control_dt}, got {r.pd_dt}')
            if min(r.kp) < 0 or min(r.kd) < 0:
                raise ContractError(path, 'robot.kp/kd', 'negative gain')

    @classmethod
    def from_json(cls, text: str, path: Optional[str] = None) -> 'PolicyContract':
        """Parse and validate the metadata value.

        :raises NewerFormatError: the document's format_version is newer than this reader.
        :raises ContractError: not JSON, or a field missing or of the wrong type.
        """
        try:
            doc = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise ContractError(path, METADATA_KEY, f'is not valid JSON ({exc})') from None
        return cls.from_dict(doc, path)

    @classmethod
    def from_dict(cls, doc: Any, path: Optional[str] = None) -> 'PolicyContract':
        """Build from :meth:`to_dict` output; see :meth:`from_json` for the errors."""
        r = _Reader(doc, path, '')
        version = r.get('format_version', int)
        if version > FORMAT_VERSION:
            raise NewerFormatError(path, 'format_version', f'contract format {version} is newer '
                                   f'than this runtime reads ({FORMAT_VERSION}); upgrade '
                                   'symphony_ros on the deploy side (file written by '
                                   f'symphony_ros {doc.get("project_version", "?")})')
        if version < 1:
            raise ContractError(path, 'format_version', f'expected >= 1, got {version}')
        o = r.sub('observation')
        observation = ObservationContract(
            name=o.get('name', str),
            terms=tuple((t.item(0, str), t.item(1, int)) for t in o.items('terms')),
            quaternion_convention=o.get('quaternion_convention', str, optional=True),
            reproducible_from_state=o.get('reproducible_from_state', bool, optional=True),
            spec=o.get('spec', dict, optional=True) or {},
            history=_history(o.get('history', int, optional=True)))
        robot = None
        if r.get('robot', dict, optional=True) is not None:
            b = r.sub('robot')
            robot = RobotContract(
                name=b.get('name', str), xml_sha256=b.get('xml_sha256', str),
                joint_names=tuple(j.value(str) for j in b.items('joint_names')),
                gear=tuple(g.value(float) for g in b.items('gear')),
                ctrl_range=tuple((c.item(0, float), c.item(1, float))
                                 for c in b.items('ctrl_range')),
                control_dt=b.get('control_dt', float),
                action_to_torque=b.get('action_to_torque', str),
                action_kind=b.get('action_kind', str, optional=True) or 'torque',
                pd_dt=b.get('pd_dt', float, optional=True),
                **{name: b.floats(name) for name in PD_FIELDS})
        lo, hi = (a.value(float) for a in r.items('action_range', length=2))
        contract = cls(
            env=r.get('env', str), obs_dim=r.get('obs_dim', int), act_dim=r.get('act_dim', int),
            observation=observation, robot=robot,
            control_dt=r.get('control_dt', float, optional=True),
            algorithm=r.get('algorithm', str), algorithm_config=r.get('algorithm_config', dict),
            train_config=r.get('train_config', dict),
            training_steps=r.get('training_steps', int),
            test_return=r.get('test_return', float, optional=True),
            weights_sha256=r.get('weights_sha256', str),
            project_version=r.get('project_version', str), opset=r.get('opset', int),
            exported_at=r.get('exported_at', str), input_name=r.get('input_name', str),
            output_name=r.get('output_name', str), action_range=(lo, hi),
            format_version=version, task=r.get('task', dict, optional=True),
            stress=r.get('stress', dict, optional=True),
            randomization=r.get('randomization', dict, optional=True))
        return contract.validate(path)


def _history(value: Optional[int]) -> int:
    """Frames of a contract's observation: absent (files before history) is one."""
    return 1 if value is None else value


class _Reader:
    """Typed access to a parsed JSON value; errors name the dotted field path."""

    def __init__(self, value: Any, path: Optional[str], where: str) -> None:
        self.v, self.path, self.where = value, path, where

    def _err(self, key: str, message: str) -> ContractError:
        return ContractError(self.path, f'{self.where}{key}'.rstrip('.') or METADATA_KEY, message)

    def value(self, typ: type, key: str = '') -> Any:
        v = self.v
        if typ is float and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if not isinstance(v, typ) or (typ is int and isinstance(v, bool)):
            raise self._err(key, f'expected {typ.__name__}, got {type(v).__name__} {v!r:.40}')
        if typ is float and not math.isfinite(v):
            raise self._err(key, f'expected a finite number, got {v}')
        return v

    def get(self, key: str, typ: type, optional: bool = False) -> Any:
        if not isinstance(self.v, dict):
            raise self._err('', f'expected an object, got {type(self.v).__name__}')
        if key not in self.v:
            if optional:
                return None
            raise self._err(key, 'missing')
        if self.v[key] is None and optional:
            return None
        return _Reader(self.v[key], self.path, self.where + key).value(typ)

    def sub(self, key: str) -> '_Reader':
        return _Reader(self.get(key, dict), self.path, f'{self.where}{key}.')

    def items(self, key: str, length: Optional[int] = None) -> List['_Reader']:
        seq = self.get(key, list)
        if length is not None and len(seq) != length:
            raise self._err(key, f'expected {length} entries, got {len(seq)}')
        return [_Reader(x, self.path, f'{self.where}{key}[{i}]') for i, x in enumerate(seq)]

    def floats(self, key: str) -> Optional[Tuple[float, ...]]:
        """Return an optional list of finite numbers (None when absent)."""
        if self.get(key, list, optional=True) is None:
            return None
        return tuple(x.value(float) for x in self.items(key))

    def item(self, index: int, typ: type) -> Any:
        if not isinstance(self.v, list) or len(self.v) <= index:
            raise self._err('', f'expected a list with an entry {index}, got {self.v!r:.40}')
        return _Reader(self.v[index], self.path, f'{self.where}[{index}]').value(typ)


def _jsonable(value: Any) -> Any:
    """Tuples to lists, non-finite floats to None, recursively (strict JSON)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def read_contract(metadata: Mapping[str, str], path: Optional[str] = None) -> PolicyContract:
    """Return the contract stored in an ONNX model's ``metadata_props`` (as a dict).

    :raises MissingContractError: no :data:`METADATA_KEY` entry.
    :raises ContractError, NewerFormatError: see :meth:`PolicyContract.from_json`.
    """
    if METADATA_KEY not in metadata:
        keys = ', '.join(sorted(metadata)) or 'none'
        raise MissingContractError(path, METADATA_KEY, f'no symphony_ros contract in the ONNX '
                                   f'metadata (keys present: {keys}): not written by `symphony '
                                   'export`, or truncated')
    return PolicyContract.from_json(metadata[METADATA_KEY], path)


__all__ = ['ACTION_KINDS', 'ACTION_TO_TORQUE', 'FORMAT_VERSION', 'METADATA_KEY',
           'PD_ACTION_TO_TORQUE', 'ObservationContract', 'PolicyContract', 'RobotContract',
           'read_contract']

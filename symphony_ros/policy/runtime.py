"""Run an exported policy with onnxruntime after checking its contract; no ROS needed.

``OnnxPolicy`` reads the file once, validates the contract against the graph (and, when
given, against the robot it will drive), then serves ``act(obs)`` from one single-threaded
session with input and output buffers bound once: a call copies the observation in, checks
it is finite, runs the graph and copies the action out. One instance per thread.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence

import numpy as np
import onnx
import onnxruntime as ort

from .contract import PolicyContract, read_contract
from .errors import ContractError, ObservationError, PolicyFileError, RobotMismatchError
from .onnx_file import load_model

DT_TOLERANCE = 1e-6
"""Relative tolerance when comparing control periods."""


def _static_dims(value_info: Any) -> List[Optional[int]]:
    dims = value_info.type.tensor_type.shape.dim
    return [d.dim_value if d.HasField('dim_value') else None for d in dims]


def _check_graph(model: onnx.ModelProto, c: PolicyContract, path: str) -> None:
    """Check the graph has one float input and output, named and sized as the contract says."""
    g = model.graph
    inits = {i.name for i in g.initializer}
    inputs = [i for i in g.input if i.name not in inits]
    for kind, vis, name, dim in (('input', inputs, c.input_name, c.obs_dim),
                                 ('output', list(g.output), c.output_name, c.act_dim)):
        names = [v.name for v in vis]
        if names != [name]:
            raise ContractError(path, f'{kind}_name', f'contract names graph {kind} {name!r}, '
                                f'graph has {names}')
        field = 'obs_dim' if kind == 'input' else 'act_dim'
        elem = vis[0].type.tensor_type.elem_type
        if elem != onnx.TensorProto.FLOAT:
            raise ContractError(path, field, f'graph {kind} {name!r} is '
                                f'{onnx.TensorProto.DataType.Name(elem)}, expected FLOAT')
        dims = _static_dims(vis[0])
        if len(dims) != 2 or dims[1] not in (None, dim):
            shown = ['batch' if d is None else d for d in dims]
            raise ContractError(path, field, f'contract says {dim}, but graph {kind} {name!r} '
                                f'has shape {shown}')


class OnnxPolicy:
    """An exported Symphony policy, checked against its contract, ready to ``act``.

    Not thread-safe (its buffers are shared between calls): one instance per thread.

    :param path: the .onnx file written by ``symphony export``.
    :param robot_joint_names: joint names of the robot to drive, in command order; when
        given, they must equal the contract's (see :meth:`check_robot`).
    :param expected_dt: control period (s) the caller will run at; when given, it must equal
        the contract's.
    :param model: the file as the caller already parsed it (the bytes it hashed), so that
        what runs is what was hashed; read from ``path`` when omitted.
    :raises PolicyFileError: missing, empty, truncated or non-ONNX file, or one onnxruntime
        cannot load.
    :raises ContractError: missing, newer-format or malformed metadata, or dims, names or
        types that disagree with the graph.
    :raises RobotMismatchError: joint names or control period disagree (see also
        :meth:`check_description` for gear and ctrl range).
    """

    def __init__(self, path: str, robot_joint_names: Optional[Sequence[str]] = None,
                 expected_dt: Optional[float] = None,
                 model: Optional[onnx.ModelProto] = None) -> None:
        self.path = str(path)
        if model is None:
            model = load_model(self.path)
        self.contract = read_contract({p.key: p.value for p in model.metadata_props},
                                      self.path)
        _check_graph(model, self.contract, self.path)
        opts = ort.SessionOptions()
        # One thread, no pool: the control loop owns the core; a thread pool would add
        # wake-up jitter to a graph this small.
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(model.SerializeToString(), opts,
                                                 providers=['CPUExecutionProvider'])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise PolicyFileError(self.path, None, f'onnxruntime cannot load it: '
                                  f'{msg[:300]}') from None
        c = self.contract
        self._input = np.zeros((1, c.obs_dim), dtype=np.float32)
        self._output = np.zeros((1, c.act_dim), dtype=np.float32)
        self._x = self._input[0]
        self._zeros = np.zeros(c.obs_dim, dtype=np.float32)
        self._shape1, self._shape2 = (c.obs_dim,), (1, c.obs_dim)
        # Bound once: onnxruntime reads self._input and writes self._output in place.
        self._values = (ort.OrtValue.ortvalue_from_numpy(self._input),
                        ort.OrtValue.ortvalue_from_numpy(self._output))
        self._binding = self._session.io_binding()
        self._binding.bind_ortvalue_input(c.input_name, self._values[0])
        self._binding.bind_ortvalue_output(c.output_name, self._values[1])
        self._probe()
        if robot_joint_names is not None or expected_dt is not None:
            self.check_robot(robot_joint_names, expected_dt)

    def _probe(self) -> None:
        """Run once on zeros: the graph really maps obs_dim inputs to act_dim actions."""
        try:
            out = self._session.run([self.contract.output_name],
                                    {self.contract.input_name: self._input})[0]
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ContractError(self.path, 'obs_dim', f'graph fails on a [1, '
                                f'{self.contract.obs_dim}] input: {msg[:300]}') from None
        if out.shape != (1, self.contract.act_dim):
            raise ContractError(self.path, 'act_dim', f'contract says {self.contract.act_dim}, '
                                f'but the graph returns shape {list(out.shape)}')
        self._session.run_with_iobinding(self._binding)

    # ---- properties ------------------------------------------------------------------------
    @property
    def obs_dim(self) -> int:
        """Length of the observation vector."""
        return self.contract.obs_dim

    @property
    def act_dim(self) -> int:
        """Length of the action vector."""
        return self.contract.act_dim

    @property
    def joint_names(self) -> Optional[List[str]]:
        """Joint names in action order, or None for a policy without a robot."""
        r = self.contract.robot
        return list(r.joint_names) if r is not None else None

    @property
    def control_dt(self) -> Optional[float]:
        """Control period (s) the policy was trained at."""
        return self.contract.control_dt

    # ---- acting ----------------------------------------------------------------------------
    def act(self, obs: np.ndarray) -> np.ndarray:
        """Return the action (float32 [act_dim], a new array) for one observation.

        :param obs: [obs_dim] or [1, obs_dim], any real dtype (cast to float32).
        :raises ObservationError: wrong shape, or NaN/Inf (after the float32 cast).
        """
        shape = getattr(obs, 'shape', None)
        try:
            if shape == self._shape1:
                self._x[:] = obs
            elif shape == self._shape2:
                self._input[:] = obs
            else:
                self._x[:] = self._coerce(obs)
        except ObservationError:
            raise
        except (TypeError, ValueError) as exc:
            raise ObservationError(self.path, 'obs', f'expected {self.obs_dim} real numbers: '
                                   f'{exc}') from None
        # 0 * x is NaN exactly where x is NaN or Inf, and cannot overflow like a sum.
        if self._x.dot(self._zeros) != 0.0:
            self._reject(self._x)
        self._session.run_with_iobinding(self._binding)
        return self._output[0].copy()

    def act_batch(self, obs: np.ndarray) -> np.ndarray:
        """Return actions [batch, act_dim] for observations [batch, obs_dim] (not preallocated).

        :raises ObservationError: wrong shape, or NaN/Inf.
        """
        x = np.asarray(obs, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.obs_dim:
            raise ObservationError(self.path, 'obs', f'expected shape [batch, {self.obs_dim}], '
                                   f'got {list(np.shape(obs))}')
        bad = ~np.isfinite(x)
        if bad.any():
            row = int(np.argwhere(bad)[0][0])
            self._reject(x[row], f' (row {row})')
        return self._session.run([self.contract.output_name], {self.contract.input_name: x})[0]

    def _coerce(self, obs: Any) -> np.ndarray:
        x = np.asarray(obs, dtype=np.float32)
        if x.shape not in (self._shape1, self._shape2):
            raise ObservationError(self.path, 'obs', f'expected shape [{self.obs_dim}] (spec '
                                   f'{self.contract.observation.name!r}), got '
                                   f'{list(x.shape)}')
        return x.reshape(-1)

    def _reject(self, x: np.ndarray, where: str = '') -> None:
        bad = np.flatnonzero(~np.isfinite(x))
        terms = sorted({self.contract.observation.term_at(int(i)) for i in bad})
        shown = ', '.join(str(int(i)) for i in bad[:8]) + (' ...' if len(bad) > 8 else '')
        raise ObservationError(self.path, 'obs', f'{len(bad)} non-finite value(s) (NaN/Inf '
                               f'after float32 cast){where} at index {shown} in term(s) '
                               f'{", ".join(terms)}; nothing was run')

    # ---- robot checks ----------------------------------------------------------------------
    def check_robot(self, joint_names: Optional[Sequence[str]], dt: Optional[float] = None,
                    gear: Optional[Sequence[float]] = None,
                    ctrl_range: Optional[Sequence[Sequence[float]]] = None,
                    **action: Any) -> None:
        """Refuse a robot whose joints, period, gear, ctrl range or action law differ.

        See :func:`check_contract_robot`; ``action`` takes its keyword tables.

        :raises RobotMismatchError: listing every difference.
        """
        check_contract_robot(self.contract, joint_names, dt, gear, ctrl_range, path=self.path,
                             **action)

    def check_description(self, robot: Any) -> None:
        """:meth:`check_robot` against a :class:`~symphony_ros.robot.RobotDescription`."""
        check_description(self.contract, robot, self.path)

    def __repr__(self) -> str:
        """Short description: file, dims and robot."""
        robot = self.contract.robot.name if self.contract.robot else None
        return (f'OnnxPolicy({self.path!r}, obs={self.obs_dim} '
                f'({self.contract.observation.name}), act={self.act_dim}, robot={robot})')


ACTION_TABLES = ('kp', 'kd', 'action_scale', 'default_pose', 'effort_limits')
"""Per-joint tables of the action law a deploy side must agree with (pd_position robots)."""


def check_contract_robot(c: PolicyContract, joint_names: Optional[Sequence[str]],
                         dt: Optional[float] = None, gear: Optional[Sequence[float]] = None,
                         ctrl_range: Optional[Sequence[Sequence[float]]] = None, *,
                         action_kind: Optional[str] = None, pd_dt: Optional[float] = None,
                         path: Optional[str] = None,
                         **tables: Optional[Sequence[float]]) -> None:
    """Refuse a robot that disagrees with the policy contract ``c``; pure (no onnxruntime).

    Each argument left None is not checked. Per-joint tables (``gear``, ``ctrl_range`` and
    the action law's ``kp``, ``kd``, ``action_scale``, ``default_pose``, ``effort_limits``)
    are in the caller's joint order, which must be the policy's (checked through
    ``joint_names``). A mismatch names the joint and both values: a policy driven with other
    gains or another default pose than it was trained with moves the robot differently.

    :raises RobotMismatchError: listing every difference.
    """
    unknown = sorted(set(tables) - set(ACTION_TABLES))
    if unknown:
        raise TypeError(f'check_contract_robot: unknown table(s) {", ".join(unknown)}')
    r, diffs, fields = c.robot, [], []
    if r is None and (joint_names is not None or gear is not None or ctrl_range is not None
                      or action_kind is not None or any(v is not None
                                                        for v in tables.values())):
        raise RobotMismatchError(path, 'robot', f'policy was exported for env {c.env!r} with '
                                 'no robot, so it cannot drive joints')
    if joint_names is not None:
        found = joint_differences(r.joint_names, list(joint_names))
        diffs += found
        fields += ['robot.joint_names'] if found else []
    for name, mine, theirs in (('control_dt', c.control_dt, dt),
                               ('robot.pd_dt', r and r.pd_dt, pd_dt)):
        if theirs is None:
            continue
        label = 'control period' if name == 'control_dt' else 'PD period'
        if mine is None:
            diffs.append(f'{label}: policy records none, caller runs at {theirs:g} s')
            fields.append(name)
        elif abs(float(theirs) - mine) > DT_TOLERANCE * mine:
            diffs.append(f'{label}: policy trained at {mine:g} s, caller runs at '
                         f'{float(theirs):g} s')
            fields.append(name)
    if action_kind is not None and action_kind != r.action_kind:
        diffs.append(f'action kind: policy {r.action_kind!r} vs robot {action_kind!r}')
        fields.append('robot.action_kind')
    checks = [('gear', r and r.gear, gear), ('ctrl_range', r and r.ctrl_range, ctrl_range)]
    checks += [(name, getattr(r, name, None), tables.get(name)) for name in ACTION_TABLES]
    for name, mine, theirs in checks:
        if theirs is None:
            continue
        if mine is None:
            diffs.append(f'{name}: policy records none (action kind {r.action_kind!r}), robot '
                         'has one')
            fields.append(f'robot.{name}')
            continue
        found = _value_differences(name, r.joint_names, np.asarray(mine, dtype=float),
                                   np.asarray(theirs, dtype=float))
        diffs += found
        fields += [f'robot.{name}'] if found else []
    if diffs:
        who = f'robot {r.name!r}' if r is not None else f'env {c.env!r}'
        raise RobotMismatchError(path, ', '.join(fields), f'policy exported for {who} '
                                 'refuses this robot', diffs)


def check_description(c: PolicyContract, robot: Any, path: Optional[str] = None) -> None:
    """:func:`check_contract_robot` against a `~symphony_ros.robot.RobotDescription`.

    Torque robots are checked on joints, period, gear and ctrl range; pd_position robots
    also on the action kind, PD period, kp, kd, action scale, default pose and effort limits.
    """
    tables = {}
    if robot.action_kind == 'pd_position' or (c.robot is not None
                                              and c.robot.action_kind == 'pd_position'):
        tables = {'kp': robot.kp, 'kd': robot.kd, 'action_scale': robot.action_scale,
                  'default_pose': robot.default_pose(), 'effort_limits': robot.effort_limits,
                  'pd_dt': robot.physics_dt if robot.action_kind == 'pd_position' else None}
    check_contract_robot(c, robot.joint_names, robot.control_dt, robot.gear, robot.ctrl_range,
                         action_kind=robot.action_kind, path=path, **tables)


def _value_differences(name: str, joints: Sequence[str], mine: np.ndarray,
                       theirs: np.ndarray) -> List[str]:
    """Per-joint differences of a table such as gear or kp (relative tolerance 1e-9)."""
    if mine.shape != theirs.shape:
        return [f'{name}: policy has shape {list(mine.shape)}, robot {list(theirs.shape)}']
    bad = ~np.isclose(mine, theirs, rtol=1e-9, atol=0.0)
    rows = np.flatnonzero(bad.reshape(len(mine), -1).any(axis=1))
    shown = [f'{joints[i]} policy {mine[i].tolist()} vs robot {theirs[i].tolist()}'
             for i in rows[:4]]
    if not len(rows):
        return []
    return [f'{name}: ' + ', '.join(shown) + (' ...' if len(rows) > 4 else '')]


def _some(names: Sequence[str], shown: int = 6) -> str:
    more = f' ... ({len(names)} in all)' if len(names) > shown else ''
    return ', '.join(names[:shown]) + more


def joint_differences(expected: Sequence[str], got: Sequence[str]) -> List[str]:
    """Human-readable differences between two joint lists (empty when equal)."""
    expected, got = list(expected), list(got)
    if expected == got:
        return []
    out = []
    if len(expected) != len(got):
        out.append(f'policy drives {len(expected)} joints, robot has {len(got)}')
    missing = [j for j in expected if j not in got]
    extra = [j for j in got if j not in expected]
    if missing:
        out.append('robot lacks ' + _some(missing))
    if extra:
        out.append('policy does not know ' + _some(extra))
    if not missing and not extra:
        moved = [f'#{i} policy {e!r} vs robot {g!r}'
                 for i, (e, g) in enumerate(zip(expected, got)) if e != g]
        out.append('same joints in another order: ' + ', '.join(moved[:4])
                   + (' ...' if len(moved) > 4 else ''))
    return out


__all__ = ['ACTION_TABLES', 'DT_TOLERANCE', 'OnnxPolicy', 'check_contract_robot',
           'check_description', 'joint_differences']

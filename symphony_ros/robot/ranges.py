"""Randomisation ranges as data: one range per knob, their defaults, and their checks.

A `RandomizationSpec` holds one range per knob (`KNOBS` says what each does and its
nominal value); `DEFAULTS` are common humanoid practice (legged_gym / unitree_rl_gym,
humanoid-gym, MuJoCo Playground), a robot file's ``randomization`` mapping overrides them,
and a YAML file of the same keys overrides both. ``scale`` widens or narrows every range
about its nominal value (0: nothing changes). Kept apart from the env wrapper
(`randomize.Randomized`) so that reading a robot file or a policy's card needs neither
gymnasium nor a simulator.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .description import RobotDescription

KNOBS: Dict[str, Tuple[float, str]] = {
    'mass_scale': (1.0, 'factor on every body mass (and inertia), drawn per body '
                   '(`robot_wide`: once)'),
    'payload_kg': (0.0, 'kg added to the base body'),
    'com_offset_m': (0.0, 'm added to the base centre of mass along x, y and z (each drawn)'),
    'friction_scale': (1.0, 'factor on every geom\'s sliding friction (floor contact)'),
    'joint_friction': (0.0, 'N*m of dry friction (frictionloss) added to every joint'),
    'joint_damping': (0.0, 'N*m*s/rad of viscous damping added to every joint'),
    'armature_scale': (1.0, 'factor on every joint\'s armature (reflected rotor inertia)'),
    'strength_scale': (1.0, 'factor on each motor\'s torque (gear or PD gains and limit)'),
    'kp_scale': (1.0, 'factor on each joint\'s kp (pd_position robots)'),
    'kd_scale': (1.0, 'factor on each joint\'s kd (pd_position robots)'),
    'delay_s': (0.0, 's from policy output to motor, per episode: whole control steps and '
                'physics steps'),
    'delay_jitter_steps': (0.0, 'physics steps of extra delay, 0..N drawn every control step'),
    'obs_noise_scale': (0.0, 'factor on the per-term uniform noise amplitudes `obs_noise`'),
    'imu_bias_scale': (0.0, 'factor on the per-episode IMU biases `imu_bias`'),
    'push_velocity': (0.0, 'm/s horizontal base-velocity kick (its side: `push_bearing_deg`)'),
    'push_interval_s': (0.0, 's between kicks (drawn after each kick; 0 or push 0: none)'),
    'push_first_s': (0.0, 's from an episode\'s start to its first kick (0: one interval)'),
    'push_bearing_deg': (0.0, 'deg from the robot\'s heading that each kick pushes toward (0: '
                         'forward, 90: to its left), drawn per kick; not given: any heading'),
    'init_joint_noise': (0.0, 'rad of uniform noise on the initial joint positions'),
    'init_vel_noise': (0.0, 'rad/s (m/s for the base) of uniform noise on the initial velocity'),
}
"""Knob -> (nominal value, meaning). A range is [lo, hi]; each episode draws uniformly."""

DEFAULTS: Dict[str, Tuple[float, float]] = {
    'mass_scale': (0.9, 1.1), 'payload_kg': (-1.0, 3.0), 'com_offset_m': (-0.03, 0.03),
    'friction_scale': (0.3, 1.25), 'joint_friction': (0.0, 0.1), 'joint_damping': (0.0, 0.1),
    'armature_scale': (1.0, 1.05), 'strength_scale': (0.9, 1.1), 'kp_scale': (0.9, 1.1),
    'kd_scale': (0.9, 1.1), 'delay_s': (0.0, 0.02), 'delay_jitter_steps': (0.0, 1.0),
    'obs_noise_scale': (0.0, 1.0), 'imu_bias_scale': (0.0, 1.0), 'push_velocity': (0.0, 1.0),
    'push_interval_s': (5.0, 10.0), 'push_first_s': (1.0, 5.0),
    'init_joint_noise': (0.0, 0.05), 'init_vel_noise': (0.0, 0.1)}
"""The ``default`` set (issue 16's list, from common humanoid practice). The first kick comes
1-5 s into an episode, not a whole interval: training episodes that fall within seconds would
otherwise never meet a kick (legged_gym's global push counter gives each episode a random
phase to the same end). The sensor noise's scale is drawn per episode from [0, 1], not held at
1: an actor that never sees an exact observation learns to rely on the jitter (G1 actors trained
at 1 stepped only with noise on their inputs and fell on exact ones)."""

SCHEDULE = ('push_interval_s', 'push_first_s', 'push_bearing_deg')
"""Knobs of the push schedule (when and which way), not perturbations: never scaled."""

ANY_BEARING = (-180.0, 180.0)
"""The range of ``push_bearing_deg`` when it is not given: a kick may come from any side."""


def unset_range(knob: str) -> Tuple[float, float]:
    """Return the range of ``knob`` where none is given: its nominal value (any bearing)."""
    if knob == 'push_bearing_deg':
        return ANY_BEARING
    nominal = KNOBS[knob][0]
    return (nominal, nominal)


OBS_NOISE: Dict[str, float] = {
    'joint_pos_rel': 0.01, 'joint_vel': 1.5, 'imu_angular_velocity': 0.2,
    'projected_gravity': 0.05, 'qpos_without_xy': 0.01, 'qvel': 0.2, 'odom_lin_vel': 0.5}
"""Observation term -> uniform noise amplitude at ``obs_noise_scale`` 1; terms a spec lacks
are skipped, terms not listed (command, previous action, Humanoid-v4's derived terms) are
exact. The odometry velocity's is mjlab's for its G1 actor's base velocity: a state estimator
is far noisier than an encoder."""

IMU_BIAS: Dict[str, float] = {'imu_angular_velocity': 0.05, 'projected_gravity': 0.02}
"""Observation term -> largest per-episode constant bias at ``imu_bias_scale`` 1."""

SENSOR_FIELDS: Dict[str, str] = {'joint_pos_rel': 'joint_positions',
                                 'joint_vel': 'joint_velocities',
                                 'imu_angular_velocity': 'imu_angular_velocity'}
"""Observation term -> the `RobotState` field of the sensor it reads. Under leg odometry
(`symphony train --odometry legs`) these terms' noise and bias are drawn on the state, once,
so that the estimate, which reads the same encoders and gyro, errs as it would on the robot
(the odometry's own term keeps its noise on top, for what the simulation's estimate misses:
slipping feet, compliant links). Elsewhere drawing on the state or on the term is the same."""

AUTO = 'auto'
"""``hard_depth: auto``: a corner whose depth follows the actor (`corner_depth`)."""

EXTRA_KEYS = ('scale', 'obs_noise', 'imu_bias', 'robot_wide', 'hard_share', 'hard_depth',
              'hard_depth_start', 'hard_tests')

HARD_END: Dict[str, int] = {
    'mass_scale': 1, 'payload_kg': 1, 'friction_scale': 0, 'strength_scale': 0,
    'kp_scale': 0, 'delay_s': 1, 'obs_noise_scale': 1, 'imu_bias_scale': 1,
    'push_velocity': 1}
"""Knob -> the end of its range (0: lo, 1: hi) that makes a robot harder to keep up: the
knobs the stress condition ``worst`` sets together, each toward this end. A ranges file's
``hard_share`` is the share of episodes that draw every one of them at this end."""

PER_PART = ('mass_scale', 'joint_friction', 'joint_damping', 'armature_scale', 'strength_scale',
            'kp_scale', 'kd_scale')
"""Knobs drawn for each body, joint or motor apart; ``robot_wide`` draws one for them all."""


@dataclass(frozen=True)
class RandomizationSpec:
    """Ranges per knob (see `KNOBS`); knobs not given stay at their nominal value."""

    ranges: Dict[str, Tuple[float, float]] = field(default_factory=dict)
    obs_noise: Dict[str, float] = field(default_factory=lambda: dict(OBS_NOISE))
    imu_bias: Dict[str, float] = field(default_factory=lambda: dict(IMU_BIAS))
    scale: float = 1.0
    """Widens (>1) or narrows (<1) every range about its nominal value; 0 turns all off."""
    name: str = 'custom'
    robot_wide: Tuple[str, ...] = ()
    """Knobs of `PER_PART` drawn once per episode for the whole robot. Drawn per part, the
    robot's mean moves little (29 motors' kp factors from [0.9, 1.1] average within about
    2 % of 1), so training never meets the softer or heavier robot the stress conditions
    (``kp_0.8``, ``strength_0.8``, ``mass_1.2``, ``worst``) set all at once."""
    hard_share: float = 0.0
    """Share of episodes whose `HARD_END` knobs all sit at their hard end (the rest drawn as
    usual). Uniform draws almost never meet the corner ``worst`` tests: nine knobs each near
    one end of their range together is a chance of a few in a million."""
    hard_depth: float = 1.0
    """How far from nominal toward its hard end such an episode sets each knob (1: the end;
    0.5: halfway). A corner no actor yet survives teaches little: its episodes end in
    seconds whatever the actor does."""
    hard_auto: bool = False
    """``hard_depth: auto`` in a file: the depth starts at ``hard_start`` and follows how the
    corner's episodes end (`corner_depth.CornerDepth`)."""
    hard_start: float = 0.0
    """Where an auto depth starts (``hard_depth_start``): a run branched from an actor that
    already stands partway into the corner need not climb there a window at a time (each
    0.1 costs tens of thousands of steps once its episodes last)."""
    hard_tests: int = 0
    """``hard_tests: N`` (auto depth only): the depth follows N episodes of the deterministic
    actor at the corner, run at each evaluation, instead of the training episodes drawn at it.
    An exploring actor can fall in nearly every training episode (the G1's fell every few
    seconds under acting noise while its deterministic actor stood for whole test episodes),
    so their falls say nothing about the corner and its depth never moves."""

    def hard_value(self, knob: str, depth: Optional[float] = None) -> float:
        """Return the value a hard-corner episode gives `HARD_END` knob ``knob``.

        :param depth: the corner's depth now (``hard_auto``); the spec's own when None.
        """
        nominal = KNOBS[knob][0]
        end = self.range(knob)[HARD_END[knob]]
        return nominal + (self.hard_depth if depth is None else depth) * (end - nominal)

    def range(self, knob: str) -> Tuple[float, float]:
        """Return the scaled range of ``knob`` (its nominal value twice when not given)."""
        if knob in SCHEDULE:
            return tuple(self.ranges.get(knob, unset_range(knob)))
        nominal = KNOBS[knob][0]
        lo, hi = self.ranges.get(knob, (nominal, nominal))
        s = self.scale
        return (nominal + s * (lo - nominal), nominal + s * (hi - nominal))

    @property
    def adds_sensor_noise(self) -> bool:
        """True when some observation term gets noise or an IMU bias at some draw."""
        return ((self.range('obs_noise_scale')[1] > 0 and any(self.obs_noise.values()))
                or (self.range('imu_bias_scale')[1] > 0 and any(self.imu_bias.values())))

    @property
    def is_nominal(self) -> bool:
        """True when no knob moves anything (the env is then left unwrapped)."""
        for knob in KNOBS:
            if knob in SCHEDULE:
                continue
            lo, hi = self.range(knob)
            nominal = KNOBS[knob][0]
            if lo != nominal or hi != nominal:
                return False
        return True

    def to_dict(self) -> Dict[str, Any]:
        """Return the spec as the contract and run log store it (scaled ranges)."""
        out = {'name': self.name, 'scale': self.scale,
               'ranges': {k: list(self.range(k)) for k in KNOBS if k in self.ranges},
               'obs_noise': dict(self.obs_noise), 'imu_bias': dict(self.imu_bias)}
        if self.robot_wide:
            out['robot_wide'] = list(self.robot_wide)
        if self.hard_share:
            out['hard_share'] = self.hard_share
            if self.hard_auto or self.hard_depth != 1.0:
                out['hard_depth'] = AUTO if self.hard_auto else self.hard_depth
            if self.hard_auto and self.hard_start:
                out['hard_depth_start'] = self.hard_start
            if self.hard_auto and self.hard_tests:
                out['hard_tests'] = self.hard_tests
        return out

    def with_ranges(self, **ranges: Tuple[float, float]) -> 'RandomizationSpec':
        """Return a copy with ``ranges`` replacing those knobs' ranges."""
        return dataclasses.replace(self, ranges={**self.ranges, **ranges})


def spec_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> List[str]:
    """Name what differs between two `RandomizationSpec.to_dict` forms, one item per knob.

    A knob a form leaves out sits at its nominal value; noise amplitudes compare per term.

    :returns: e.g. ``['push_first_s [0, 0] -> [1, 5]', 'obs_noise.joint_vel 1.5 -> 1']``.
    """
    def knob(form: Mapping[str, Any], name: str) -> List[float]:
        return [float(v) for v in (form.get('ranges') or {}).get(name, unset_range(name))]

    out = [f'{k} [{_g(knob(old, k))}] -> [{_g(knob(new, k))}]' for k in KNOBS
           if knob(old, k) != knob(new, k)]
    for table in ('obs_noise', 'imu_bias'):
        a, b = old.get(table) or {}, new.get(table) or {}
        out += [f'{table}.{t} {a.get(t, 0):g} -> {b.get(t, 0):g}' for t in sorted({*a, *b})
                if float(a.get(t, 0)) != float(b.get(t, 0))]
    wide = [list(form.get('robot_wide') or []) for form in (old, new)]
    if wide[0] != wide[1]:
        out.append(f'robot_wide [{", ".join(wide[0])}] -> [{", ".join(wide[1])}]')
    for key, default in (('hard_share', 0.0), ('hard_depth', 1.0), ('hard_depth_start', 0.0),
                         ('hard_tests', 0)):
        was, now = (form.get(key, default) for form in (old, new))
        if was != now:
            out.append(f'{key} {_g([was])} -> {_g([now])}')
    return out


def _g(values: List[Any]) -> str:
    return ', '.join(f'{v:g}' if isinstance(v, (int, float)) else str(v) for v in values)


def check_ranges(doc: Mapping[str, Any], where: str) -> Dict[str, Any]:
    """Validate a mapping of knobs and extras; raise ValueError naming ``where`` and the key."""
    if not isinstance(doc, Mapping):
        raise ValueError(f'{where}: expected a mapping of knob -> [lo, hi]')
    out: Dict[str, Any] = {}
    for key, value in doc.items():
        if key in ('obs_noise', 'imu_bias'):
            if not isinstance(value, Mapping):
                raise ValueError(f'{where}: {key}: expected a mapping of term -> amplitude')
            for term, amp in value.items():
                if not isinstance(amp, (int, float)) or amp < 0:
                    raise ValueError(f'{where}: {key}.{term}: expected a number >= 0')
            out[key] = {str(t): float(a) for t, a in value.items()}
        elif key == 'robot_wide':
            if (not isinstance(value, (list, tuple))
                    or not all(isinstance(v, str) and v in PER_PART for v in value)):
                raise ValueError(f'{where}: robot_wide: expected a list of knobs drawn per '
                                 f'part: {", ".join(PER_PART)}')
            out[key] = tuple(dict.fromkeys(value))
        elif key == 'scale':
            if not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f'{where}: scale: expected a number >= 0')
            out[key] = float(value)
        elif key == 'hard_depth' and value == AUTO:
            out[key] = AUTO
        elif key == 'hard_tests':
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f'{where}: hard_tests: expected a whole number of test '
                                 'episodes >= 0 (0: the training episodes judge the corner)')
            out[key] = value
        elif key in ('hard_share', 'hard_depth', 'hard_depth_start'):
            if (not isinstance(value, (int, float)) or isinstance(value, bool)
                    or not 0.0 <= value <= 1.0):
                what = {'hard_share': 'a share of episodes, 0..1',
                        'hard_depth': f'a fraction, 0..1, or {AUTO} (the depth follows the '
                                      'actor)',
                        'hard_depth_start': 'a fraction, 0..1'}[key]
                raise ValueError(f'{where}: {key}: expected {what}')
            out[key] = float(value)
        elif key in KNOBS:
            if (not isinstance(value, (list, tuple)) or len(value) != 2
                    or not all(isinstance(v, (int, float)) for v in value)):
                raise ValueError(f'{where}: {key}: expected [lo, hi]')
            lo, hi = float(value[0]), float(value[1])
            if lo > hi:
                raise ValueError(f'{where}: {key}: inverted range [{lo}, {hi}]')
            if key == 'push_bearing_deg' and (lo < ANY_BEARING[0] or hi > ANY_BEARING[1]):
                raise ValueError(f'{where}: {key}: [{lo}, {hi}] leaves -180..180; expected '
                                 'degrees from the robot\'s heading, 90 to its left')
            nonneg = key not in ('payload_kg', 'com_offset_m', 'push_bearing_deg')
            if nonneg and lo < 0:
                raise ValueError(f'{where}: {key}: negative range [{lo}, {hi}]; '
                                 'expected values >= 0')
            out[key] = (lo, hi)
        else:
            raise ValueError(f'{where}: {key}: unknown knob; expected one of '
                             f'{", ".join(list(KNOBS) + list(EXTRA_KEYS))}')
    return out


def _build(name: str, *layers: Tuple[Mapping[str, Any], str]) -> RandomizationSpec:
    ranges: Dict[str, Tuple[float, float]] = {}
    noise, bias, scale, wide = dict(OBS_NOISE), dict(IMU_BIAS), 1.0, ()
    share, depth, start, start_where = 0.0, 1.0, None, ''
    tests, tests_where = 0, ''
    for doc, where in layers:
        d = check_ranges(doc, where)
        noise.update(d.pop('obs_noise', {}))
        bias.update(d.pop('imu_bias', {}))
        scale = d.pop('scale', scale)
        wide = d.pop('robot_wide', wide)
        share = d.pop('hard_share', share)
        depth = d.pop('hard_depth', depth)
        if 'hard_depth_start' in d:
            start, start_where = d.pop('hard_depth_start'), where
        if 'hard_tests' in d:
            tests, tests_where = d.pop('hard_tests'), where
        ranges.update(d)
    auto = depth == AUTO
    if start is not None and not auto:
        raise ValueError(f'{start_where}: hard_depth_start: only with hard_depth: {AUTO} (a '
                         'fixed depth does not move from a start)')
    if tests and not auto:
        raise ValueError(f'{tests_where}: hard_tests: only with hard_depth: {AUTO} (the test '
                         'episodes move an adaptive depth; a fixed one has nothing to move)')
    if tests and not share:
        raise ValueError(f'{tests_where}: hard_tests: no episode trains at the corner it '
                         'would test (hard_share is 0); give hard_share, e.g. 0.25')
    return RandomizationSpec(ranges, noise, bias, scale, name, wide, share,
                             0.0 if auto else depth, auto, start or 0.0, tests)


def load_randomization(which: str, robot: RobotDescription,
                       scale: float = 1.0) -> Optional[RandomizationSpec]:
    """Return the spec ``which`` names for ``robot``: ``none`` (None), ``default``, or a file.

    ``default`` is `DEFAULTS` overridden by the robot file's ``randomization``; a YAML file
    overrides those again. ``scale`` multiplies the file's own scale.

    :raises ValueError: an unknown name, a missing file, a bad knob or range (one line).
    """
    if scale < 0 or not math.isfinite(scale):
        raise ValueError(f'--randomize-scale: expected a number >= 0, got {scale}')
    if which in (None, '', 'none'):
        return None
    layers = [(DEFAULTS, 'defaults'),
              (robot.randomization, f'{robot.source}: randomization')]
    name = 'default'
    if which != 'default':
        if not os.path.isfile(which):
            raise ValueError(f'--randomize {which}: expected none, default or a YAML file '
                             '(no such file)')
        from ..util.strict_yaml import load_yaml_file
        doc = load_yaml_file(which, which) or {}
        layers.append((doc, which))
        name = os.path.abspath(which)
    spec = _build(name, *layers)
    return dataclasses.replace(spec, scale=spec.scale * scale)


def knob_table_markdown() -> str:
    """Return the knob table as Markdown (the README's copy is kept equal by a test)."""
    rows = ['| knob | what | nominal | default range |', '|---|---|---|---|']
    for knob, (nominal, what) in KNOBS.items():
        lo, hi = DEFAULTS.get(knob, unset_range(knob))
        shown = 'any' if knob == 'push_bearing_deg' else f'{nominal:g}'
        rows.append(f'| `{knob}` | {what} | {shown} | [{lo:g}, {hi:g}] |')
    return '\n'.join(rows) + '\n'


def point_spec(values: Mapping[str, float], name: str = 'point') -> RandomizationSpec:
    """Return a spec that sets each knob of ``values`` to exactly that value."""
    return _build(name, ({k: [v, v] for k, v in values.items()}, name))


__all__ = ['ANY_BEARING', 'AUTO', 'DEFAULTS', 'EXTRA_KEYS', 'HARD_END', 'IMU_BIAS', 'KNOBS',
           'OBS_NOISE', 'PER_PART', 'SCHEDULE', 'RandomizationSpec', 'SENSOR_FIELDS',
           'check_ranges', 'knob_table_markdown', 'load_randomization', 'point_spec',
           'spec_changes', 'unset_range']

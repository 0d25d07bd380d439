"""Domain randomisation and perturbation: ranges declared as data, applied by one env wrapper.

A `RandomizationSpec` holds one range per knob (`KNOBS` says what each does and its
nominal value); `DEFAULTS` are common humanoid practice (legged_gym / unitree_rl_gym,
humanoid-gym, MuJoCo Playground), a robot file's ``randomization`` mapping overrides them,
and a YAML file of the same keys overrides both. ``scale`` widens or narrows every range
about its nominal value (0: nothing changes). `Randomized` applies a spec to any project env
(torque or pd_position) through its MuJoCo model and data, so training and ``symphony stress``
perturb the same way. Every draw comes from a generator seeded, once per episode, from the
env's own ``np_random``: a run seeded s draws the same, and a resumed run (which restores that
generator) draws on as it would have.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

import gymnasium as gym
import mujoco
import numpy as np

from ..util.layout import term_slices
from .description import RobotDescription

KNOBS: Dict[str, Tuple[float, str]] = {
    'mass_scale': (1.0, 'factor on every body mass (and inertia), drawn per body'),
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
    'push_velocity': (0.0, 'm/s horizontal base-velocity kick, random heading'),
    'push_interval_s': (0.0, 's between kicks (drawn after each kick; 0 or push 0: none)'),
    'push_first_s': (0.0, 's from an episode\'s start to its first kick (0: one interval)'),
    'init_joint_noise': (0.0, 'rad of uniform noise on the initial joint positions'),
    'init_vel_noise': (0.0, 'rad/s (m/s for the base) of uniform noise on the initial velocity'),
}
"""Knob -> (nominal value, meaning). A range is [lo, hi]; each episode draws uniformly."""

DEFAULTS: Dict[str, Tuple[float, float]] = {
    'mass_scale': (0.9, 1.1), 'payload_kg': (-1.0, 3.0), 'com_offset_m': (-0.03, 0.03),
    'friction_scale': (0.3, 1.25), 'joint_friction': (0.0, 0.1), 'joint_damping': (0.0, 0.1),
    'armature_scale': (1.0, 1.05), 'strength_scale': (0.9, 1.1), 'kp_scale': (0.9, 1.1),
    'kd_scale': (0.9, 1.1), 'delay_s': (0.0, 0.02), 'delay_jitter_steps': (0.0, 1.0),
    'obs_noise_scale': (1.0, 1.0), 'imu_bias_scale': (1.0, 1.0), 'push_velocity': (0.0, 1.0),
    'push_interval_s': (5.0, 10.0), 'push_first_s': (1.0, 5.0),
    'init_joint_noise': (0.0, 0.05), 'init_vel_noise': (0.0, 0.1)}
"""The ``default`` set (issue 16's list, from common humanoid practice). The first kick comes
1-5 s into an episode, not a whole interval: training episodes that fall within seconds would
otherwise never meet a kick (legged_gym's global push counter gives each episode a random
phase to the same end)."""

TIMES = ('push_interval_s', 'push_first_s')
"""Knobs that are times of the push schedule, not perturbations: never scaled."""

OBS_NOISE: Dict[str, float] = {
    'joint_pos_rel': 0.01, 'joint_vel': 1.5, 'imu_angular_velocity': 0.2,
    'projected_gravity': 0.05, 'qpos_without_xy': 0.01, 'qvel': 0.2}
"""Observation term -> uniform noise amplitude at ``obs_noise_scale`` 1; terms a spec lacks
are skipped, terms not listed (command, previous action, Humanoid-v4's derived terms) are
exact."""

IMU_BIAS: Dict[str, float] = {'imu_angular_velocity': 0.05, 'projected_gravity': 0.02}
"""Observation term -> largest per-episode constant bias at ``imu_bias_scale`` 1."""

EXTRA_KEYS = ('scale', 'obs_noise', 'imu_bias')


@dataclass(frozen=True)
class RandomizationSpec:
    """Ranges per knob (see `KNOBS`); knobs not given stay at their nominal value."""

    ranges: Dict[str, Tuple[float, float]] = field(default_factory=dict)
    obs_noise: Dict[str, float] = field(default_factory=lambda: dict(OBS_NOISE))
    imu_bias: Dict[str, float] = field(default_factory=lambda: dict(IMU_BIAS))
    scale: float = 1.0
    """Widens (>1) or narrows (<1) every range about its nominal value; 0 turns all off."""
    name: str = 'custom'

    def range(self, knob: str) -> Tuple[float, float]:
        """Return the scaled range of ``knob`` (its nominal value twice when not given)."""
        nominal = KNOBS[knob][0]
        if knob in TIMES:
            return tuple(self.ranges.get(knob, (nominal, nominal)))
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
            if knob in TIMES:
                continue
            lo, hi = self.range(knob)
            nominal = KNOBS[knob][0]
            if lo != nominal or hi != nominal:
                return False
        return True

    def to_dict(self) -> Dict[str, Any]:
        """Return the spec as the contract and run log store it (scaled ranges)."""
        return {'name': self.name, 'scale': self.scale,
                'ranges': {k: list(self.range(k)) for k in KNOBS if k in self.ranges},
                'obs_noise': dict(self.obs_noise), 'imu_bias': dict(self.imu_bias)}

    def with_ranges(self, **ranges: Tuple[float, float]) -> 'RandomizationSpec':
        """Return a copy with ``ranges`` replacing those knobs' ranges."""
        return dataclasses.replace(self, ranges={**self.ranges, **ranges})


def spec_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> List[str]:
    """Name what differs between two `RandomizationSpec.to_dict` forms, one item per knob.

    A knob a form leaves out sits at its nominal value; noise amplitudes compare per term.

    :returns: e.g. ``['push_first_s [0, 0] -> [1, 5]', 'obs_noise.joint_vel 1.5 -> 1']``.
    """
    def knob(form: Mapping[str, Any], name: str) -> List[float]:
        nominal = KNOBS[name][0]
        return [float(v) for v in (form.get('ranges') or {}).get(name, (nominal, nominal))]

    out = [f'{k} [{_g(knob(old, k))}] -> [{_g(knob(new, k))}]' for k in KNOBS
           if knob(old, k) != knob(new, k)]
    for table in ('obs_noise', 'imu_bias'):
        a, b = old.get(table) or {}, new.get(table) or {}
        out += [f'{table}.{t} {a.get(t, 0):g} -> {b.get(t, 0):g}' for t in sorted({*a, *b})
                if float(a.get(t, 0)) != float(b.get(t, 0))]
    return out


def _g(values: List[float]) -> str:
    return ', '.join(f'{v:g}' for v in values)


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
        elif key == 'scale':
            if not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f'{where}: scale: expected a number >= 0')
            out[key] = float(value)
        elif key in KNOBS:
            if (not isinstance(value, (list, tuple)) or len(value) != 2
                    or not all(isinstance(v, (int, float)) for v in value)):
                raise ValueError(f'{where}: {key}: expected [lo, hi]')
            lo, hi = float(value[0]), float(value[1])
            if lo > hi:
                raise ValueError(f'{where}: {key}: inverted range [{lo}, {hi}]')
            nonneg = key not in ('payload_kg', 'com_offset_m')
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
    noise, bias, scale = dict(OBS_NOISE), dict(IMU_BIAS), 1.0
    for doc, where in layers:
        d = check_ranges(doc, where)
        noise.update(d.pop('obs_noise', {}))
        bias.update(d.pop('imu_bias', {}))
        scale = d.pop('scale', scale)
        ranges.update(d)
    return RandomizationSpec(ranges, noise, bias, scale, name)


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
        import yaml

        from ..util.strict_yaml import load_yaml, yaml_error_line
        with open(which, encoding='utf-8') as fh:
            try:
                doc = load_yaml(fh) or {}
            except yaml.YAMLError as exc:
                raise ValueError(f'{which}: not YAML ({yaml_error_line(exc)})') from None
        layers.append((doc, which))
        name = os.path.abspath(which)
    spec = _build(name, *layers)
    return dataclasses.replace(spec, scale=spec.scale * scale)


def point_spec(values: Mapping[str, float], name: str = 'point') -> RandomizationSpec:
    """Return a spec that sets each knob of ``values`` to exactly that value."""
    return _build(name, ({k: [v, v] for k, v in values.items()}, name))


class Randomized(gym.Wrapper):
    """Apply a `RandomizationSpec` to a project env (Humanoid-v4 or a velocity env).

    At reset: model parameters are restored to nominal and redrawn; initial pose and velocity
    noise; the action delay (physics steps) and IMU biases of the episode; the first push
    time. At each step: the action the motors see is the policy's from ``k`` control steps
    earlier, applied ``m`` physics steps into the period (the previous one holds before it);
    a push when due; observation noise. The observation's previous-action term stays what
    the policy sent (what a real robot's controller knows). ``info['randomization']`` (at
    reset) holds the episode's draws; a given ``log_path`` gets one JSON line per episode.
    The critic's ``info['critic_obs']`` stays exact (privileged), and ``info['clean_obs']``
    is the observation before its noise and bias.
    """

    def __init__(self, env: gym.Env, spec: RandomizationSpec, robot: RobotDescription,
                 log_path: Optional[str] = None) -> None:
        """Wrap ``env`` (whose unwrapped env has ``model`` and ``data``) with ``spec``."""
        super().__init__(env)
        self.rspec, self.robot, self.log_path = spec, robot, log_path
        self.full_spec = spec
        u = env.unwrapped
        u.model = copy.copy(u.model)  # own copy: the velocity env's model is shared
        self.model, self.data = u.model, u.data
        m = self.model
        self._nominal = {k: getattr(m, k).copy() for k in (
            'body_mass', 'body_inertia', 'body_ipos', 'geom_friction', 'dof_frictionloss',
            'dof_damping', 'dof_armature', 'actuator_gainprm', 'actuator_biasprm',
            'actuator_gear', 'actuator_forcerange')}
        self.base = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, robot.base_body)
        jnt = int(m.body_jntadr[self.base])
        self.base_dof = int(m.jnt_dofadr[jnt])
        names = robot.joint_names
        ids = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, n) for n in names]
        self.qadr = np.array([m.jnt_qposadr[i] for i in ids], dtype=np.intp)
        self.dadr = np.array([m.jnt_dofadr[i] for i in ids], dtype=np.intp)
        self.pd = robot.action_kind == 'pd_position'
        self.frame_skip = robot.frame_skip
        obs_spec = env.metadata.get('obs_spec') or {}
        self.slices: Dict[str, slice] = term_slices(obs_spec.get('terms', []))
        self.factors: Dict[str, np.ndarray] = {
            term: np.asarray(f, dtype=np.float64)
            for term, f in (obs_spec.get('scales') or {}).items()}
        """Term -> the spec's scale per element: noise and biases are drawn in the term's
        units, then scaled as the term is."""
        self.rng = np.random.default_rng(0)
        self.draws: Dict[str, Any] = {}
        self.kicks: List[Tuple[float, float]] = []
        """(time s, speed m/s) of each kick of the episode so far."""
        self._queue: deque = deque()
        self._delay = 0
        self._bias: Dict[str, np.ndarray] = {}
        self._time = 0.0
        self._next_push = math.inf

    def set_width(self, fraction: float) -> None:
        """Draw the next episodes from ``fraction`` of every range's width (a curriculum).

        Set between episodes: an episode's draws all come from one width, which its log
        line records as ``scale``.
        """
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f'randomisation width fraction: expected 0..1, got {fraction}')
        self.rspec = dataclasses.replace(self.full_spec,
                                         scale=self.full_spec.scale * fraction)

    # ---- draws ------------------------------------------------------------------------------
    def _u(self, knob: str, size: Optional[int] = None):
        lo, hi = self.rspec.range(knob)
        if lo == hi:
            return lo if size is None else np.full(size, lo)
        return self.rng.uniform(lo, hi, size)

    def _apply_model(self) -> None:
        m, nom, d = self.model, self._nominal, self.draws
        for k, v in nom.items():
            getattr(m, k)[:] = v
        mass = self._u('mass_scale', m.nbody)
        m.body_mass[:] = nom['body_mass'] * mass
        m.body_inertia[:] = nom['body_inertia'] * mass[:, None]
        payload = float(self._u('payload_kg'))
        m.body_mass[self.base] = max(m.body_mass[self.base] + payload, 1e-3)
        com = self._u('com_offset_m', 3)
        m.body_ipos[self.base] += com
        friction = float(self._u('friction_scale'))
        m.geom_friction[:, 0] = nom['geom_friction'][:, 0] * friction
        m.dof_frictionloss[self.dadr] += self._u('joint_friction', len(self.dadr))
        m.dof_damping[self.dadr] += self._u('joint_damping', len(self.dadr))
        m.dof_armature[self.dadr] *= self._u('armature_scale', len(self.dadr))
        n = m.nu
        strength = self._u('strength_scale', n)
        if self.pd:
            kp, kd = self._u('kp_scale', n), self._u('kd_scale', n)
            m.actuator_gainprm[:, 0] *= strength * kp
            m.actuator_biasprm[:, 1] *= strength * kp
            m.actuator_biasprm[:, 2] *= strength * kd
            m.actuator_forcerange[:] *= strength[:, None]
            d['kp_scale_mean'], d['kd_scale_mean'] = float(np.mean(kp)), float(np.mean(kd))
        else:
            m.actuator_gear[:, 0] *= strength
        d.update(mass_scale_mean=float(np.mean(mass)), payload_kg=payload,
                 com_offset_m=[float(c) for c in com], friction_scale=friction,
                 strength_scale_mean=float(np.mean(strength)))

    def reset(self, *, seed: Optional[int] = None, options: Optional[Dict[str, Any]] = None):
        """Reset the env, redraw the episode's parameters and observe the perturbed state."""
        _, first_info = self.env.reset(seed=seed, options=options)
        self.rng = np.random.default_rng(int(self.env.unwrapped.np_random.integers(2**62)))
        self.draws = {'scale': self.rspec.scale}
        self._apply_model()
        d, data = self.draws, self.data
        jn = float(self._u('init_joint_noise'))
        vn = float(self._u('init_vel_noise'))
        if jn or vn:
            data.qpos[self.qadr] += self.rng.uniform(-jn, jn, len(self.qadr))
            data.qvel[:] += self.rng.uniform(-vn, vn, self.model.nv)
            mujoco.mj_forward(self.model, data)
        d.update(init_joint_noise=jn, init_vel_noise=vn)
        dt = self.robot.physics_dt
        lo, hi = self.rspec.range('delay_s')
        self._delay = int(self.rng.integers(round(lo / dt), round(hi / dt) + 1))
        d['delay_s'] = self._delay * dt
        ns = self.rspec.range('obs_noise_scale')
        self._noise_scale = float(self.rng.uniform(*ns))
        bs = float(self._u('imu_bias_scale'))
        self._bias = {t: self.rng.uniform(-a * bs, a * bs, self.slices[t].stop
                                          - self.slices[t].start)
                      for t, a in self.rspec.imu_bias.items() if t in self.slices and a * bs}
        d['obs_noise_scale'] = self._noise_scale
        d['imu_bias'] = {t: [float(x) for x in b] for t, b in self._bias.items()}
        self._queue = deque([np.zeros(self.action_space.shape)])
        self._time = 0.0
        self._next_push = self._first_push()
        d['first_push_s'] = self._next_push if math.isfinite(self._next_push) else None
        self.kicks = []
        obs, info = self.env.reobserve()
        info = {**first_info, **info, 'randomization': d, 'clean_obs': np.array(obs)}
        if self.log_path:
            with open(self.log_path, 'a', encoding='utf-8') as fh:
                fh.write(json.dumps({'seed': seed, **d}) + '\n')
        return self._noisy(obs), info

    def _first_push(self) -> float:
        """Return when the episode's first kick comes (inf: no kicks this episode)."""
        lo, hi = self.rspec.range('push_first_s')
        if hi <= 0 or not self._kicks_on():
            return self._push_after()
        return lo if lo == hi else float(self.rng.uniform(lo, hi))

    def _push_after(self) -> float:
        """Return when the kick after now comes: one drawn interval on (inf: no kicks)."""
        if not self._kicks_on():
            return math.inf
        ilo, ihi = self.rspec.range('push_interval_s')
        return self._time + (ilo if ilo == ihi else float(self.rng.uniform(ilo, ihi)))

    def _kicks_on(self) -> bool:
        """Kicks need a speed and an interval: either at 0 turns them off (`KNOBS`)."""
        return (self.rspec.range('push_velocity')[1] > 0
                and self.rspec.range('push_interval_s')[1] > 0)

    def _noisy(self, obs: np.ndarray) -> np.ndarray:
        obs = np.array(obs, dtype=np.float64)
        if self._noise_scale:
            for term, amp in self.rspec.obs_noise.items():
                s = self.slices.get(term)
                if s is not None and amp:
                    a = amp * self._noise_scale
                    obs[s] += self.rng.uniform(-a, a, s.stop - s.start) * self._factor(term)
        for term, b in self._bias.items():
            obs[self.slices[term]] += b * self._factor(term)
        return obs

    def _factor(self, term: str) -> 'np.ndarray | float':
        return self.factors.get(term, 1.0)

    # ---- step -------------------------------------------------------------------------------
    def step(self, action: np.ndarray):
        """Step with the delayed action, push when due, observe with noise."""
        sent = np.array(action, dtype=np.float64).reshape(-1)
        jitter = 0
        jlo, jhi = self.rspec.range('delay_jitter_steps')
        if jhi > 0:
            jitter = int(self.rng.integers(int(round(jlo)), int(round(jhi)) + 1))
        delay = self._delay + jitter
        k, m = divmod(delay, self.frame_skip)
        self._queue.append(sent)
        while len(self._queue) > k + 2:
            self._queue.popleft()
        applied = self._queue[max(len(self._queue) - 1 - k, 0)]
        self._time += self.robot.control_dt
        if self._time >= self._next_push:
            lo, hi = self.rspec.range('push_velocity')
            v, heading = float(self.rng.uniform(lo, hi)), float(self.rng.uniform(0, 2 * math.pi))
            kick = (v * math.cos(heading), v * math.sin(heading))
            self.data.qvel[self.base_dof:self.base_dof + 2] += kick
            self.kicks.append((round(self._time, 4), v))
            self._next_push = self._push_after()
        u = self.env.unwrapped
        if m:
            # The previous command holds for the first m physics steps of the period.
            mujoco.mj_step(self.model, self.data, nstep=m)
            u.frame_skip = self.frame_skip - m
        try:
            obs, reward, terminated, truncated, info = self.env.step(applied)
        finally:
            u.frame_skip = self.frame_skip
        prev = self.slices.get('previous_action')
        if prev is not None:
            obs[prev] = sent * self._factor('previous_action')
        info['applied_action'] = applied
        info['clean_obs'] = obs.copy()
        return self._noisy(obs), reward, terminated, truncated, info


def randomize_env(env: gym.Env, spec: Optional[RandomizationSpec], robot: RobotDescription,
                  log_path: Optional[str] = None) -> gym.Env:
    """Return ``env`` wrapped in `Randomized`, or ``env`` itself when ``spec`` moves nothing.

    Leaving a nominal spec unwrapped keeps ``--randomize none`` bit for bit as before.
    """
    if spec is None or spec.is_nominal:
        return env
    return Randomized(env, spec, robot, log_path)


__all__ = ['DEFAULTS', 'IMU_BIAS', 'KNOBS', 'OBS_NOISE', 'RandomizationSpec', 'Randomized',
           'load_randomization', 'point_spec', 'randomize_env', 'spec_changes']

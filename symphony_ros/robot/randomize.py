"""Domain randomisation and perturbation: ranges declared as data, applied by one env wrapper.

The ranges, their defaults and checks are data in `ranges`. `Randomized` applies a
`RandomizationSpec` to any project env (torque or pd_position) through its MuJoCo model and
data, so training and ``symphony stress`` perturb the same way. Every draw comes from a
generator seeded, once per episode, from the env's own ``np_random``: a run seeded s draws the
same, and a resumed run (which restores that generator) draws on as it would have.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from collections import deque
from typing import Any, Callable, Dict, List, Optional, Tuple

import gymnasium as gym
import mujoco
import numpy as np

from ..util.layout import term_slices
from .corner_depth import CornerDepth
from .description import RobotDescription
from .ranges import HARD_END, SENSOR_FIELDS, RandomizationSpec
from .rotations import yaw
from .state import RobotState

OUTCOME_KEYS = ('up_s', 'fell', 'kicks', 'step')
"""What an episode's log line holds beside its draws: seconds up, whether it ended in a fall,
its kicks as [s since the episode began, speed m/s, bearing deg from the robot's heading
(0: pushed forward, 90: to its left)], and the training step it ended at (a run's env that
was given a step clock, `Randomized.set_step_clock`; a branch keeps the lines before its
step by it)."""


def episode_step(record: Dict[str, Any]) -> Optional[int]:
    """Return the training step a log line's episode ended at (None: the line has none)."""
    step = record.get('step')
    return step if isinstance(step, int) and not isinstance(step, bool) else None


class Randomized(gym.Wrapper):
    """Apply a `RandomizationSpec` to a project env (Humanoid-v4 or a velocity env).

    At reset: model parameters are restored to nominal and redrawn; initial pose and velocity
    noise; the action delay (physics steps) and IMU biases of the episode; the first push
    time. At each step: the action the motors see is the policy's from ``k`` control steps
    earlier, applied ``m`` physics steps into the period (the previous one holds before it);
    a push when due; observation noise (under leg odometry the sensors' part is drawn on the
    state the estimator reads, `on_state`). The observation's previous-action term stays what
    the policy sent (what a real robot's controller knows). ``info['randomization']`` (at
    reset) holds the episode's draws; at the episode's end ``info['episode_record']`` holds
    them with its outcome (`OUTCOME_KEYS`), and a given ``log_path`` gets that as one JSON
    line. An episode its user ends (a reset before its end, or ``close``) is recorded as not
    fallen, with the time it was up: a censored survival time, which is what it is.
    The critic's ``info['critic_obs']`` stays exact (privileged), ``info['clean_obs']``
    is the observation before its noise and bias, and ``info['delay_physics_steps']`` the
    delay of the step's command (the episode's plus the step's jitter).
    """

    def __init__(self, env: gym.Env, spec: RandomizationSpec, robot: RobotDescription,
                 log_path: Optional[str] = None) -> None:
        """Wrap ``env`` (whose unwrapped env has ``model`` and ``data``) with ``spec``."""
        super().__init__(env)
        self.rspec, self.robot, self.log_path = spec, robot, log_path
        self.full_spec = spec
        self._step_clock: Optional[Callable[[], int]] = None
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
        self.base_qpos = int(m.jnt_qposadr[jnt])
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
        self.kicks: List[Tuple[float, float, float]] = []
        """(time s, speed m/s, bearing rad) of each kick of the episode so far; the bearing is
        the kick's direction from the robot's heading (0: pushed forward, pi/2: to its
        left)."""
        self._queue: deque = deque()
        self._delay = 0
        self._bias: Dict[str, np.ndarray] = {}
        self._noise_scale = 0.0
        self._time = 0.0
        self._next_push = math.inf
        self._seed: Optional[int] = None
        self._open = False
        self._hard = False
        """Whether this episode draws every `HARD_END` knob at its hard end."""
        self.corner: Optional[CornerDepth] = (CornerDepth(spec.hard_start) if spec.hard_auto
                                              else None)
        """The corner's depth (``hard_depth: auto``), moved by how its episodes end."""
        self.on_state: Tuple[str, ...] = (tuple(SENSOR_FIELDS) if getattr(u, 'odometry', None)
                                          else ())
        """Terms whose noise and bias are drawn on the sensors' state (`SENSOR_FIELDS`), not
        on the observation: a leg odometry reads those sensors, and its estimate must carry
        their noise as it would on the robot. A tuple, drawn in its order: a set's order
        changes with each process's string-hash salt, and the draws of a seed with it."""
        if self.on_state:
            u.sensors = self._sensors

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
    def _range(self, knob: str) -> Tuple[float, float]:
        lo, hi = self.rspec.range(knob)
        if self._hard and knob in HARD_END:
            value = self.rspec.hard_value(knob, None if self.corner is None else self.corner.depth)
            return value, value
        return lo, hi

    def _u(self, knob: str, size: Optional[int] = None):
        lo, hi = self._range(knob)
        if lo == hi:
            return lo if size is None else np.full(size, lo)
        if size is not None and knob in self.rspec.robot_wide:
            return np.full(size, self.rng.uniform(lo, hi))
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
        """Reset the env, redraw the episode's parameters and observe the perturbed state.

        An episode still open is recorded first, and its record is in this reset's info.
        """
        cut = self._end_episode(fell=False)
        _, first_info = self.env.reset(seed=seed, options=options)
        self.rng = np.random.default_rng(int(self.env.unwrapped.np_random.integers(2**62)))
        share = self.rspec.hard_share
        # Drawn only when set, so that runs without it draw on exactly as before.
        self._hard = bool(share) and bool(self.rng.random() < share)
        self.draws = {'scale': self.rspec.scale, **({'hard': self._hard} if share else {})}
        if self._hard and self.corner is not None:
            self.draws['hard_depth'] = self.corner.depth
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
        lo, hi = self._range('delay_s')
        self._delay = int(self.rng.integers(round(lo / dt), round(hi / dt) + 1))
        d['delay_s'] = self._delay * dt
        ns = self._range('obs_noise_scale')
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
        info = {**first_info, **info, 'randomization': d, 'clean_obs': np.array(self._exact(obs))}
        if cut is not None:
            info['episode_record'] = cut
        self._seed, self._open = seed, True
        return self._noisy(obs), info

    def corner_state(self) -> Optional[Dict[str, Any]]:
        """Return the adaptive corner's state for a checkpoint (None: the depth is fixed)."""
        return self.corner.state_dict() if self.corner is not None else None

    def load_corner_state(self, state: Optional[Dict[str, Any]]) -> None:
        """Go on from a checkpoint's `corner_state` (None: from the ranges' start depth).

        :raises ValueError: a malformed state.
        """
        if self.corner is not None:
            self.corner = (CornerDepth.from_state(state) if state
                           else CornerDepth(self.full_spec.hard_start))

    def corner_spec(self) -> RandomizationSpec:
        """Return the spec of an episode at the corner now: this width, the depth reached.

        Every episode such a spec draws is a corner episode (``hard_share`` 1) at a fixed
        depth, so a test env given it (`pin`) runs the corner the training env is at.

        :raises ValueError: the ranges have no adaptive corner.
        """
        if self.corner is None:
            raise ValueError(f'{self.rspec.name}: no adaptive corner (hard_depth: auto) to test')
        return dataclasses.replace(self.rspec, hard_share=1.0, hard_auto=False,
                                   hard_depth=self.corner.depth, hard_tests=0)

    def pin(self, spec: RandomizationSpec) -> None:
        """Draw every following episode from ``spec`` (a test env's: no curriculum moves it).

        ``spec`` sets its corner's depth (`corner_spec`): no adaptive depth follows here.
        """
        self.full_spec = self.rspec = spec
        self.corner = None

    def set_step_clock(self, clock: Callable[[], int]) -> None:
        """Stamp each episode's record with ``clock()`` when it ends: the run's step count."""
        self._step_clock = clock

    def record(self, fell: bool) -> Dict[str, Any]:
        """Return the episode's draws with its outcome so far (`OUTCOME_KEYS`), as logged."""
        out = {'seed': self._seed, **self.draws, 'up_s': round(self._time, 4), 'fell': fell,
               'kicks': [[t, round(v, 4), round(math.degrees(b), 1)] for t, v, b in self.kicks]}
        if self._step_clock is not None:
            out['step'] = int(self._step_clock())
        return out

    def _end_episode(self, fell: bool) -> Optional[Dict[str, Any]]:
        """Return the open episode's record, logged; None when none is open."""
        if not self._open:
            return None
        self._open = False
        record = self.record(fell)
        if self._hard and self.corner is not None and not self.rspec.hard_tests:
            self.corner.record(fell)
        if self.log_path:
            with open(self.log_path, 'a', encoding='utf-8') as fh:
                fh.write(json.dumps(record) + '\n')
        return record

    def close(self) -> None:
        """Record an episode still open, then close the env."""
        self._end_episode(fell=False)
        super().close()

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

    def _kick_heading(self) -> float:
        """Return the world heading (rad) of the kick now: any, or at ``push_bearing_deg``.

        A bearing range is taken from the robot's heading at the kick; without one the
        heading is drawn over the circle as it always was, so that runs before the knob draw
        the same kicks.
        """
        bearing = self.rspec.ranges.get('push_bearing_deg')
        if bearing is None:
            return float(self.rng.uniform(0, 2 * math.pi))
        quat = self.data.qpos[self.base_qpos + 3:self.base_qpos + 7]
        return yaw(quat) + math.radians(float(self.rng.uniform(*bearing)))

    def _kicks_on(self) -> bool:
        """Kicks need a speed and an interval: either at 0 turns them off (`KNOBS`)."""
        return (self.rspec.range('push_velocity')[1] > 0
                and self.rspec.range('push_interval_s')[1] > 0)

    def _noisy(self, obs: np.ndarray) -> np.ndarray:
        obs = np.array(obs, dtype=np.float64)
        if self._noise_scale:
            for term, amp in self.rspec.obs_noise.items():
                s = self.slices.get(term)
                if s is not None and amp and term not in self.on_state:
                    a = amp * self._noise_scale
                    obs[s] += self.rng.uniform(-a, a, s.stop - s.start) * self._factor(term)
        for term, b in self._bias.items():
            if term not in self.on_state:
                obs[self.slices[term]] += b * self._factor(term)
        return obs

    def _exact(self, obs: np.ndarray) -> np.ndarray:
        """Return ``obs`` without the noise drawn on the sensors' state (`on_state`)."""
        return self.env.unwrapped.exact(obs) if self.on_state else obs

    def _sensors(self, state: RobotState) -> RobotState:
        """Return ``state`` as the episode's noisy, biased sensors read it (`on_state`)."""
        changed = {}
        for term in self.on_state:
            amp = self.rspec.obs_noise.get(term, 0.0) * self._noise_scale
            bias = self._bias.get(term)
            if term not in self.slices or not (amp or bias is not None):
                continue
            value = np.array(getattr(state, SENSOR_FIELDS[term]), dtype=np.float64)
            if amp:
                value += self.rng.uniform(-amp, amp, value.shape)
            if bias is not None:
                value += bias
            changed[SENSOR_FIELDS[term]] = value
        return dataclasses.replace(state, **changed) if changed else state

    def _factor(self, term: str) -> 'np.ndarray | float':
        return self.factors.get(term, 1.0)

    def with_previous(self, obs: np.ndarray, action: np.ndarray) -> np.ndarray:
        """Return a copy of ``obs`` whose previous-action term holds ``action`` (scaled).

        A teacher that acted without delay saw as its previous action the command its motors
        had: under a delay that is the applied action, not the one last sent.
        """
        out = np.array(obs, dtype=np.float64)
        prev = self.slices.get('previous_action')
        if prev is not None:
            out[prev] = np.asarray(action, dtype=np.float64) * self._factor('previous_action')
        return out

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
            lo, hi = self._range('push_velocity')
            v, heading = float(self.rng.uniform(lo, hi)), self._kick_heading()
            kick = (v * math.cos(heading), v * math.sin(heading))
            u = self.env.unwrapped
            if hasattr(u, 'push'):
                u.push(kick)            # its IMU feels the kick
            else:
                self.data.qvel[self.base_dof:self.base_dof + 2] += kick
            quat = self.data.qpos[self.base_qpos + 3:self.base_qpos + 7]
            bearing = math.remainder(heading - yaw(quat), 2 * math.pi)
            self.kicks.append((round(self._time, 4), v, bearing))
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
        # with_previous returns a new array and _noisy copies it: no copy owed for the info.
        clean = self.with_previous(self._exact(obs), sent)
        obs = self.with_previous(obs, sent) if self.on_state else clean
        info['applied_action'] = applied
        info['delay_physics_steps'] = delay
        info['clean_obs'] = clean
        if terminated or truncated:
            info['episode_record'] = self._end_episode(fell=bool(terminated))
        return self._noisy(obs), reward, terminated, truncated, info


def randomize_env(env: gym.Env, spec: Optional[RandomizationSpec], robot: RobotDescription,
                  log_path: Optional[str] = None) -> gym.Env:
    """Return ``env`` wrapped in `Randomized`, or ``env`` itself when ``spec`` moves nothing.

    Leaving a nominal spec unwrapped keeps ``--randomize none`` bit for bit as before.
    """
    if spec is None or spec.is_nominal:
        return env
    return Randomized(env, spec, robot, log_path)


__all__ = ['OUTCOME_KEYS', 'Randomized', 'episode_step', 'randomize_env']

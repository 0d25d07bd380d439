"""Velocity-command locomotion for any pd_position robot: follow (vx, vy, yaw rate).

The policy acts every control period (50 Hz for the G1); each action sets joint position
targets, and the PD law (`symphony_ros.robot.pd`, run by the model's position servos, see
`symphony_ros.robot.model`) turns them into torque at every physics step (200 Hz for the G1).
The actor observes spec 'velocity' through the one `ObservationBuilder` (IMU angular
velocity, projected gravity, joint positions minus default, joint velocities, previous
action, command), and 'velocity_gait' (the same plus a gait clock, `symphony_ros.robot.gait`)
when the task has a ``gait_period``: then the gait terms reward each foot for being down or
swinging when the clock says. Commands are drawn at reset and redrawn every
``resample_steps`` control steps, a ``standing_fraction`` of them zero. The reward is a sum of
named, weighted terms (`VelocityTask.weights`); ``info['reward_terms']`` carries each weighted
term of the step, so training logs them apart. An episode ends when the robot falls (base
below ``fall.min_base_height`` or tilted past ``fall.max_tilt`` in its robot file) and is
truncated after ``episode_steps`` control steps (1,000 = 20 s for the G1).
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, Optional, Tuple

import gymnasium as gym
import mujoco
import numpy as np

from .command_terms import CommandLayout
from .description import RobotDescription
from .falls import has_fallen
from .gait import GaitClock
from .mirror import Mirror, joint_mirror, terms_mirror
from .model import build_model, home_qpos
from .mujoco_state import MujocoStateReader, joint_addresses, with_push
from ..core.config import ODOMETRY_SOURCES, STAND_GAITS
from .leg_odometry import LegOdometry
from .observations import ObservationBuilder
from .pd import PDLaw
from .rotations import projected_gravity
from .state import RobotState
from .velocity_commands import check_shares, draw_command
from .velocity_reward import VelocityReward

TASK = 'velocity'
OBS_SPEC = 'velocity'
GAIT_OBS_SPEC = 'velocity_gait'
GAIT_SCALED_OBS_SPEC = 'velocity_gait_scaled'
GAIT_TURN_OBS_SPEC = 'velocity_gait_turn'
GAIT_ODOM_OBS_SPEC = 'velocity_gait_odom'

DEFAULT_WEIGHTS = {
    'track_lin_vel': 1.0, 'track_ang_vel': 0.5, 'alive': 0.15, 'upright': -1.0,
    'base_height': -10.0, 'action_rate': -0.01, 'torque': -1e-5, 'joint_limit': -5.0,
    'foot_slip': -0.1, 'air_time': 0.5, 'gait_contact': 0.0, 'swing_height': 0.0,
    'joint_ref': 0.0, 'lin_vel_error': 0.0, 'ang_vel_error': 0.0, 'track_yaw_stride': 0.0}
"""Per control step; proportions after legged_gym / unitree_rl_gym's humanoid settings. The
gait terms score nothing without a gait clock (``gait_period`` 0), hence weight 0 here.
``lin_vel_error`` and ``ang_vel_error`` are the tracking errors' magnitudes (m/s, rad/s):
the exponential kernels are flat far from the command (a 1.2 rad/s spin earns 0.3 % of
``track_ang_vel`` and little gradient to stop), a linear penalty is not. Linear, not
squared: a falling robot's velocity errors are large, and a squared penalty strong enough
at 1 rad/s outweighs ``alive`` there, which pays a policy to end its episodes early. 0
unless a run weighs them. ``track_yaw_stride`` is the yaw kernel on the rate averaged over
the last gait cycle (`YawWindow`): a stepping base's twist within each step does not count
against a turn. Last, so that the older terms keep their places in a stored replay."""


REWARD_TERMS = tuple(DEFAULT_WEIGHTS)
"""Order of the unweighted terms in ``info['reward_raw']`` (the replay keeps them to re-score)."""


def parse_weights(text: str, where: str = '--reward-weights',
                  terms: Iterable[str] = tuple(DEFAULT_WEIGHTS)) -> Dict[str, float]:
    """Return {term: weight} of ``term=weight,term=weight``, each term one of ``terms``.

    :raises ValueError: naming ``where``: a pair without '=', an unknown term, or a weight that
        is not a finite number.
    """
    known = tuple(terms)
    out: Dict[str, float] = {}
    for pair in filter(None, (p.strip() for p in text.split(','))):
        term, eq, value = (x.strip() for x in pair.partition('='))
        if not eq or term not in known:
            raise ValueError(f'{where} {pair!r}: expected term=weight with a term of '
                             f'{", ".join(known)}')
        try:
            out[term] = float(value)
        except ValueError:
            out[term] = math.nan
        if not math.isfinite(out[term]):
            raise ValueError(f'{where} {pair!r}: the weight must be a finite number')
    return out


def _check_reference(robot: RobotDescription, given: Dict[str, Any]) -> None:
    """Turn a robot file's ref_joints/ref_shape into tuples, refusing what does not fit.

    :raises ValueError: naming the robot file: a row per foot, of ref_shape's length, of the
        robot's joints.
    """
    rows = [tuple(row) for row in given.get('ref_joints') or ()]
    shape = tuple(float(x) for x in given.get('ref_shape') or ())
    where = f'{robot.source}: tasks.{TASK}.ref_joints'
    if rows and len(rows) != len(robot.feet):
        raise ValueError(f'{where}: expected one row per foot ({len(robot.feet)}), got '
                         f'{len(rows)}')
    for row in rows:
        if len(row) != len(shape):
            raise ValueError(f'{where}: row {list(row)} has {len(row)} joints, ref_shape '
                             f'{len(shape)} values')
        unknown = [j for j in row if j not in robot.joint_names]
        if unknown:
            raise ValueError(f'{where}: {unknown[0]!r} is not a joint of {robot.name!r}')
    if 'ref_joints' in given or 'ref_shape' in given:
        given['ref_joints'], given['ref_shape'] = tuple(rows), shape


@dataclass(frozen=True)
class VelocityTask:
    """Settings of the velocity task; a robot file's ``tasks.velocity`` overrides them."""

    episode_steps: int = 1000
    """Control steps before truncation (20 s at 50 Hz)."""
    resample_steps: int = 500
    """A new command every this many control steps (and at reset)."""
    lin_vel_x: Tuple[float, float] = (-0.5, 1.0)
    """m/s range of the forward command."""
    lin_vel_y: Tuple[float, float] = (-0.5, 0.5)
    """m/s range of the sideways command."""
    yaw_rate: Tuple[float, float] = (-1.0, 1.0)
    """rad/s range of the turning command."""
    standing_fraction: float = 0.1
    """Share of commands that are zero (stand still)."""
    turning_fraction: float = 0.0
    """Share of commands that turn in place: a yaw rate drawn from ``yaw_rate`` (at least
    half its largest magnitude) and no linear velocity. Drawn jointly, a command rarely asks
    to turn without walking, so a policy meets that command seldom."""
    tracking_sigma: float = 0.25
    """Tracking rewards are exp(-error^2 / sigma), error in (m/s)^2 or (rad/s)^2."""
    gait_free_error: float = 0.0
    """m/s; while the base's planar velocity misses its command by more than this (a kick
    threw it), the gait terms (gait_contact, swing_height, joint_ref) pay nothing, so a
    recovery step out of the clock's rhythm, or off the standing pose, costs nothing (told to
    stand, they ask for both feet down). 0: never."""
    stand_gait: str = 'still'
    """What the gait terms ask of a robot told to stand (`STAND_GAITS`): still, every foot
    down in the default pose; step, stepping in place on the clock, as when walking."""
    air_time_target: float = 0.4
    """s; a foot landing after a longer swing earns (air time - target)."""
    soft_limit_factor: float = 0.9
    """Share of each joint range (about its middle) beyond which joint_limit penalises."""
    reset_joint_noise: float = 0.05
    """rad; uniform noise on the default pose at reset."""
    gait_period: float = 0.0
    """s per gait cycle; > 0 gives the policy a gait clock (observation 'velocity_gait') and
    scores the gait terms; 0: no clock (observation 'velocity')."""
    gait_stance: float = GaitClock.stance
    """Share of the gait cycle each foot is expected down."""
    swing_height: float = 0.08
    """m a swinging foot should rise above where it stood at reset."""
    ref_joints: Tuple[Tuple[str, ...], ...] = ()
    """Per foot (the robot file's ``feet`` order), the joints of its reference swing for the
    joint_ref term, e.g. hip pitch, knee, ankle pitch (humanoid-gym's reference gait)."""
    ref_shape: Tuple[float, ...] = ()
    """rad per joint of a ``ref_joints`` row at mid-swing: each joint's reference is its
    default + shape x sin(pi x swing progress), the default while the foot is down."""
    weights: Dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    """Reward term -> weight; terms are defined in `VelocityReward.terms`."""

    @classmethod
    def for_robot(cls, robot: RobotDescription) -> 'VelocityTask':
        """Return the defaults overridden by the robot file's ``tasks.velocity`` mapping.

        :raises ValueError: an unknown setting or reward term, naming the robot file.
        """
        given = dict(robot.tasks.get(TASK, {}))
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(given) - known)
        if unknown:
            raise ValueError(f'{robot.source}: tasks.{TASK}.{unknown[0]}: unknown setting; '
                             f'expected one of {", ".join(sorted(known))}')
        weights = dict(DEFAULT_WEIGHTS)
        for term, w in dict(given.pop('weights', {}) or {}).items():
            if term not in DEFAULT_WEIGHTS:
                raise ValueError(f'{robot.source}: tasks.{TASK}.weights.{term}: unknown reward '
                                 f'term; expected one of {", ".join(DEFAULT_WEIGHTS)}')
            weights[term] = float(w)
        if float(given.get('gait_period', 0.0)) < 0:
            raise ValueError(f'{robot.source}: tasks.{TASK}.gait_period: expected s >= 0 (0: '
                             f'no gait clock), got {given["gait_period"]}')
        _check_reference(robot, given)
        if given.get('stand_gait', 'still') not in STAND_GAITS:
            raise ValueError(f'{robot.source}: tasks.{TASK}.stand_gait: expected one of '
                             f'{", ".join(STAND_GAITS)}, got {given["stand_gait"]!r}')
        for key in ('lin_vel_x', 'lin_vel_y', 'yaw_rate'):
            if key in given:
                lo, hi = given[key]
                if not lo <= hi:
                    raise ValueError(f'{robot.source}: tasks.{TASK}.{key}: inverted range '
                                     f'[{lo}, {hi}]')
                given[key] = (float(lo), float(hi))
        return cls(weights=weights, **given)

    @property
    def obs_spec(self) -> str:
        """Return the observation the task gives: with the gait clock or without."""
        return self.obs_specs[0]

    @property
    def obs_specs(self) -> Tuple[str, ...]:
        """Return the observations a policy of this task may take, the default first.

        With a clock the scaled one leads: raw, the joint velocities drown the command in
        the actor's first layer (`VELOCITY_SCALES`), and no G1 actor trained on it followed
        one; every recipe and shipped policy observes the scaled spec.
        """
        if self.gait_period > 0:
            return (GAIT_SCALED_OBS_SPEC, GAIT_TURN_OBS_SPEC, GAIT_ODOM_OBS_SPEC, GAIT_OBS_SPEC,
                    OBS_SPEC)
        return (OBS_SPEC,)

    def gait_clock(self, dt: float) -> Optional[GaitClock]:
        """Return the task's gait clock at control period ``dt`` (None: no clock)."""
        if self.gait_period <= 0:
            return None
        return GaitClock(self.gait_period, dt, self.gait_stance)

    def command_ranges(self) -> Dict[str, Tuple[float, float]]:
        """Return the command ranges the policy is trained on (for the contract)."""
        return {'lin_vel_x': self.lin_vel_x, 'lin_vel_y': self.lin_vel_y,
                'yaw_rate': self.yaw_rate}


class VelocityEnv(gym.Env):
    """One pd_position robot on flat ground following a velocity command."""

    metadata = {'render_modes': []}

    def __init__(self, robot: RobotDescription, task: Optional[VelocityTask] = None,
                 env_id: str = '', obs_spec: str = '', odometry: str = 'sim') -> None:
        """Build the model once; resolve joints, feet and the base by name.

        :param obs_spec: the observation to give (empty: the task's). The reward is the
            task's either way: a policy that does not see the gait clock ('velocity') is still
            scored on the gait terms, as the sim node and a recording score it.
        :param odometry: where the observation's base velocity comes from: 'sim', the
            simulator's; 'legs', `LegOdometry` on the joints and the IMU, as a robot without
            a state estimator would give it (the reward, the critic and the falls still read
            the simulator's).
        :raises ValueError: a spec not in the task's `obs_specs` (a gait spec on a task with
            no gait clock), or leg odometry for a spec that reads no odometry.
        """
        self.robot = robot
        self.task = task or VelocityTask.for_robot(robot)
        obs_spec = obs_spec or self.task.obs_spec
        if obs_spec not in self.task.obs_specs:
            gait = ('' if self.task.gait_period > 0 else f' (the others need a gait clock: '
                    f'tasks.{TASK}.gait_period > 0 in {robot.source})')
            raise ValueError(f'task {TASK!r} on {robot.name!r}: observation {obs_spec!r}; '
                             f'expected one of {", ".join(self.task.obs_specs)}{gait}')
        self.law = PDLaw(robot)
        self.model = build_model(robot)
        self.data = mujoco.MjData(self.model)
        self.reader = MujocoStateReader(self.model, robot)
        self.builder = ObservationBuilder(obs_spec, robot)
        self.odometry = odometry_source(odometry, self.builder, robot)
        """The leg odometry the observation reads (None: the simulator's state)."""
        self.sensors: Optional[Callable[[RobotState], RobotState]] = None
        """What the robot's sensors make of the true state, before the leg odometry reads it
        (a randomising wrapper draws its noise here); None: exact."""
        self._exact_obs: Optional[np.ndarray] = None
        self._push = np.zeros(3)
        """Kicks given since the last step (m/s, world), which the step's IMU feels."""
        self._phase = np.zeros(2)
        self.qa, self.da = joint_addresses(self.model, robot.joint_names)
        self.home = home_qpos(self.model, robot)
        self.rewards = VelocityReward(robot, self.task, self.model)
        """The task's reward terms (one definition with the sim node and the evaluator)."""
        self.clock = self.rewards.clock if obs_spec != OBS_SPEC else None
        """The gait clock the policy observes (the reward's; None: it observes none)."""
        self.dt = robot.control_dt
        self.frame_skip = robot.frame_skip
        """Physics steps the next `step` takes (a delay wrapper shortens one period)."""
        n = robot.n_joints
        self.action_space = gym.spaces.Box(-1.0, 1.0, (n,), np.float32)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (self.builder.dim,),
                                                np.float64)
        n_feet = len(robot.feet)
        self.critic_terms = self.builder.spec.terms + (
            ('base_lin_vel', 3), ('base_height', 1), ('feet_contact', n_feet),
            ('feet_lift', n_feet), ('yaw_rate_stride', 1))
        """Layout of ``info['critic_obs']``: the observation, then what a robot's sensors do
        not give the policy (`critic_observation`)."""
        self.critic_observation_space = gym.spaces.Box(
            -np.inf, np.inf, (sum(size for _, size in self.critic_terms),), np.float64)
        # Gymnasium ids are [namespace/]name-vN: the project id ('velocity:<robot file>')
        # stays in metadata['env_id']; the spec carries the time limit.
        gym_id = 'symphony/' + re.sub(r'[^A-Za-z0-9_]', '_', f'{TASK}_{robot.name}') + '-v0'
        self.spec = gym.envs.registration.EnvSpec(gym_id,
                                                  max_episode_steps=self.task.episode_steps)
        self.metadata = {'render_modes': [], 'obs_spec': self.builder.spec.to_dict(),
                         'task': TASK, 'robot': robot.name,
                         'env_id': env_id or f'{TASK}:{robot.name}'}
        self.command = np.zeros(3)
        self.prev_action = np.zeros(n)
        self._target = np.zeros(n)
        self._tau = np.zeros(n)
        self._steps = 0
        self.clock_start = 0
        """Gait-clock tick of the episode's first step, drawn at reset: a deployed policy's
        clock is at any phase when the robot it drives is reset (the sim node's episodes), so
        training starts episodes at every phase too."""
        self._state = None

    # ---- commands -------------------------------------------------------------------------
    def _draw_command(self) -> None:
        self.command[:] = draw_command(self.task, self.np_random)

    # ---- gym API --------------------------------------------------------------------------
    def reset(self, *, seed: Optional[int] = None, options: Optional[Dict[str, Any]] = None
              ) -> Tuple[np.ndarray, Dict[str, Any]]:
        """Stand the robot in its default pose (plus noise) with a fresh command."""
        super().reset(seed=seed)
        d = self.data
        mujoco.mj_resetData(self.model, d)
        d.qpos[:] = self.home
        noise = self.task.reset_joint_noise
        d.qpos[self.qa] += self.np_random.uniform(-noise, noise, self.robot.n_joints)
        mujoco.mj_forward(self.model, d)
        self._draw_command()
        if self.clock is not None:
            self.clock_start = int(self.np_random.integers(self.clock.cycle_ticks))
        self.prev_action[:] = 0.0
        self._push[:] = 0.0
        self.rewards.reset(d)
        self._steps = 0
        self._state = self.reader.read(d)
        if self.odometry is not None:
            self.odometry.reset()
        obs = self._observe()
        return obs, {'command': self.command.copy(),
                     'critic_obs': self.critic_observation(self.exact(obs))}

    def step(self, action: np.ndarray
             ) -> Tuple[np.ndarray, float, bool, bool, Dict[str, Any]]:
        """Hold the action's targets for one control period, PD at every physics step."""
        # minimum(maximum()) is np.clip without its Python-level dispatch (a few us a step).
        a = np.minimum(np.maximum(np.asarray(action, dtype=np.float64).reshape(-1), -1.0), 1.0)
        d = self.data
        # The model's position servos run the PD law at every physics step (robot.model).
        d.ctrl[:] = self.law.target(a, out=self._target)
        mujoco.mj_step(self.model, d, nstep=self.frame_skip)
        self._tau[:] = d.actuator_force  # the last physics step's torque
        self._state = with_push(self.reader.read(d), self._push, self.robot.control_dt)
        self._push[:] = 0.0
        gravity = projected_gravity(self._state.base_orientation)
        fallen = has_fallen(float(self._state.base_position[2]), self._state.base_orientation,
                            self.robot.healthy_z, self.robot.fall_max_tilt)
        self._steps += 1
        terms = self.rewards.terms(d, self._state, a, self.prev_action, self.command,
                                   self._tau, gravity, self.clock_start + self._steps)
        reward = float(sum(terms.values()))
        self.prev_action[:] = a
        if self._steps % self.task.resample_steps == 0:
            self._draw_command()
        obs = self._observe()
        truncated = self._steps >= self.task.episode_steps
        raw = self.rewards.raw
        return obs, reward, fallen, truncated, {'reward_terms': terms,
                                                'reward_raw': np.array([raw[k] for k in
                                                                        REWARD_TERMS]),
                                                'command': self.command.copy(),
                                                'critic_obs': self.critic_observation(
                                                    self.exact(obs))}

    reward_term_names = REWARD_TERMS
    """Names of ``info['reward_raw']``'s entries: each step's terms before weighting."""

    def push(self, velocity: Tuple[float, float]) -> None:
        """Add ``velocity`` (vx, vy) m/s, world frame, to the base's velocity (a kick).

        The IMU feels it over the step that follows (`with_push`), as the leg odometry's
        accelerometer would a real push.
        """
        v = self.reader.base_dof
        self.data.qvel[v:v + 2] += velocity
        self._push[:2] += velocity

    def reward_weight_vector(self) -> np.ndarray:
        """Return the weights of ``reward_term_names``: reward = weights @ info['reward_raw']."""
        return np.array([self.task.weights.get(k, 0.0) for k in REWARD_TERMS])

    def reobserve(self) -> Tuple[np.ndarray, Dict[str, Any]]:
        """Observe the current state again (after a wrapper changed it at reset)."""
        self._state = self.reader.read(self.data)
        self.rewards.track_feet(self.data)
        if self.odometry is not None:
            self.odometry.reset()
        obs = self._observe()
        return obs, {'command': self.command.copy(),
                     'critic_obs': self.critic_observation(self.exact(obs))}

    def critic_observation(self, obs: np.ndarray) -> np.ndarray:
        """Return the privileged observation of a critic: ``obs`` exact, plus the hidden state.

        After the policy's observation (as built here, before any wrapper's noise): the base
        velocity in the base frame (m/s), the base height above nominal (m), which feet touch
        the floor, each foot's height above where it stood at reset (m), and the yaw rate
        averaged over the last gait cycle (rad/s, `YawWindow`). The tracking and
        gait rewards are functions of these; a critic that sees them need not infer them from
        joint motion. No sensor on the robot gives them, so only the critic may see them.
        """
        s, d = self._state, self.data
        z0 = self.robot.nominal_base_height
        height = float(s.base_position[2]) - (z0 if z0 is not None else 0.0)
        lift = d.xpos[self.rewards.feet, 2] - self.rewards.feet_z0
        return np.concatenate([obs, s.base_lin_vel, (height,),
                               self.rewards.feet_contact(d).astype(np.float64), lift,
                               (self.rewards.yaw.mean,)])

    def exact(self, obs: np.ndarray) -> np.ndarray:
        """Return the last observation ``obs`` as exact sensors would have built it.

        ``obs`` itself unless `sensors` made it: then its joint and IMU terms are the
        simulator's, its odometry the estimate the leg odometry made of the noisy sensors
        (that is what the actor had, whatever its cause).
        """
        return obs if self._exact_obs is None else self._exact_obs

    def _observe(self) -> np.ndarray:
        phase = (None if self.clock is None else
                 self.clock.observe(self.clock_start + self._steps, self._phase))
        self._exact_obs = None
        if self.odometry is None:
            return self._build(self._state, phase)
        measured = self._state if self.sensors is None else self.sensors(self._state)
        estimate = self.odometry.update(measured)
        if measured is not self._state:
            self._exact_obs = self._build(self._state.with_odometry(
                {'base_position': estimate.base_position,
                 'base_lin_vel': estimate.base_lin_vel}), phase)
        return self._build(estimate, phase)

    def _build(self, state: RobotState, phase: Optional[np.ndarray]) -> np.ndarray:
        return self.builder.build(state, self.prev_action, command=self.command,
                                  gait_phase=phase)

    def mirror_maps(self) -> Tuple[Mirror, Mirror, Mirror]:
        """Return the left-right mirror maps of (observation, action, critic observation).

        The task is symmetric: its commands, gait clock and reward terms treat left and right
        alike, so a mirrored transition is as valid as the one it came from.

        :raises ValueError: a robot that is not left-right symmetric (naming the joint).
        """
        what = self.metadata['env_id']
        joints = joint_mirror(self.robot, self.model)
        return (terms_mirror(self.builder.spec.terms, self.robot, what, joints), joints,
                terms_mirror(self.critic_terms, self.robot, what + ' critic observation',
                             joints))

    def command_layout(self) -> CommandLayout:
        """Return where a transition holds the command and the velocity its reward measured.

        For relabelling stored transitions with other commands (`core.relabel`).
        """
        spec = self.builder.spec
        obs = spec.slices()
        critic = dataclasses.replace(spec, terms=self.critic_terms).slices()
        factor = spec.scale_vector()
        factor = np.ones(spec.dim) if factor is None else factor
        cmd, yaw = obs['command'], obs['imu_angular_velocity'].start + 2
        return CommandLayout(
            command=(cmd.start, cmd.stop),
            command_scale=tuple(float(x) for x in factor[cmd]),
            lin_vel=critic['base_lin_vel'].start,
            yaw_rate=yaw,
            yaw_rate_scale=float(factor[yaw]),
            yaw_stride=critic['yaw_rate_stride'].start,
            ranges=(tuple(self.task.lin_vel_x), tuple(self.task.lin_vel_y),
                    tuple(self.task.yaw_rate)),
            sigma=self.task.tracking_sigma, gait_free_error=self.task.gait_free_error)

    def robot_state(self):
        """Return the `RobotState` of the current observation."""
        return self._state

    def previous_action(self) -> np.ndarray:
        """Return the previous action as the observation sees it (a copy)."""
        return self.prev_action.copy()


def odometry_source(which: str, builder: ObservationBuilder, robot: RobotDescription
                    ) -> Optional[LegOdometry]:
    """Return the `LegOdometry` an observation reads (None: the simulator's state).

    :raises ValueError: an unknown source, or 'legs' for a spec that reads no odometry (or a
        robot without feet).
    """
    if which not in ODOMETRY_SOURCES:
        raise ValueError(f'odometry: expected one of {", ".join(ODOMETRY_SOURCES)}, got '
                         f'{which!r}')
    if which == 'sim':
        return None
    if 'odom' not in builder.spec.needs:
        raise ValueError(f'odometry legs: observation {builder.spec.name!r} reads no '
                         f'odometry; the leg odometry feeds a spec with odom among its inputs '
                         f'(e.g. {GAIT_ODOM_OBS_SPEC})')
    return LegOdometry(robot)


def _check_clock(robot: RobotDescription, task: VelocityTask, flag: str, what: str,
                 tail: str = '') -> None:
    """Refuse setting ``flag`` of the gait terms for a task without a gait clock."""
    if task.gait_period <= 0:
        raise ValueError(f'{flag}: {robot.name!r} ({robot.source}) {what}: its '
                         f'tasks.{TASK}.gait_period is 0{tail}')


def make_velocity_env(robot: RobotDescription, env_id: str = '', obs_spec: str = '',
                      reward_weights: Optional[Dict[str, float]] = None,
                      commands: Optional[Dict[str, Any]] = None,
                      tracking_sigma: Optional[float] = None, odometry: str = 'sim',
                      gait_free_error: Optional[float] = None,
                      stand_gait: Optional[str] = None, **kwargs: Any) -> gym.Env:
    """Return the velocity task on ``robot`` (a pd_position robot).

    :param obs_spec: the observation to give (one of the task's `obs_specs`; empty: the one
        the robot file's task settings give).
    :param reward_weights: weights over the robot file's task (a run's --reward-weights).
    :param commands: command ranges over the robot file's (a run's --commands,
        `parse_commands`).
    :param tracking_sigma: the tracking rewards' width over the robot file's (a run's
        --tracking-sigma).
    :param odometry: the observation's odometry source (a run's --odometry, `VelocityEnv`).
    :param gait_free_error: `VelocityTask.gait_free_error` over the robot file's (a run's
        --gait-free-error).
    :param stand_gait: `VelocityTask.stand_gait` over the robot file's (a run's --stand-gait).
    :raises ValueError: a torque robot, a bad ``tasks.velocity`` in its robot file, an
        observation the task cannot give, or ``gait_free_error`` or ``stand_gait`` for a task
        without a gait clock (or a stand gait not in `STAND_GAITS`).
    """
    if robot.action_kind != 'pd_position':
        raise ValueError(f'task {TASK!r} needs a pd_position robot; {robot.name!r} '
                         f'({robot.source}) has action kind {robot.action_kind!r}')
    if kwargs:
        raise ValueError(f'velocity env: unknown options {", ".join(sorted(kwargs))}')
    task = VelocityTask.for_robot(robot)
    if reward_weights:
        task = dataclasses.replace(task, weights={**task.weights, **reward_weights})
    if commands:
        task = dataclasses.replace(task, **commands)
        check_shares(task.standing_fraction, task.turning_fraction,
                     '--commands over the robot file\'s task')
    if tracking_sigma:
        task = dataclasses.replace(task, tracking_sigma=float(tracking_sigma))
    if gait_free_error:
        _check_clock(robot, task, '--gait-free-error', 'scores no gait terms to free',
                     ' (no gait clock)')
        task = dataclasses.replace(task, gait_free_error=float(gait_free_error))
    if stand_gait:
        if stand_gait not in STAND_GAITS:
            raise ValueError(f'--stand-gait: expected one of {", ".join(STAND_GAITS)}, got '
                             f'{stand_gait!r}')
        _check_clock(robot, task, '--stand-gait', 'has no gait clock to step on')
        task = dataclasses.replace(task, stand_gait=stand_gait)
    return VelocityEnv(robot, task, env_id=env_id, obs_spec=obs_spec, odometry=odometry)


__all__ = ['DEFAULT_WEIGHTS', 'GAIT_ODOM_OBS_SPEC', 'GAIT_OBS_SPEC', 'GAIT_SCALED_OBS_SPEC',
           'GAIT_TURN_OBS_SPEC', 'VelocityEnv', 'VelocityTask', 'make_velocity_env',
           'odometry_source', 'parse_weights']

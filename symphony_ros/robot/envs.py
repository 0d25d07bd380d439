"""Project training environments: Gymnasium's Humanoid-v4 observed through the one builder.

`StateObservation` keeps Humanoid-v4's dynamics, reward, termination, reset noise and time
limit, and replaces the observation with `ObservationBuilder.build` of the state a real robot
would publish (`MujocoStateReader`). The deploy-side node calls the same builder on the same
kind of state, so training and deployment observations agree by construction.

Gymnasium's own observation reads cinert, cvel and cfrc_ext after mj_step, i.e. from
MuJoCo's last internal evaluation (the fourth Runge-Kutta stage), which no measured state
reproduces; spec 'gym_humanoid_v4' keeps it for reproducing published numbers, flagged
non-deployable in ``env.metadata['obs_spec']``.

`ENVS` lists the fixed env ids; `TASKS` the tasks an id ``<task>:<robot>`` may name, the
robot by shipped name or robot-file path (``velocity:g1``, ``velocity:/path/robot.yaml``).
The registry in `symphony_ros.core.envs` imports this module; nothing here imports it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, SupportsFloat, Tuple

import gymnasium as gym
import numpy as np

from .description import RobotDescription, get_robot
from .mujoco_state import MujocoStateReader
from .obs_specs import get_obs_spec
from .observations import ObservationBuilder
from .state import RobotState

CRITIC_SPEC = 'humanoid_v4_full'
"""Full-state observation put in ``info['critic_obs']`` (for an asymmetric critic)."""

HUMANOID_SPECS = ('humanoid_v4_full', 'humanoid_v4_action', 'humanoid_v4_torque', 'proprioceptive',
                  'gym_humanoid_v4')
"""Observation specs of the project's Humanoid-v4; the first is the default."""


class StateObservation(gym.Wrapper):
    """Replace a MuJoCo env's observation with the builder's output from the current state.

    ``info['critic_obs']`` carries the full-state observation (`CRITIC_SPEC`) every step.
    For specs that need the previous action, it is the last action passed to `step` as
    given (before MuJoCo clamps it to ctrlrange), zeros after reset.

    ``action_rate`` (a weight, 0: the env's reward as it is) adds that times the squared
    change of the action clamped to ctrlrange (what MuJoCo applies) to each step's reward,
    reported in ``info['reward_terms']``: a negative weight charges a policy for flipping its
    torques from step to step, which a simulator forgives and a delay in the loop does not.
    ``info['reward_raw']`` holds (Gymnasium's reward, the squared change) whatever the weight.
    """

    reward_term_names = ('env', 'action_rate')
    """Names of ``info['reward_raw']``'s entries: 'env' is Gymnasium's reward, weight 1."""

    def __init__(self, env: gym.Env, obs_spec: str,
                 robot: Optional[RobotDescription] = None, action_rate: float = 0.0):
        """Wrap ``env`` (a Gymnasium MuJoCo env of ``robot``) to observe spec ``obs_spec``."""
        super().__init__(env)
        self.robot = robot or get_robot()
        self.action_rate = float(action_rate)
        self.obs_spec = get_obs_spec(obs_spec, self.robot)
        self._reader = MujocoStateReader(env.unwrapped.model, self.robot)
        self._critic = ObservationBuilder(CRITIC_SPEC, self.robot)
        self.critic_observation_space = gym.spaces.Box(-np.inf, np.inf, (self._critic.dim,),
                                                       np.float64)
        """Shape of ``info['critic_obs']``."""
        self._actor: Optional[ObservationBuilder] = None
        if self.obs_spec.reproducible_from_state and obs_spec != CRITIC_SPEC:
            self._actor = ObservationBuilder(obs_spec, self.robot)
        self._prev_action = np.zeros(self.robot.n_joints)
        self._state: Optional[RobotState] = None
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (self.obs_spec.dim,),
                                                np.float64)
        self.metadata = {**env.metadata, 'obs_spec': self.obs_spec.to_dict()}

    def robot_state(self) -> RobotState:
        """Return the `RobotState` the current observation was built from.

        :raises RuntimeError: before the first reset.
        """
        if self._state is None:
            raise RuntimeError('robot_state: call reset() first')
        return self._state

    def previous_action(self) -> np.ndarray:
        """Return the previous action as the observation sees it (a copy)."""
        return self._prev_action.copy()

    def reset(self, *, seed: Optional[int] = None, options: Optional[Dict[str, Any]] = None
              ) -> Tuple[np.ndarray, Dict[str, Any]]:
        """Reset the wrapped env and observe its initial state."""
        obs, info = self.env.reset(seed=seed, options=options)
        self._prev_action[:] = 0.0
        return self._observe(obs, info), info

    def step(self, action: np.ndarray
             ) -> Tuple[np.ndarray, SupportsFloat, bool, bool, Dict[str, Any]]:
        """Step the wrapped env with ``action`` unchanged and observe the new state."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        action = np.asarray(action, dtype=np.float64).reshape(-1)
        lo, hi = self.robot.ctrl_range[:, 0], self.robot.ctrl_range[:, 1]
        step = np.clip(action, lo, hi) - np.clip(self._prev_action, lo, hi)
        change = float(step @ step)
        info['reward_raw'] = np.array([float(reward), change])
        if self.action_rate:
            term = self.action_rate * change
            info['reward_terms'] = {'action_rate': term}
            reward = float(reward) + term
        self._prev_action[:] = action
        return self._observe(obs, info), reward, terminated, truncated, info

    def reward_weight_vector(self) -> np.ndarray:
        """Return the weights of ``reward_term_names``: reward = weights @ info['reward_raw']."""
        return np.array([1.0, self.action_rate])

    def reobserve(self) -> Tuple[np.ndarray, Dict[str, Any]]:
        """Observe the current state again (after a wrapper changed it at reset)."""
        info: Dict[str, Any] = {}
        return self._observe(self.env.unwrapped._get_obs(), info), info

    def _observe(self, gym_obs: np.ndarray, info: Dict[str, Any]) -> np.ndarray:
        self._state = self._reader.read(self.env.unwrapped.data)
        critic = self._critic.build(self._state)
        info['critic_obs'] = critic
        if self._actor is not None:
            return self._actor.build(self._state, self._prev_action)
        if self.obs_spec.name == CRITIC_SPEC:
            # A separate array: a learner editing obs in place must not change the info.
            return critic.copy()
        return np.asarray(gym_obs, dtype=np.float64)


HUMANOID_REWARD_TERMS = ('action_rate',)
"""Terms a run may weigh on top of Humanoid-v4's reward (``--reward-weights``); the paper's
reward is Gymnasium's alone (every weight 0)."""


def make_humanoid(obs_spec: str = HUMANOID_SPECS[0],
                  reward_weights: Optional[Dict[str, float]] = None, **kwargs: Any) -> gym.Env:
    """Return Gymnasium's Humanoid-v4 observed through spec ``obs_spec``.

    Reward, termination, reset noise and the 1000-step limit are Gymnasium's, plus the
    `HUMANOID_REWARD_TERMS` that ``reward_weights`` weighs; ``kwargs`` go to ``gym.make``
    (e.g. ``render_mode``).
    """
    return StateObservation(gym.make('Humanoid-v4', **kwargs), obs_spec, get_robot('humanoid'),
                            action_rate=(reward_weights or {}).get('action_rate', 0.0))


@dataclass(frozen=True)
class EnvEntry:
    """A project environment: its factory, observation specs and robot."""

    factory: Callable[..., gym.Env]
    obs_specs: Tuple[str, ...]
    """Observation specs the env can produce; the first is the default."""
    robot: str
    """Robot name or robot-file path (`get_robot` takes either)."""
    task: Optional[Dict[str, Any]] = None
    """What the deploy side must know of the task (e.g. command ranges), or None."""
    reward_terms: Tuple[str, ...] = ()
    """Terms ``--reward-weights`` may weigh (a task env: its own, from its task)."""


HUMANOID_ENV = 'symphony/Humanoid-v4'
"""The project's Humanoid-v4: Gymnasium's dynamics, reward and time limit, observation from
measured state. Its own id, so ``Humanoid-v4`` is not taken for Gymnasium's observation."""

ENVS: Dict[str, EnvEntry] = {
    HUMANOID_ENV: EnvEntry(make_humanoid, HUMANOID_SPECS, 'humanoid',
                           reward_terms=HUMANOID_REWARD_TERMS),
}
"""Fixed env ids."""

ALIASES: Dict[str, str] = {'Humanoid-v4': HUMANOID_ENV}
"""Earlier ids, still accepted (run folders and policies recorded them) with a one-line note."""

_NOTED: set = set()


def canonical_env_id(env_id: str) -> str:
    """Return the id ``env_id`` stands for (itself unless it is one of `ALIASES`)."""
    return ALIASES.get(env_id, env_id)


def _note_alias(env_id: str) -> None:
    """Say once per process what an alias maps to (logging: one line on stderr)."""
    if env_id not in _NOTED:
        _NOTED.add(env_id)
        logging.getLogger('symphony_ros').warning(
            'env %r is %s: Gymnasium\'s %s dynamics, reward and time limit with the observation '
            'built from measured state (Gymnasium\'s own observation: --obs-spec %s)',
            env_id, ALIASES[env_id], env_id, HUMANOID_SPECS[-1])


TASKS = ('velocity',)
"""Tasks an env id ``<task>:<robot>`` may name."""


def task_env_id(task: str, robot: str) -> str:
    """Return the env id of ``task`` on ``robot`` (a robot-file path is made absolute)."""
    if os.sep in robot or robot.endswith(('.yaml', '.yml')):
        robot = os.path.abspath(robot)
    return f'{task}:{robot}'


def lookup(env_id: str) -> Optional[EnvEntry]:
    """Return the entry of a project env id, None for an id that is not one.

    :raises ValueError: ``<task>:<robot>`` with an unknown task, an unknown robot, a robot
        file that is wrong, or a robot the task cannot drive.
    """
    if env_id in ALIASES:
        _note_alias(env_id)
        env_id = ALIASES[env_id]
    if env_id in ENVS:
        return ENVS[env_id]
    task, sep, robot_name = env_id.partition(':')
    if not sep or task not in TASKS:
        return None  # maybe a Gymnasium id ('module:Env-v0' is one too)
    from .velocity_env import VelocityTask, make_velocity_env
    robot = get_robot(robot_name)
    if robot.action_kind != 'pd_position':
        raise ValueError(f'task {task!r} needs a pd_position robot; {robot.name!r} '
                         f'({robot.source}) has action kind {robot.action_kind!r}')
    spec = VelocityTask.for_robot(robot)

    def factory(obs_spec: str = spec.obs_spec, **kwargs: Any) -> gym.Env:
        return make_velocity_env(robot, env_id=env_id, obs_spec=obs_spec, **kwargs)
    facts: Dict[str, Any] = {'name': task, 'command_ranges': spec.command_ranges(),
                             'episode_steps': spec.episode_steps}
    if spec.gait_period > 0:
        facts.update(gait_period=spec.gait_period, gait_stance=spec.gait_stance)
    return EnvEntry(factory, spec.obs_specs, robot_name, facts, tuple(spec.weights))

"""Environment registry: project robot envs by id, with any Gymnasium Box-action env as fallback.

Project env ids are fixed names (``symphony/Humanoid-v4``; the earlier ``Humanoid-v4`` still
maps to it) or ``<task>:<robot>`` (``velocity:g1``,
``velocity:/path/to/robot.yaml``); `symphony_ros.robot.envs` defines them and this registry
imports it (the registry points down at the env modules, never the other way).

Actions reach the environment exactly as the actor emits them, a in [-1, 1] (a_max = 1,
as in the paper): torque robots clamp them to each actuator's ctrlrange (for Humanoid-v4,
ctrlrange +-0.4, swaddling keeps the deterministic action mostly inside it); pd_position
robots turn them into joint targets.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

import gymnasium as gym
import numpy as np

from .history_env import with_history

if TYPE_CHECKING:
    from symphony_ros.robot.obs_specs import ObservationSpec

    from .config import TrainConfig


def _robot_envs():
    """Return the project's env catalogue (imported on first use: it loads MuJoCo models)."""
    from symphony_ros.robot import envs
    return envs


def lookup(name: str):
    """Return the project env entry of ``name`` (`symphony_ros.robot.envs.EnvEntry`) or None.

    :raises ValueError: a ``<task>:<robot>`` id whose robot or robot file is wrong.
    """
    return _robot_envs().lookup(name)


def canonical_env_id(name: str) -> str:
    """Return the id ``name`` stands for (an earlier id maps to its new one)."""
    return _robot_envs().canonical_env_id(name)


def check_env_name(name: str) -> None:
    """Raise ValueError naming the problem if ``name`` is not a known environment."""
    if lookup(name) is not None or name in gym.envs.registry:
        return
    envs = _robot_envs()
    from symphony_ros.robot.description import shipped_robots
    raise ValueError(f'unknown env {name!r}: not a project env ({", ".join(sorted(envs.ENVS))}, '
                     f'or <task>:<robot> with task {" or ".join(envs.TASKS)} and robot '
                     f'{", ".join(shipped_robots())} or a robot file) nor a registered '
                     'Gymnasium id (e.g. InvertedPendulum-v4)')


def default_obs_spec(name: str) -> Optional[str]:
    """Return the observation spec env ``name`` produces by default; None for a Gymnasium env."""
    entry = lookup(name)
    return entry.obs_specs[0] if entry is not None else None


def make_env(name: str, obs_spec: Optional[str] = None, **kwargs) -> gym.Env:
    """Create environment ``name`` with a Box action space.

    :param obs_spec: observation spec for project envs; None takes the env's default.
    :raises ValueError: unknown env, unknown obs spec, or a non-Box action space.
    """
    check_env_name(name)
    entry = lookup(name)
    if entry is not None:
        spec = obs_spec or default_obs_spec(name)
        if spec not in entry.obs_specs:
            raise ValueError(f'env {name!r} has no observation spec {spec!r}; '
                             f'expected one of {", ".join(entry.obs_specs)}')
        env = entry.factory(obs_spec=spec, **kwargs)
    else:
        if obs_spec not in (None, 'gym'):
            raise ValueError(f'Gymnasium env {name!r} only has its own observation ("gym"), '
                             f'not {obs_spec!r}')
        env = gym.make(name, **kwargs)
    if not isinstance(env.action_space, gym.spaces.Box):
        env.close()
        raise ValueError(f'env {name!r} has a {type(env.action_space).__name__} action space; '
                         'Symphony needs a continuous Box')
    return env


def _robot_obs_spec(name: str, obs_spec: str) -> Optional[ObservationSpec]:
    """Return spec ``obs_spec`` on env ``name``'s robot, or None (no robot, unknown spec)."""
    entry = lookup(name)
    if entry is None:
        return None
    from symphony_ros.robot.description import get_robot
    from symphony_ros.robot.obs_specs import get_obs_spec
    try:
        return get_obs_spec(obs_spec, get_robot(entry.robot))
    except ValueError:
        return None


def obs_terms(name: str, obs_spec: str) -> Optional[Tuple[Tuple[str, int], ...]]:
    """Return the (term, size) pairs of spec ``obs_spec`` on env ``name``'s robot.

    None for a Gymnasium env (no robot) or a spec the robot does not know.
    """
    spec = _robot_obs_spec(name, obs_spec)
    return None if spec is None else spec.terms


def obs_scales(name: str, obs_spec: str) -> Optional[Dict[str, List[float]]]:
    """Return the per-term factors of spec ``obs_spec`` on env ``name``'s robot ({}: none).

    In the JSON form of the policy contract; None where :func:`obs_terms` is.
    """
    spec = _robot_obs_spec(name, obs_spec)
    return None if spec is None else spec.to_dict().get('scales', {})


def randomization(name: str, which: Optional[str], scale: float = 1.0):
    """Return the `RandomizationSpec` ``--randomize which`` names for env ``name``, or None.

    :raises ValueError: randomisation asked of a Gymnasium env (it has no robot file), an
        unknown name, a missing or wrong file, a negative scale.
    """
    if which in (None, '', 'none'):
        if scale < 0:
            raise ValueError(f'--randomize-scale: expected a number >= 0, got {scale}')
        return None
    entry = lookup(name)
    if entry is None:
        raise ValueError(f'--randomize {which}: env {name!r} is a Gymnasium env; randomisation '
                         'needs a project env (symphony/Humanoid-v4 or <task>:<robot>)')
    from symphony_ros.robot.description import get_robot
    from symphony_ros.robot.ranges import load_randomization
    return load_randomization(which, get_robot(entry.robot), scale)


def make_randomized_env(name: str, obs_spec: Optional[str], spec, log_path: Optional[str] = None,
                        **kwargs: Any) -> gym.Env:
    """Return :func:`make_env` wrapped with ``spec`` (itself when ``spec`` moves nothing)."""
    env = make_env(name, obs_spec, **kwargs)
    if spec is None:
        return env
    from symphony_ros.robot.description import get_robot
    from symphony_ros.robot.randomize import randomize_env
    return randomize_env(env, spec, get_robot(lookup(name).robot), log_path)


def _takes_commands(entry) -> bool:
    """Tell whether env ``entry`` (a `lookup` result, or None) follows velocity commands."""
    return entry is not None and 'command_ranges' in (entry.task or {})


def run_env_options(cfg: 'TrainConfig') -> Dict[str, Any]:
    """Return the env options run ``cfg`` sets for its envs.

    The options: --reward-weights, --commands, --tracking-sigma, --gait-free-error,
    --stand-gait and --odometry.
    :raises ValueError: --reward-weights for an env without named reward terms, or a bad one
        (a term the env does not have); --commands or --tracking-sigma for an env without
        velocity commands, or a bad --commands; --gait-free-error for an env without a gait
        clock's terms (or --stand-gait); --odometry legs for an env without one.
    """
    out: Dict[str, Any] = {}
    if not (cfg.reward_weights or cfg.commands or cfg.tracking_sigma or cfg.gait_free_error
            or cfg.stand_gait or cfg.odometry != 'sim'):
        return out
    entry = lookup(cfg.env)
    if cfg.odometry != 'sim':
        if not _takes_commands(entry):
            raise ValueError(f'--odometry {cfg.odometry}: env {cfg.env!r} reads no odometry '
                             'estimate; a task env (velocity:<robot>) with an odom '
                             'observation (--obs-spec velocity_gait_odom) does')
        out['odometry'] = cfg.odometry
    if cfg.reward_weights:
        if entry is None or not entry.reward_terms:
            raise ValueError(f'--reward-weights: env {cfg.env!r} has no named reward terms; a '
                             'task env (velocity:<robot>) and symphony/Humanoid-v4 take them')
        from symphony_ros.robot.velocity_env import parse_weights
        out['reward_weights'] = parse_weights(cfg.reward_weights, terms=entry.reward_terms)
    if cfg.commands:
        if not _takes_commands(entry):
            raise ValueError(f'--commands: env {cfg.env!r} takes no velocity command; a task '
                             'env (velocity:<robot>) does')
        from symphony_ros.robot.velocity_commands import parse_commands
        out['commands'] = parse_commands(cfg.commands)
    if cfg.tracking_sigma:
        if not _takes_commands(entry):
            raise ValueError(f'--tracking-sigma: env {cfg.env!r} has no velocity-tracking '
                             'reward; a task env (velocity:<robot>) has')
        out['tracking_sigma'] = cfg.tracking_sigma
    for name in ('gait_free_error', 'stand_gait'):     # settings of the gait terms
        value = getattr(cfg, name)
        if value and not _takes_commands(entry):
            raise ValueError(f'--{name.replace("_", "-")}: env {cfg.env!r} has no gait terms; '
                             'a task env (velocity:<robot>) with a gait clock has')
        if value:
            out[name] = value
    return out


def tracking_sigma(cfg: 'TrainConfig') -> Optional[float]:
    """Return the tracking width run ``cfg`` trains with (None: its env tracks no command)."""
    if cfg.tracking_sigma:
        return cfg.tracking_sigma
    entry = lookup(cfg.env)
    if not _takes_commands(entry):
        return None
    from symphony_ros.robot.description import get_robot
    from symphony_ros.robot.velocity_env import VelocityTask
    return VelocityTask.for_robot(get_robot(entry.robot)).tracking_sigma


def make_test_env(cfg: 'TrainConfig', notes: Optional[List[str]] = None) -> gym.Env:
    """Make run ``cfg``'s test env: nominal, or randomised when it asks (eval_randomized)."""
    return make_run_env(cfg, randomized=cfg.eval_randomized, notes=notes)


def make_run_env(cfg: 'TrainConfig', randomized: bool = False, log_path: Optional[str] = None,
                 notes: Optional[List[str]] = None) -> gym.Env:
    """Make an env of run ``cfg``: its training env (``randomized``) or its test env.

    The one factory of a run's envs, in one process or on Ray workers, so that every
    training env is perturbed by the run's ``--randomize`` and every test env is nominal
    (a test return measures the robot the policy is meant for) unless the run asks
    otherwise (:func:`make_test_env`).

    :param randomized: wrap the env with ``cfg.randomize`` x ``cfg.randomize_scale``.
    :param log_path: where the randomised env appends one JSON line per episode (or None).
    :param notes: receives, once, Gymnasium's "out of date" warning in our words; None drops
        it (a worker: the learner says it).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        kwargs = run_env_options(cfg)
        if randomized:
            spec = randomization(cfg.env, cfg.randomize, cfg.randomize_scale)
            env = make_randomized_env(cfg.env, cfg.obs_spec, spec, log_path, **kwargs)
        else:
            env = make_env(cfg.env, cfg.obs_spec, **kwargs)
    if cfg.assist and randomized:
        from symphony_ros.robot.assist import Assisted
        env = Assisted(env, cfg.assist)
    if cfg.critic_dynamics and randomized:
        from symphony_ros.robot.critic_dynamics import CriticDynamics
        env = CriticDynamics(env)
    env = with_history(env, cfg.history)
    for w in caught:
        if 'out of date' not in str(w.message):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        elif notes is not None:
            note = (f'{cfg.env}: Gymnasium calls this version out of date; it is used '
                    'because the paper\'s figures and the shipped policy are on it (a '
                    'newer version changes the observation and the reward)')
            if note not in notes:
                notes.append(note)
    return env


def wrapper_attr(env: gym.Env, name: str) -> Any:
    """Return attribute ``name`` of ``env`` or of the first of its wrappers that has it.

    None when none has it: a run's env may be wrapped (randomisation, history) or not.
    """
    try:
        return env.get_wrapper_attr(name)
    except AttributeError:
        return None


def env_dims(env: gym.Env) -> Tuple[int, int]:
    """Return (obs_dim, act_dim) of a flat Box env."""
    return int(np.prod(env.observation_space.shape)), int(np.prod(env.action_space.shape))


def reward_terms(env: gym.Env) -> Optional[Tuple[Tuple[str, ...], np.ndarray]]:
    """Return (names, weights) of the unweighted terms ``env`` reports in info['reward_raw'].

    Its reward is ``weights @ info['reward_raw']``; None: an env that reports no terms (a
    plain Gymnasium id), whose stored rewards cannot be weighed anew.
    """
    try:
        names = tuple(env.get_wrapper_attr('reward_term_names'))
        weights = env.get_wrapper_attr('reward_weight_vector')()
    except AttributeError:
        return None
    return names, np.asarray(weights, dtype=np.float64)


def _env_label(env: gym.Env) -> str:
    return repr(env.spec.id) if env.spec else repr(env)


def critic_dim(env: gym.Env) -> int:
    """Return the size of the privileged observation ``env`` puts in ``info['critic_obs']``.

    :raises ValueError: an env that gives none (a plain Gymnasium id).
    """
    try:
        space = env.get_wrapper_attr('critic_observation_space')
    except AttributeError:
        raise ValueError(f'--privileged-critic: env {_env_label(env)} gives '
                         'no privileged observation (info[\'critic_obs\']); the project\'s '
                         'envs do (symphony/Humanoid-v4, velocity:<robot>)') from None
    return int(np.prod(space.shape))


def mirror_maps(env: gym.Env, critic: bool, flag: str = '--mirror'
                ) -> Tuple[Tuple[np.ndarray, np.ndarray], ...]:
    """Return the (index, sign) mirror maps of ``env``'s observation, action and critic view.

    :param critic: include the privileged critic observation's map (else None in its place).
    :param flag: the option that asked, named in errors.
    :raises ValueError: an env without mirror maps, or a robot that is not symmetric.
    """
    try:
        maps = env.get_wrapper_attr('mirror_maps')
    except AttributeError:
        raise ValueError(f'{flag}: env {_env_label(env)} has no mirror '
                         'maps; a velocity task on a left-right symmetric robot has '
                         '(velocity:<robot>)') from None
    try:
        obs, action, critic_view = maps()
    except ValueError as exc:
        raise ValueError(f'{flag}: {exc}') from None
    return ((obs.index, obs.sign), (action.index, action.sign),
            (critic_view.index, critic_view.sign) if critic else None)


def episode_limit(env: gym.Env, default: int = 1000) -> int:
    """Return the env's time limit (max_episode_steps) or ``default``."""
    spec = getattr(env, 'spec', None)
    limit = getattr(spec, 'max_episode_steps', None) if spec is not None else None
    return int(limit) if limit else default


def get_rng_state(env: gym.Env) -> dict:
    """Return the env's numpy bit-generator state (plain dict) for exact resume."""
    return env.unwrapped.np_random.bit_generator.state


def set_rng_state(env: gym.Env, state: dict) -> None:
    """Restore a state from :func:`get_rng_state`."""
    gen = np.random.Generator(np.random.PCG64())
    gen.bit_generator.state = state
    env.unwrapped.np_random = gen

"""Run a policy under each stress condition, episodes spread over worker processes.

Episode k of every condition starts from ``reset(seed=seed + EVAL_SEED_OFFSET + k)`` (the
evaluation's initial states), so conditions differ only by their perturbation, and the
perturbation's draws come from that seed: the figures do not depend on the worker count or
on which worker ran which episode.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..bag.metrics import step_divisors, step_rms
from ..core.evaluation import EVAL_SEED_OFFSET
from ..robot.frame_stack import FrameStack
from ..robot.tracking import WindowTracking, window_steps
from .conditions import MIX, held_command, knobs
from .kicks import command_class, episode_kicks
from .kicks import summary as kick_summary
from .training_falls import kick_effects, knob_effects

if TYPE_CHECKING:
    import mujoco

SATURATION = 0.99
"""A motor counts as saturated at a step when |torque| >= this share of its limit."""


@dataclass(frozen=True)
class Job:
    """What each worker needs to rebuild the policy, env and conditions."""

    policy: str
    env_id: str
    obs_spec: str
    robot: str
    seed: int
    max_steps: Optional[int]
    commands: Optional[Dict[str, Tuple[float, float]]] = None
    """The command ranges the policy trained on (its contract's), drawn as in training; None:
    the env's."""
    odometry: str = 'sim'
    """Where the policy's odometry input comes from, as in its training (`--odometry`)."""


_CACHE: Dict[str, object] = {}


def _setup(job: Job) -> None:
    import warnings
    # Gymnasium's "Humanoid-v4 is out of date" once per worker would bury the progress bar.
    warnings.simplefilter('ignore', DeprecationWarning)
    from ..policy.runtime import OnnxPolicy
    from ..robot import get_robot
    _CACHE.clear()
    _CACHE.update(job=job, policy=OnnxPolicy(job.policy), robot=get_robot(job.robot))


def _env(name: str):
    key = 'env:' + name
    if key not in _CACHE:
        from ..core.envs import make_randomized_env
        from .conditions import spec_of
        job = _CACHE['job']
        commands = held_command(name) or job.commands
        extra = {'commands': commands} if commands else {}
        if job.odometry != 'sim':
            extra['odometry'] = job.odometry
        _CACHE[key] = make_randomized_env(job.env_id, job.obs_spec,
                                          spec_of(name, _CACHE['robot']), **extra)
    return _CACHE[key]


def _force_limits(model) -> np.ndarray:
    """Largest |actuator force| each actuator can give now (force range, else gain x ctrl range).

    MuJoCo's actuator_force is in actuator units (before the gear): a torque motor's is
    gain x ctrl, saturated when ctrl sits at its range.
    """
    limited = model.actuator_forcelimited.astype(bool)
    ctrl = np.abs(model.actuator_ctrlrange).max(axis=1) * np.abs(model.actuator_gainprm[:, 0])
    return np.where(limited, model.actuator_forcerange[:, 1], ctrl)


class CommandJitter:
    """RMS change of the motors' commands from one control step to the next, per range.

    Each actuator's step is taken as a share of its command range (a PD robot's joint
    target within its travel, a torque robot's torque), from the second action on (the
    first moves away from the reset's command). The figure is the RMS over the steps and
    the actuators whose command moved at all (a PD robot's held joints do not count): a
    policy that flips its targets every step shakes gearboxes and heats motors that a sim
    forgives, and a delay turns it into a loop the robot cannot follow.
    """

    def __init__(self, model: mujoco.MjModel) -> None:
        """Measure against ``model``'s actuator command ranges."""
        self._span = step_divisors(np.diff(model.actuator_ctrlrange, axis=1)[:, 0])
        self._last: Optional[np.ndarray] = None
        self._sq = np.zeros(model.nu)
        self._n = 0

    def add(self, ctrl: np.ndarray) -> None:
        """Take the command in force after a control step."""
        if self._last is not None:
            self._sq += ((ctrl - self._last) / self._span) ** 2
            self._n += 1
        self._last = np.array(ctrl, dtype=np.float64)

    def value(self) -> Optional[float]:
        """Return the RMS step as a share of the range (None before two steps)."""
        return step_rms(self._sq, self._n)


def run_episode(name: str, k: int) -> Dict[str, float]:
    """Run episode ``k`` of condition ``name`` in this worker; return its figures."""
    job, policy, robot = _CACHE['job'], _CACHE['policy'], _CACHE['robot']
    env = _env(name)
    obs, info = env.reset(seed=job.seed + EVAL_SEED_OFFSET + k)
    stacked = FrameStack(policy.contract.observation.history, len(obs)).push
    model, data = env.unwrapped.model, env.unwrapped.data
    state_of = env.get_wrapper_attr('robot_state')
    lo, hi = robot.position_limits[:, 0], robot.position_limits[:, 1]
    limit = job.max_steps or env.spec.max_episode_steps or 1000
    total, steps, sat, margin, track, fell = 0.0, 0, 0.0, np.inf, [], False
    jitter = CommandJitter(model)
    stride = _stride(env.unwrapped, robot)
    hold, held = held_command(name) is not None, []
    # The command in force at each step: a kick in step n came under told[n - 1].
    told = [info['command']] if 'command' in info else None
    terms: Dict[str, float] = {}
    while True:
        obs, reward, terminated, truncated, info = env.step(policy.act(stacked(obs)))
        total += float(reward)
        steps += 1
        for term, value in info.get('reward_terms', {}).items():
            terms[term] = terms.get(term, 0.0) + float(value)
        jitter.add(data.ctrl)
        force = np.abs(data.actuator_force)
        sat += float(np.mean(force >= SATURATION * _force_limits(model)))
        q = state_of().joint_positions
        margin = min(margin, float(np.min(np.minimum(q - lo, hi - q))))
        if 'command' in info:
            v = state_of().base_lin_vel
            track.append(float(np.hypot(info['command'][0] - v[0], info['command'][1] - v[1])))
            moved = (v[0], v[1], state_of().base_ang_vel[2])
            stride.add(info['command'], moved)
            told.append(info['command'])
            if hold:
                held.append(moved)
        if terminated:
            fell = True
        if terminated or truncated or steps >= limit:
            break
    row = {'return': total, 'steps': steps, 'fell': fell, 'saturation': sat / steps,
           'kicks': _kick_rows(_kicks(env), fell, steps, robot.control_dt, told),
           'joint_margin': margin, 'command_jitter': jitter.value(),
           'tracking_error': float(np.mean(track)) if track else None,
           'stride_tracking_error': stride.lin_rms, 'stride_yaw_error': stride.yaw_rms}
    if held:   # what it did when told one thing for the whole episode
        row['reached'] = [float(v) for v in np.mean(held, axis=0)]
    if terms:  # what it earned, term by term: which part of the task it does
        row['reward_terms'] = {k: v / steps for k, v in terms.items()}
    if knobs(name).get(MIX):   # the draws and outcome, as a training run logs them
        row['draws'] = env.get_wrapper_attr('record')(fell)
    return row


def _kicks(env) -> list:
    """Return the episode's kicks (none when its condition perturbs nothing: no wrapper)."""
    try:
        return list(env.get_wrapper_attr('kicks'))
    except AttributeError:
        return []


def _kick_rows(kicks: list, fell: bool, steps: int, dt: float,
               told: Optional[List[np.ndarray]]) -> List[List[object]]:
    """Return the episode's kicks as report.json holds them, each with what was told then."""
    what = None
    if told:
        what = [command_class(told[min(max(int(round(t / dt)) - 1, 0), len(told) - 1)])
                for t, *_ in kicks]
    return episode_kicks(kicks, fell, steps * dt, what)


def _stride(env, robot) -> WindowTracking:
    """Tracking over one gait cycle of ``env``'s task (1 s for a task without a clock)."""
    task = getattr(env, 'task', None)
    return WindowTracking(window_steps(getattr(task, 'gait_period', 0.0), robot.control_dt))


def _task(args: Tuple[str, int]) -> Tuple[str, int, Dict[str, float]]:
    return args[0], args[1], run_episode(*args)


def run_matrix(job: Job, conditions: List[str], episodes: int, workers: int,
               progress: Optional[Callable[[int, int], None]] = None
               ) -> Dict[str, List[Dict[str, float]]]:
    """Run ``episodes`` episodes of each condition; return condition -> episode figures.

    :param workers: processes (1: in this process).
    :param progress: called with (done, total) after each episode.
    """
    tasks = [(c, k) for c in conditions for k in range(episodes)]
    out: Dict[str, List] = {c: [None] * episodes for c in conditions}
    done = 0
    if workers <= 1:
        _setup(job)
        results = map(_task, tasks)
        for c, k, r in results:
            out[c][k] = r
            done += 1
            if progress:
                progress(done, len(tasks))
        return out
    ctx = multiprocessing.get_context('spawn')
    pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_setup, initargs=(job,))
    try:
        for c, k, r in pool.map(_task, tasks, chunksize=1):
            out[c][k] = r
            done += 1
            if progress:
                progress(done, len(tasks))
    except BaseException:
        # Stopped (Ctrl-C, SIGTERM) or failed: the queued episodes are dropped, also those
        # map had submitted when it was interrupted, so the workers end with the episodes
        # they are in instead of running the whole matrix.
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    return out


def summarise(name: str, rows: List[Dict[str, float]]) -> Dict[str, object]:
    """Return a condition's figures over its episodes."""
    returns = np.array([r['return'] for r in rows])
    return {'episodes': len(rows), 'falls': int(sum(r['fell'] for r in rows)),
            'fall_rate': float(np.mean([r['fell'] for r in rows])),
            'return_mean': float(returns.mean()), 'return_std': float(returns.std()),
            'steps_mean': float(np.mean([r['steps'] for r in rows])),
            'tracking_error': mean_of(rows, 'tracking_error'),
            'stride_tracking_error': mean_of(rows, 'stride_tracking_error'),
            'stride_yaw_error': mean_of(rows, 'stride_yaw_error'),
            'reached': mean_reached(rows),
            'torque_saturation': float(np.mean([r['saturation'] for r in rows])),
            'min_joint_margin': float(min(r['joint_margin'] for r in rows)),
            'command_jitter': mean_of(rows, 'command_jitter'),
            'kicks': kick_summary(rows), 'reward_terms': mean_terms(rows), **_by_draw(rows)}


def _by_draw(rows: List[Dict[str, object]]) -> Dict[str, object]:
    """Return, for a condition whose episodes draw every knob, which draws fell them."""
    records = [r['draws'] for r in rows if r.get('draws')]
    if not records:
        return {}
    return {'by_draw': {'knobs': knob_effects(records), 'kicks': kick_effects(records)}}


def mean_terms(rows: Sequence[Dict[str, object]]) -> Optional[Dict[str, float]]:
    """Return each weighted reward term per step, averaged over the episodes (None: no terms)."""
    per = [r['reward_terms'] for r in rows if r.get('reward_terms')]
    if not per:
        return None
    return {k: float(np.mean([p.get(k, 0.0) for p in per])) for k in per[0]}


def mean_reached(rows: Sequence[Dict[str, object]]) -> Optional[List[float]]:
    """Return the mean (vx, vy, yaw rate) of held-command episodes (None: none held one)."""
    reached = [r['reached'] for r in rows if r.get('reached') is not None]
    return [float(v) for v in np.mean(reached, axis=0)] if reached else None


def mean_of(rows: Sequence[Dict[str, object]], key: str) -> Optional[float]:
    """Return the mean of ``key`` over the rows that have a value for it (None: none has)."""
    values = [r[key] for r in rows if r.get(key) is not None]
    return float(np.mean(values)) if values else None


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def clock() -> float:
    """Wall-clock seconds (monotonic)."""
    return time.monotonic()

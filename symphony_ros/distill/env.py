"""The perturbed env a student learns in, built from its teacher's contract.

The env is the teacher's (its robot, task, observation spec and command ranges) under the
chosen knobs of the randomisation ranges; every other knob stays nominal. One episode gives
what the student saw (noisy), what the teacher would have seen (exact, with the previous
action the motors had) and each step's delay.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, List

import numpy as np

from ..robot.frame_stack import FrameStack
from ..robot.ranges import KNOBS, SCHEDULE, RandomizationSpec, load_randomization
from .config import DistillConfig


@dataclass(frozen=True)
class EpisodeRun:
    """One episode's steps: the student's observations, the teacher's, and the delays."""

    student_obs: np.ndarray
    teacher_obs: np.ndarray
    delays: np.ndarray
    """Physics steps of delay of each step's command."""
    fell: bool


def chosen_knobs(text: str) -> List[str]:
    """Return the knobs ``text`` names ('all': every one).

    :raises ValueError: an unknown knob, naming it and the knobs there are.
    """
    movable = [k for k in KNOBS if k not in SCHEDULE]
    if text.strip() == 'all':
        return movable
    names = [k.strip() for k in text.split(',') if k.strip()]
    bad = [k for k in names if k not in movable]
    if bad or not names:
        what = f'unknown knob {bad[0]!r}' if bad else 'none given'
        raise ValueError(f'--knobs: {what}; expected "all" or some of {", ".join(movable)}')
    return names


def distill_spec(cfg: DistillConfig, robot) -> RandomizationSpec:
    """Return the ranges of ``cfg.randomize`` for ``robot``, only ``cfg.knobs`` moving.

    :raises ValueError: bad ranges or knobs, or a spec that moves nothing (no perturbation to
        learn against).
    """
    spec = load_randomization(cfg.randomize, robot, cfg.randomize_scale)
    if spec is None:
        raise ValueError('--randomize none: a student learns to ride out the perturbations '
                         'its teacher did not meet; give default or a YAML file')
    knobs = chosen_knobs(cfg.knobs)
    keep = {k: r for k, r in spec.ranges.items() if k in knobs or k in SCHEDULE}
    name = spec.name if cfg.knobs.strip() == 'all' else f'{spec.name}: {",".join(knobs)}'
    out = dataclasses.replace(spec, ranges=keep, name=name)
    if out.is_nominal:
        raise ValueError(f'--knobs {cfg.knobs}: these knobs stay nominal in --randomize '
                         f'{cfg.randomize} x{cfg.randomize_scale:g}; nothing to learn against')
    return out


def _check_sees_command_in_flight(terms: List[str], obs_spec: str, spec: RandomizationSpec,
                                  where: str) -> None:
    """Refuse a delay for a student whose observation lacks the previous action.

    Acting ahead of a delay means predicting the state the command in flight leads to; an
    observation without that command gives the student nothing to predict it from.
    """
    delayed = spec.range('delay_s')[1] > 0 or spec.range('delay_jitter_steps')[1] > 0
    if delayed and 'previous_action' not in terms:
        raise ValueError(f'{where}: its observation {obs_spec!r} holds no previous action, so '
                         'a student cannot see the command in flight to act ahead of a delay; '
                         'give the student a spec that adds it (--obs-spec) or leave the '
                         'delay out (--knobs obs_noise_scale,imu_bias_scale)')


class DistillEnv:
    """The teacher's env under the distillation's ranges, observed as the student is."""

    def __init__(self, contract, cfg: DistillConfig, where: str) -> None:
        """Build the env of ``contract`` (an exported policy's, from file ``where``).

        :raises ValueError: a policy of a Gymnasium env (no project robot), a student
            observation that does not append to the teacher's, or bad ranges.
        """
        from ..core.envs import canonical_env_id, lookup, make_randomized_env, obs_terms
        from ..core.init_source import appended_terms
        from ..robot import get_robot
        env_id = canonical_env_id(contract.env)
        entry = lookup(env_id)
        if entry is None:
            raise ValueError(f'{where}: trained on {contract.env!r}, a Gymnasium env; '
                             'distillation needs a project robot env (symphony/Humanoid-v4 '
                             'or <task>:<robot>)')
        self.robot = get_robot(entry.robot)
        self.env_id = env_id
        teacher_spec = contract.observation.name
        self.obs_spec = cfg.obs_spec or teacher_spec
        """The student's observation spec (one frame)."""
        if self.obs_spec != teacher_spec and not appended_terms(env_id, teacher_spec,
                                                                self.obs_spec):
            raise ValueError(f'--obs-spec {self.obs_spec}: does not append terms to the '
                             f'teacher\'s observation {teacher_spec!r} on {env_id}; the '
                             'student starts as its teacher, so it reads the teacher\'s '
                             'inputs first')
        self.teacher_dim = contract.obs_dim
        """Size of the teacher's observation: the first values of each student frame."""
        self.spec = distill_spec(cfg, self.robot)
        _check_sees_command_in_flight([n for n, _ in obs_terms(env_id, self.obs_spec)],
                                      self.obs_spec, self.spec, where)
        ranges = (contract.task or {}).get('command_ranges')
        extra = {'commands': {k: tuple(v) for k, v in ranges.items()}} if ranges else {}
        # A spec that moves something (distill_spec's rule) always comes back Randomized.
        self.env = make_randomized_env(env_id, self.obs_spec, self.spec, **extra)
        self.frame_skip = self.robot.frame_skip
        self.history = cfg.history
        """Observations the student takes at once (`FrameStack`)."""

    def run(self, seed: int, act: Callable[[np.ndarray], np.ndarray]) -> EpisodeRun:
        """Run one episode from ``reset(seed=seed)`` with ``act`` choosing each command."""
        env = self.env
        obs, info = env.reset(seed=seed)
        stack = FrameStack(self.history, len(obs))
        teacher_view = info['clean_obs']
        student, teacher, delays, fell = [], [], [], False
        while True:
            student.append(stack.push(obs))
            teacher.append(teacher_view[:self.teacher_dim])
            obs, _, terminated, truncated, info = env.step(act(student[-1]))
            delays.append(int(info['delay_physics_steps']))
            teacher_view = env.with_previous(info['clean_obs'], info['applied_action'])
            if terminated or truncated:
                fell = bool(terminated)
                break
        return EpisodeRun(np.asarray(student), np.asarray(teacher), np.asarray(delays), fell)


__all__ = ['DistillEnv', 'EpisodeRun', 'chosen_knobs', 'distill_spec']

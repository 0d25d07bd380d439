"""Distil an exported policy into a student that rides out delay and sensor noise (DAgger).

The student starts as the teacher's own actor (rebuilt from the file) and acts in the
perturbed env; the teacher labels every step from the exact observation of the state the
student's command will meet once its delay has passed (`labels.lookahead_labels`), with the
previous action the motors really got; the student learns those labels by regression on
everything collected so far, then acts again (Ross et al., 2011: the data comes from the
states the student itself reaches, so its own mistakes are in it).
"""

from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

from ..core.init_source import widen_inputs
from ..core.obs_history import stacked_mirror
from ..core.snapshot import ActorSource
from .config import DistillConfig
from .labels import lookahead_labels

EPISODE_STREAM = 0x44414747
"""Tag of the episodes' seed stream, apart from training's and evaluation's seeds."""


@dataclass(frozen=True)
class RoundFigures:
    """What one round collected and learned."""

    round: int
    steps: int
    episodes: int
    falls: int
    """Episodes of this round's collection that ended in a fall (the student acting)."""
    loss: Optional[float]
    """Mean squared error of the student on its last 100 minibatches (None: no updates)."""
    samples: int
    """Labelled steps held after this round."""
    seconds: float

    def line(self) -> str:
        """Say the round in one line."""
        loss = '-' if self.loss is None else f'{self.loss:.5f}'
        return (f'round {self.round}: {self.steps:,} steps, {self.falls} of {self.episodes} '
                f'episodes fell, loss {loss}, {self.samples:,} samples, {self.seconds:.0f} s')


class Samples:
    """Labelled steps, the oldest dropped beyond ``capacity``."""

    def __init__(self, capacity: int) -> None:
        """Hold at most ``capacity`` steps."""
        self.capacity = capacity
        self.obs: List[np.ndarray] = []
        self.labels: List[np.ndarray] = []

    def __len__(self) -> int:
        """Return the steps held."""
        return sum(len(x) for x in self.obs)

    def add(self, obs: np.ndarray, labels: np.ndarray) -> None:
        """Append one episode's labelled steps, dropping the oldest beyond capacity."""
        self.obs.append(np.asarray(obs, np.float32))
        self.labels.append(np.asarray(labels, np.float32))
        extra = len(self) - self.capacity
        while extra > 0:
            cut = min(extra, len(self.obs[0]))
            self.obs[0], self.labels[0] = self.obs[0][cut:], self.labels[0][cut:]
            if not len(self.obs[0]):
                self.obs.pop(0)
                self.labels.pop(0)
            extra -= cut

    def tensors(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """Return (observations, labels) as two tensors."""
        return (torch.from_numpy(np.concatenate(self.obs)),
                torch.from_numpy(np.concatenate(self.labels)))


class Distiller:
    """One distillation: teacher, student, perturbed env, samples; `run` does the rounds."""

    def __init__(self, cfg: DistillConfig, teacher_path: str) -> None:
        """Load the teacher, rebuild its actor as the student, build the perturbed env.

        :raises PolicyError: an unreadable teacher file.
        :raises ValueError: a teacher of no project robot env or with an observation history,
            or ranges that move nothing.
        """
        from ..policy.runtime import OnnxPolicy
        from ..policy.unfold import actor_from_policy
        from .env import DistillEnv
        self.cfg = cfg
        # Before the rebuild: a folded graph's unused rows come from a fresh actor's init.
        torch.manual_seed(cfg.seed)
        self.teacher = OnnxPolicy(teacher_path)
        self.source = actor_from_policy(teacher_path)
        if self.source.history > 1:
            raise ValueError(f'{teacher_path}: takes the last {self.source.history} '
                             'observations at once; a teacher labels from one exact '
                             'observation, so distil from a one-frame policy')
        self.env = DistillEnv(self.teacher.contract, cfg, teacher_path)
        self.student = self._widened_student(cfg.history)
        self.opt = torch.optim.Adam(self.student.parameters(), lr=cfg.lr)
        self.samples = Samples(cfg.max_samples)
        self.rng = np.random.default_rng(cfg.seed)
        self.episodes = 0
        self.steps = 0
        self.history: List[RoundFigures] = []

    def _widened_student(self, frames: int) -> torch.nn.Module:
        """Return the teacher's actor reading ``frames`` student frames, added inputs at weight 0.

        A student frame is the teacher's observation and any terms appended to it, so the
        teacher's weights stay on the newest frame's first inputs: the student starts as its
        teacher.
        """
        from ..core.envs import mirror_maps
        frame = len(self.env.env.observation_space.low)
        mirror = None
        if self.source.actor.symmetric:
            mirror = stacked_mirror(mirror_maps(self.env.env, False, 'a symmetric teacher')[0],
                                    frames)
        return widen_inputs(self.source.actor, frame * frames, mirror).float().train()

    def _episode_seed(self) -> int:
        seq = np.random.SeedSequence([self.cfg.seed, EPISODE_STREAM, self.episodes])
        self.episodes += 1
        return int(seq.generate_state(1)[0])

    def _act(self, obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            x = torch.as_tensor(obs, dtype=torch.float32)[None]
            return self.student.deterministic(x)[0].numpy().astype(np.float64)

    def episode(self) -> Tuple[int, bool]:
        """Run one episode with the student acting, label it, keep it; return (steps, fell)."""
        run = self.env.run(self._episode_seed(), self._act)
        teacher = self.teacher.act_batch(run.teacher_obs.astype(np.float32))
        labels, index = lookahead_labels(teacher, run.delays, self.env.frame_skip)
        if len(index):
            self.samples.add(run.student_obs[index], labels)
        return len(run.delays), run.fell

    def collect(self, steps: int) -> Tuple[int, int, int]:
        """Run whole episodes until ``steps`` control steps; return (steps, episodes, falls)."""
        done = episodes = falls = 0
        while done < steps:
            n, fell = self.episode()
            done, episodes, falls = done + n, episodes + 1, falls + int(fell)
        self.steps += done
        return done, episodes, falls

    def learn(self, updates: int) -> Optional[float]:
        """Take ``updates`` Adam steps on the samples; return the last 100's mean loss."""
        if not updates or not len(self.samples):
            return None
        obs, labels = self.samples.tensors()
        losses = []
        for _ in range(updates):
            i = torch.from_numpy(self.rng.integers(0, len(obs), self.cfg.batch_size))
            loss = torch.mean((self.student.deterministic(obs[i]) - labels[i]) ** 2)
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            losses.append(loss.item())
        return float(np.mean(losses[-100:]))

    def round(self) -> RoundFigures:
        """Collect one round with the student acting, then learn on all samples held."""
        t0 = time.monotonic()
        steps, episodes, falls = self.collect(self.cfg.steps_per_round)
        loss = self.learn(self.cfg.updates_per_round)
        figures = RoundFigures(len(self.history), steps, episodes, falls, loss,
                               len(self.samples), time.monotonic() - t0)
        self.history.append(figures)
        return figures

    def run(self, on_round: Optional[Callable[[RoundFigures], None]] = None
            ) -> List[RoundFigures]:
        """Do the configured rounds; ``on_round`` is called after each."""
        for _ in range(self.cfg.rounds - len(self.history)):
            figures = self.round()
            if on_round:
                on_round(figures)
        return self.history

    def parity_observations(self, n: int = 1000) -> np.ndarray:
        """Return up to ``n`` observations the student met, for the export's parity check."""
        obs, _ = self.samples.tensors()
        pick = np.random.default_rng(self.cfg.seed).choice(len(obs), min(n, len(obs)),
                                                           replace=False)
        return obs[np.sort(pick)].numpy()

    def student_source(self) -> ActorSource:
        """Return the student as an export source: the teacher's provenance plus this run's."""
        record: Dict[str, Any] = {
            'teacher': self.source.path, 'teacher_sha256': self.source.sha256,
            'rounds': len(self.history), 'steps': self.steps,
            'settings': dataclasses.asdict(self.cfg)}
        train_config = {**self.source.train_config, 'distill': record}
        actor = copy.deepcopy(self.student).eval()
        scales = self.source.obs_scales
        if self.env.obs_spec != self.source.obs_spec:
            from ..core.envs import obs_scales
            scales = obs_scales(self.env.env_id, self.env.obs_spec)
        return dataclasses.replace(self.source, actor=actor, train_config=train_config,
                                   test_return=None, history=self.cfg.history,
                                   obs_spec=self.env.obs_spec, obs_scales=scales,
                                   randomization=self.env.spec.to_dict())


__all__ = ['Distiller', 'EPISODE_STREAM', 'RoundFigures', 'Samples']

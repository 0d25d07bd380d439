"""How a run's critic values its actor, against the returns the actor earns.

Symphony's critic is fit to y = r + gamma Q'(s', a'), a' the actor's next action with the
target's noise (clip c: std about 1/c; noise_clip unless target_noise_clip). Where that
noise reaches actions no stored step took (a PD robot acting with less noise), the critic
values a noisier policy than the actor's: each bootstrap takes off what the noise costs in
its eyes, and its values settle far below the returns the actor earns. A critic can fit
its targets (a TD error near zero) and still be that far off, so the check sets three
figures side by side: the value at the stored steps, what the target's noise costs per
step, and the discounted returns of test episodes against the values of the same steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

from .agent import Symphony
from .checkpoint import (CheckpointError, checkpoint_step, list_checkpoints, load_checkpoint,
                         load_replay)
from .config import SymphonyConfig, TrainConfig
from .networks import noise_std

TAIL_STEPS = 300
"""Steps at the end of an episode cut by its time limit whose return-to-go is not compared:
the return stops there, the critic's value does not (gamma^300 < 5 %)."""


@dataclass(frozen=True)
class CriticFigures:
    """One checkpoint's critic, in the replay's reward units (rewards / reward scale)."""

    step: int
    replay_step: int
    """The step whose saved replay the rows came from (the checkpoint's own, or newer)."""
    rows: int
    gamma: float
    noise_clip: float
    """c of the noise on the critic target's next action (SymphonyConfig.target_clip)."""
    reward: float
    """Mean stored reward per step."""
    value: float
    """Mean soft value Q(s, a) at the stored steps' actions."""
    td_error: float
    """Mean of y - Q(s, a), y under the target's noisy next action: what the fit leaves."""
    noise_cost: float
    """Mean Q'(s', a'_deterministic) - Q'(s', a'_noisy): the target's noise, per step."""
    test_value: Optional[float] = None
    """Mean Q(s_t, a_t) over test episodes' steps (the deterministic actor, test env)."""
    test_return: Optional[float] = None
    """Mean discounted return-to-go of the same steps."""
    test_steps: int = 0
    test_falls: int = 0
    test_episodes: int = 0

    @property
    def steady_value(self) -> float:
        """The value of earning the mean stored reward for ever: reward / (1 - gamma)."""
        return self.reward / (1.0 - self.gamma)


def returns_to_go(rewards: np.ndarray, gamma: float, fell: bool,
                  tail: int = TAIL_STEPS) -> np.ndarray:
    """Return the discounted returns-to-go of one episode's steps that can be compared.

    All of them for an episode that fell (its last step is terminal: nothing follows);
    for one cut by its time limit, those more than ``tail`` steps before the cut.
    """
    out = np.zeros(len(rewards))
    acc = 0.0
    for i in range(len(rewards) - 1, -1, -1):
        acc = float(rewards[i]) + gamma * acc
        out[i] = acc
    return out if fell else out[:max(0, len(rewards) - tail)]


def _agent(state: Dict) -> Tuple[Symphony, SymphonyConfig]:
    sym = SymphonyConfig.from_dict(state['symphony_config'])
    agent = Symphony(int(state['obs_dim']), int(state['act_dim']), sym, torch.device('cpu'),
                     state.get('critic_dim'))
    agent.load_state_dict(state['agent'])
    return agent, sym


def _replay_rows(run_dir: str, step: int, rows: int, seed: int
                 ) -> Tuple[Dict[str, torch.Tensor], int]:
    """Return ``rows`` stored transitions drawn uniformly, and the step of their replay.

    Uniformly over the rows held, where the loss draws newer ones more often: a check of the
    whole buffer's fit, not of the last minibatches'.
    """
    replay, at = load_replay(run_dir, step), step
    if replay is None:
        at = checkpoint_step(list_checkpoints(run_dir)[-1])
        replay = load_replay(run_dir, at)
    if replay is None:
        raise CheckpointError(f'{run_dir}: no saved replay buffer (a run trained with '
                              '--exact-resume false keeps none)')
    # The rows of its own (a buffer saved before any real step holds warm-up rows alone).
    own = '' if len(replay['obs']) else 'warm_'
    size = len(replay[own + 'obs'])
    if size == 0:
        raise CheckpointError(f'{run_dir}: the replay of step {at:,} is empty')
    idx = torch.as_tensor(np.random.default_rng(seed).integers(0, size, rows))
    names = ['obs', 'action', 'reward', 'next_obs', 'done', 'critic_obs', 'next_critic_obs']
    return {k: replay[own + k][idx] for k in names if replay.get(own + k) is not None}, at


def replay_figures(agent: Symphony, sym: SymphonyConfig, batch: Dict[str, torch.Tensor],
                   seed: int = 0) -> Tuple[float, float, float, float]:
    """Return (reward, value, TD error, noise cost) means over stored transitions ``batch``.

    The target's noise is drawn from ``seed``, the caller's random state left as it was.
    """
    view = batch.get('critic_obs', batch['obs'])
    next_view = batch.get('next_critic_obs', batch['next_obs'])
    with torch.no_grad(), torch.random.fork_rng():
        torch.manual_seed(seed)
        a, s, _ = agent.actor.asb(batch['next_obs'])
        noisy = agent.target_critic.soft(next_view, agent.actor.action(a, s, clip=sym.target_clip))
        calm = agent.target_critic.soft(next_view, agent.actor.action(a, s, noise=False))
        value = agent.critic.soft(view, batch['action'])
        y = batch['reward'] + sym.gamma * (1.0 - batch['done']) * noisy
    return (float(batch['reward'].mean()), float(value.mean()), float((y - value).mean()),
            float((calm - noisy).mean()))


def episode_figures(agent: Symphony, env, episodes: int, gamma: float, reward_scale: float,
                    privileged: bool, seed: int = 0) -> Tuple[List[float], List[float], int]:
    """Return the values and discounted returns-to-go of test episodes' comparable steps.

    The deterministic actor acts; rewards are divided by ``reward_scale``, as stored.
    :param privileged: the critic sees the env's ``info['critic_obs']``, not the actor's.
    :returns: (values, returns, falls).
    """
    values: List[float] = []
    returns: List[float] = []
    falls = 0
    for ep in range(episodes):
        obs, info = env.reset(seed=seed + ep)
        q, r, fell, done = [], [], False, False
        while not done:
            o = torch.as_tensor(np.asarray(obs), dtype=torch.float32)[None]
            view = info['critic_obs'] if privileged else obs
            with torch.no_grad():
                action = agent.actor.deterministic(o)
                q.append(float(agent.critic.soft(
                    torch.as_tensor(np.asarray(view), dtype=torch.float32)[None], action)))
            obs, reward, fell, cut, info = env.step(action[0].numpy())
            r.append(float(reward) / reward_scale)
            done = fell or cut
        falls += int(fell)
        g = returns_to_go(np.asarray(r), gamma, fell)
        values += q[:len(g)]
        returns += g.tolist()
    return values, returns, falls


def check_critic(run_dir: str, at: Optional[int] = None, rows: int = 4096,
                 episodes: int = 3, seed: int = 0) -> CriticFigures:
    """Return the figures of run ``run_dir``'s critic at the checkpoint nearest ``at``.

    :param episodes: test episodes to compare values with returns (0: none).
    :raises CheckpointError: no replay, or a checkpoint that does not load.
    :raises RunDirError: no checkpoint, or none near ``at``.
    """
    from .envs import make_test_env
    from .run_branch import pick_checkpoint

    path = pick_checkpoint(run_dir, at)
    state = load_checkpoint(path)
    agent, sym = _agent(state)
    step = int(state['step'])
    batch, replay_step = _replay_rows(run_dir, step, rows, seed)
    reward, value, td, cost = replay_figures(agent, sym, batch, seed)
    out = dict(step=step, replay_step=replay_step, rows=rows, gamma=sym.gamma,
               noise_clip=sym.target_clip, reward=reward, value=value, td_error=td,
               noise_cost=cost)
    if episodes:
        cfg = TrainConfig(**state['train_config'])
        env = make_test_env(cfg)
        try:
            q, g, falls = episode_figures(agent, env, episodes, sym.gamma,
                                          float(state.get('reward_scale', 1.0)),
                                          cfg.privileged_critic, seed)
        finally:
            env.close()
        out.update(test_value=float(np.mean(q)) if q else math.nan,
                   test_return=float(np.mean(g)) if g else math.nan, test_steps=len(q),
                   test_falls=falls, test_episodes=episodes)
    return CriticFigures(**out)


def loss_noise_note(sym: SymphonyConfig) -> Optional[str]:
    """Say when the critic target's next action is noisier than the acting, by half or more.

    The critic is then fit to the value of a noisier policy than the one that acts, at
    actions no stored step took, and values every step lower for it (`check_critic`).
    """
    act, loss = noise_std(sym.acting_noise_clip), noise_std(sym.target_clip)
    if act >= 0.5 * loss:
        return None
    flag = '--target-noise-clip' if sym.target_noise_clip else '--noise-clip'
    return (f'the critic target\'s next action carries noise of std {loss:.2f} ({flag} '
            f'{sym.target_clip:.3g}), {loss / act:.1f}x the acting noise\'s {act:.2f} '
            '(--act-noise-clip): the critic is fit to the value of a noisier policy than the '
            'one that acts, at actions no stored step took (symphony inspect RUN_DIR --critic '
            'says what it costs)')


def lines(run_dir: str, f: CriticFigures) -> List[str]:
    """Say the figures, with what they mean for the run."""
    own = ('its own replay' if f.replay_step == f.step
           else f'the replay of step {f.replay_step:,} (newer rows included)')
    share = f.noise_cost / f.reward if f.reward else math.nan
    out = [f'critic of {run_dir} at step {f.step:,} ({f.rows:,} transitions drawn from {own}; '
           'reward units: rewards / the run\'s reward scale)',
           f'  reward per step {f.reward:.3f}: earned for ever, worth {f.steady_value:.1f} '
           f'(gamma {f.gamma})',
           f'  value at the stored steps Q = {f.value:.1f}; TD error left by the fit '
           f'{f.td_error:+.3f}',
           f'  the target\'s next-action noise (clip {f.noise_clip:.3g}, std about '
           f'{noise_std(f.noise_clip):.2f}) costs {f.noise_cost:.3f} per step in the critic\'s '
           f'eyes ({share:.0%} of the reward)']
    if f.test_episodes:
        ratio = f.test_value / f.test_return if f.test_return else math.nan
        out.append(f'  test episodes ({f.test_episodes}, the deterministic actor, '
                   f'{f.test_falls} fell): value {f.test_value:.1f} against discounted '
                   f'returns {f.test_return:.1f} at the same {f.test_steps:,} steps '
                   f'({ratio:.0%})')
    if f.test_episodes and f.test_return and f.test_value < 0.5 * f.test_return \
            and f.noise_cost > 0.25 * f.reward:
        out.append('  the critic values the actor under the target\'s noise, far below what it '
                   'earns: a run started with --target-noise-clip (or --noise-clip) near the '
                   'acting noise\'s clip learns without that (models/RESEARCH_LOG.md, sessions '
                   '59-61); changed mid-run, even ramped, or under a trained actor taken '
                   'into a fresh run, it has unlearned actors')
    if f.test_falls and f.test_return and f.test_return > 0 \
            and f.test_value > 2.0 * f.test_return:
        out.append('  the critic values the actor\'s steps far above what they earn, and it '
                   'fell: the actor has followed the critic\'s slope to actions its replay '
                   'does not hold (seen in a trained actor taken into a fresh run once '
                   '--anchor-weight had faded, and in a run whose target noise was lowered '
                   'mid-run by --target-noise-clip; models/RESEARCH_LOG.md, session 61)')
    return out


__all__ = ['CriticFigures', 'TAIL_STEPS', 'check_critic', 'episode_figures', 'lines',
           'loss_noise_note', 'replay_figures', 'returns_to_go']

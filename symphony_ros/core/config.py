"""Symphony hyper-parameters: one typed dataclass and the paper's named configurations.

The named configurations follow arXiv 2512.10477 and its reference implementation:
``s3`` (default), ``se``, ``s2`` and ``ed``. CLI flags and ROS parameters are derived
from these dataclasses, so a default lives here and nowhere else.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from ..util.fields import check_ranges, ranged

GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


@dataclass(frozen=True)
class SymphonyConfig:
    """Algorithm hyper-parameters (network sizes, optimizer, buffer, update schedule)."""

    name: str = 's3'
    """Name of the configuration this was derived from."""
    hidden_dim: int = ranged(512, 1)
    """Width h of every FeedForward block."""
    critic_heads: int = ranged(128, 1)
    """Outputs of each of the three critic FeedForwards (h/4); 3x this many heads in total."""
    batch_size: int = ranged(384, 1)
    """Transitions per update (the reference ties it to the number of critic heads)."""
    updates_per_step: int = ranged(3, 1)
    """G: gradient updates per environment step."""
    lr: float = ranged(1e-4, 0, above=True)
    """Learning rate of the single AdamW optimizer."""
    betas: tuple = (GOLDEN, 0.995)
    """AdamW betas (no bias correction)."""
    weight_decay: float = ranged(0.01, 0)
    """Decoupled weight decay, multiplied by lr."""
    gamma: float = ranged(0.99, 0, 1)
    """Discount factor."""
    tau: float = ranged(0.005, 0, 1)
    """Polyak factor of the target critics."""
    advantage_alpha: float = ranged(GOLDEN, 0, 1)
    """alpha of the temporal advantage baseline Q_T = alpha*m + (1-alpha)*Q'."""
    noise_clip: float = ranged(math.e, 0, above=True)
    """Limited parametric noise N = clamp(eps, -c, c) / c, eps ~ N(0, 1): its standard
    deviation is about 1/c (0.37 at e) before the tanh; a larger c explores less. It acts
    in the environment and in the loss's next action (see act_noise_clip)."""
    act_noise_clip: float = ranged(0.0, 0)
    """c of the noise the actor acts with in the environment, where the loss's next action
    keeps noise_clip (0: noise_clip, the paper's one noise). Behind a PD robot's action
    scale the paper's noise moves a G1's joint targets by 0.5-0.8 rad every control step
    and fells it within a few hundred; the loss's noise smooths the critic's action gradient
    the actor follows, so this lowers what the robot is made to do and leaves the learner's
    objective as it is."""
    target_noise_clip: float = ranged(0.0, 0)
    """c of the noise on the next action in the critic's target, where the actor's objective
    keeps noise_clip's (0: noise_clip, the paper's one noise). The critic learns the value of
    the policy whose next action carries this noise: at the acting noise it values the policy
    that acts, while the actor still climbs the critic's slope averaged over noise_clip's
    wider noise around its action. A target with less noise smooths the critic less beside
    its data, and an actor free to climb it can leave that data (--anchor-floor holds it)."""
    act_noise_color: float = ranged(0.0, 0, 2)
    """beta of the acting noise's 1/f^beta power spectrum: 0 white, a fresh draw every control
    step (the paper's); 1 pink; 2 red. The same per-step distribution, correlated across an
    episode's steps (core/acting_noise.py): white noise behind a PD robot's joints shakes it
    in place, correlated noise tries whole movements. The loss's noise stays white."""
    gradient_dropout: float = ranged(0.0, 0, 0.99)
    """Probability of dropping an output's gradient (S2 only; 0 disables)."""
    capacity: int = ranged(512_000, 2)
    """Fading Replay Buffer capacity."""
    explore_steps: int = ranged(10_240, 1)
    """N_exp: warm-up steps with the untrained actor plus noise before updates start."""
    fall_steps: int = ranged(50, 0)
    """From 1-based step limit - fall_steps of a training episode only noise acts (the
    deliberate fall: fall_steps + 1 steps, as the reference's ``steps < limit - 50``)."""
    q_floor: float = ranged(1.0, 0, above=True)
    """Floor on |Q_T| in the normalised advantage (see losses.normalised_advantage)."""

    def __post_init__(self) -> None:
        """Refuse a field outside its declared range (ValueError naming it)."""
        check_ranges(self)

    @property
    def acting_noise_clip(self) -> float:
        """Return c of the noise acting in the environment (act_noise_clip, or noise_clip)."""
        return self.act_noise_clip or self.noise_clip

    @property
    def target_clip(self) -> float:
        """Return c of the noise on the critic target's next action (target_noise_clip)."""
        return self.target_noise_clip or self.noise_clip

    def to_dict(self) -> Dict[str, Any]:
        """Return a JSON-friendly dict of every field."""
        d = dataclasses.asdict(self)
        d['betas'] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> 'SymphonyConfig':
        """Build a config from :meth:`to_dict` output, rejecting unknown keys."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f'unknown SymphonyConfig fields: {", ".join(unknown)}')
        d = dict(d)
        if 'betas' in d:
            d['betas'] = tuple(d['betas'])
        return cls(**d)


ODOMETRY_SOURCES = ('sim', 'legs')
"""Where a velocity task's odometry input comes from (`TrainConfig.odometry`)."""

STAND_GAITS = ('still', 'step')
"""What a velocity task with a gait clock asks of a robot told to stand (`TrainConfig.stand_gait`):
every foot down in the default pose, or stepping in place on the clock."""


def odometry_of(train_config: Optional[Dict[str, Any]]) -> str:
    """Return the odometry source a run trained on, from its (or a contract's) train config.

    A config written before the setting existed trained on the simulator's ('sim').
    """
    return str((train_config or {}).get('odometry') or 'sim')


OVERRIDABLE = ('hidden_dim', 'critic_heads', 'batch_size', 'updates_per_step', 'lr',
               'capacity', 'explore_steps', 'noise_clip', 'act_noise_clip', 'target_noise_clip',
               'act_noise_color')
"""Symphony fields a user may override (CLI flags, node parameters, launch arguments); the
rest define the method."""

CONFIGS: Dict[str, SymphonyConfig] = {
    's3': SymphonyConfig(),
    'se': SymphonyConfig(name='se', noise_clip=math.pi),
    's2': SymphonyConfig(name='s2', gradient_dropout=0.5, lr=5e-5, explore_steps=20_480,
                         capacity=20_480 * 25),
    'ed': SymphonyConfig(name='ed', hidden_dim=384, critic_heads=96, batch_size=288,
                         updates_per_step=2, explore_steps=7_680, capacity=384_000),
}


def get_config(name: str, **overrides: Any) -> SymphonyConfig:
    """Return the named configuration with ``overrides`` applied.

    :param name: one of :data:`CONFIGS`.
    :raises ValueError: for an unknown name or field.
    """
    if name not in CONFIGS:
        raise ValueError(f'unknown config {name!r}; expected one of {", ".join(CONFIGS)}')
    try:
        return dataclasses.replace(CONFIGS[name], **overrides)
    except TypeError as exc:
        raise ValueError(f'bad override for config {name!r}: {exc}') from None


@dataclass(frozen=True)
class TrainConfig:
    """What to train on and for how long; the run-level settings of ``symphony train``."""

    config: str = 's3'
    """Named Symphony configuration (s3, se, s2, ed)."""
    env: str = 'symphony/Humanoid-v4'
    """Environment id: a project env (symphony/Humanoid-v4, velocity:<robot>) or a Gymnasium id."""
    steps: int = ranged(300_000, 1)
    """Environment steps to train for (warm-up included)."""
    seed: int = ranged(0, 0, 2**32 - 1)
    """Seed of every random number generator."""
    run_dir: str = 'runs/humanoid'
    """Folder for metrics, TensorBoard logs, plots and checkpoints."""
    device: str = 'auto'
    """auto, cpu or cuda."""
    cuda_graphs: bool = True
    """On a CUDA device, replay each update as a CUDA graph (one launch instead of a few
    hundred); false: launch its kernels one by one. No effect on a CPU."""
    compile: bool = False
    """On a CPU, compute each update's loss, forward and backward, with torch.compile: about
    1.1x the env steps/s of the G1 recipe (bench/compile_training.py), after 20-70 s of
    compiling at the start for each thread count the run may use (a C++ compiler must be
    installed). A compiled run draws its noise and dropout masks from inductor's generator:
    it repeats itself and resumes exactly, but does not repeat an eager run. No effect on a
    CUDA device."""
    eval_every: int = ranged(2_500, 1)
    """Evaluate the deterministic actor every this many env steps (after warm-up)."""
    eval_episodes: int = ranged(10, 1)
    """Test episodes per evaluation."""
    checkpoint_every: int = ranged(2_500, 1)
    """Write a checkpoint every this many env steps."""
    episode_limit: Optional[int] = ranged(None, 0)
    """Episode step limit; None or 0 takes the environment's own time limit."""
    obs_spec: Optional[str] = None
    """Observation spec for robot envs; None takes the env's default."""
    history: int = ranged(1, 1, 8)
    """Observations the actor takes at once, newest first (1: the current one). The last
    few show what one cannot: how long the command in flight has acted, how the base drifts
    after a kick. The contract records it and the deploy loop stacks alike; the privileged
    critic's view stays one frame."""
    odometry: str = 'sim'
    """Where a velocity task's base-velocity input comes from (an --obs-spec with odom among
    its inputs, such as velocity_gait_odom): sim, the simulator's exact velocity; legs, the
    leg odometry a robot without a state estimator runs on its joints and IMU (what
    `deploy estimator:=legs` publishes), so the actor learns on the estimate it will be
    deployed with, lag after a kick included. The reward and the critic read the simulator's
    either way."""
    exact_resume: bool = True
    """Keep the replay buffer with the newest checkpoint, so --resume continues exactly;
    false: checkpoints hold networks and optimizer only (smaller, faster) and a resume
    refills the buffer with a fresh warm-up."""
    keep_actors: bool = False
    """Keep every evaluated actor as actors/actor_<step>.pt (its test return with it; an
    actor alone, in best_actor.pt's form), so the run's past can be weighed side by side
    (symphony stress RUN/actors/actor_*.pt) after the checkpoints it came from are pruned
    (the newest two stay)."""
    keep_checkpoints: bool = False
    """Keep every checkpoint's networks and optimizer (the replay still only with the
    newest), so that the run can be taken back to any of them: symphony branch RUN NEW --at
    STEP resumes one with the newest replay rewound to it. 2.4 MB a checkpoint for the G1
    recipe."""
    refill_steps: int = ranged(0, 0)
    """On a resume from a checkpoint saved without its replay (--exact-resume false, or a
    branch whose replay could not be rewound): refill the buffer with this many steps of
    the trained actor before learning again, outside the step count, so the randomisation's
    ramp, the evaluations and the schedules stay at the checkpoint's step; 0: a warm-up of
    the config's explore_steps, counted as training steps. Learning on the actor's own steps
    alone can undo it (models/RESEARCH_LOG.md, Session 39): a rewound replay is the better
    start."""
    threads: Optional[int] = ranged(None, 0)
    """torch CPU threads of the learner; None or 0 chooses from measured update times,
    again when load changes, and logs each choice."""
    eval_protocol: str = 'fixed'
    """fixed: eval_episodes episodes from the same seeds each evaluation, best actor kept in
    best_actor.pt; paper: the reference's 25 episodes from fresh seeds, current actor kept."""
    randomize: str = 'none'
    """Training randomisation: none, default (robot file's ranges) or a YAML file of ranges.
    A resume may change it, --randomize-scale, --randomize-ramp and --lr (a curriculum
    step, recorded in the run's curriculum)."""
    randomize_scale: float = ranged(1.0, 0)
    """Factor on every randomisation range's width (0: none)."""
    randomize_ramp: int = ranged(0, 0)
    """Env steps over which the randomisation widens linearly from none to
    --randomize-scale, set at each episode start (0: full width from the first step); from
    the scale an --init-from source ended at, when it trained under the same ranges; after
    a resume that changed the randomisation, from the width then in force, from that step."""
    eval_randomized: bool = False
    """Test episodes under the run's randomisation at --randomize-scale, never ramped (the
    same draws at every evaluation, from the episode seeds), so best_actor.pt is the actor
    that copes best; false: the nominal robot."""
    init_from: Optional[str] = None
    """Start the networks and optimizer from this checkpoint (a file, or a run folder's
    newest), or the actor alone from best_actor.pt or an exported policy (.onnx; critic and
    optimizer fresh); the buffer is filled by a warm-up with that actor. Its obs/action
    sizes and network shapes must match this run's."""
    init_buffer: bool = False
    """With --init-from: also take the replay buffer saved with that checkpoint and skip the
    warm-up, so the run learns on from the source's experience (a trained actor beside a
    fresh, small buffer can unlearn). The two runs must score the same reward (env, reward
    weights), their critics see the same observation and capacities match."""
    reward_weights: str = ''
    """Reward weights of this run over its env's, as term=weight,term=weight: a
    <task>:<robot> env's terms (e.g. alive=0.3,gait_contact=0.6; empty: the robot file's), or
    symphony/Humanoid-v4's action_rate (e.g. action_rate=-0.1: that times the squared change
    of the clipped action per step, on top of Gymnasium's reward; empty: none)."""
    commands: str = ''
    """Velocity commands this run draws, over its <task>:<robot> env's, as
    lin_vel_x=lo:hi,lin_vel_y=lo:hi,yaw_rate=lo:hi,standing_fraction=f,turning_fraction=f
    (m/s, rad/s; one value for a fixed command; the shares of commands to stand and to turn
    in place; empty: the robot file's): a command curriculum, e.g.
    lin_vel_x=0:0.8,lin_vel_y=0,yaw_rate=0 to learn forward walking first. The exported
    contract records the ranges, so policy_node clips cmd_vel to what the policy learned."""
    tracking_sigma: float = ranged(0.0, 0)
    """Width of a <task>:<robot> env's velocity-tracking rewards, exp(-error^2 / sigma), in
    (m/s)^2 and (rad/s)^2 (0: the robot file's, else 0.25 as legged_gym). A narrower kernel
    pays less for standing when told to move slowly: at 0.25 a robot standing when told 0.2
    m/s keeps 0.85 of the tracking reward, at 0.05 it keeps 0.45. A resume that changes it
    re-scores the replay's tracking terms exactly (each is the same error under another
    width)."""
    gait_free_error: float = ranged(0.0, 0)
    """m/s: while a <task>:<robot> env's base misses its velocity command by more than this
    (a kick threw it), the gait clock's terms (gait_contact, swing_height, joint_ref) pay
    nothing, so a recovery step out of rhythm, or off the standing pose when told to stand,
    costs nothing (0: never, as the robot file's). A resume may change it; the replay's
    stored steps keep the terms they were scored with."""
    stand_gait: str = ''
    """What the gait terms of a <task>:<robot> env with a gait clock ask of a robot told to
    stand: still, every foot down in the default pose; step, stepping in place on the clock
    as when walking, so that a kick from the side or behind meets a robot already stepping;
    empty: the robot file's (still unless it says). A resume may change it; the replay's
    stored steps keep the terms they were scored with."""
    assist: float = ranged(0.0, 0)
    """1/s: a hand on the pelvis in training, a horizontal force of assist x mass x
    (commanded - measured base velocity), at most 3 m/s^2 of the robot (`robot.assist`): a
    policy that only stands is pulled into steps, which its replay otherwise never holds.
    Velocity tasks only; test episodes and deployment never have it. Stages lower it to 0
    as the policy learns to carry itself (0: off)."""
    privileged_critic: bool = False
    """The critic sees the env's privileged observation (info['critic_obs']: exact, with the
    base velocity, height and foot contacts no robot sensor gives) and the actor its own: an
    asymmetric actor-critic. The exported actor is unchanged; false: both see the actor's."""
    critic_dynamics: bool = False
    """The privileged critic also sees the episode's randomised dynamics (masses, payload,
    base CoM offset, floor friction, motor strength, kp, kd, action delay, sensor-noise
    scale; `robot.critic_dynamics`): under randomisation a state's value depends on them, and
    no sensor gives them, so only the critic may see them. Needs --privileged-critic true and
    --randomize; the exported actor is unchanged. A run trained without it takes it by a
    branch (symphony branch --critic-dynamics)."""
    actor_frozen_steps: int = ranged(0, 0)
    """Env steps from the run's start during which the actor acts as it is and only the
    critic learns (from the warm-up's end, when updates begin): a fresh critic beside a
    trained actor (--init-from a run whose critic saw another observation) would otherwise
    steer the actor by its first, random values."""
    anchor_weight: float = ranged(0.0, 0)
    """With --init-from: weight of a penalty on the actor's distance from the actor it
    started from (mean squared difference of their deterministic actions on each batch),
    fading linearly to 0 over --anchor-steps once the actor learns. A fresh critic's first
    gradients then move a trained actor only where they outweigh it; 0: none. Under
    sensor noise the starting actor is asked on the observations without it."""
    anchor_steps: int = ranged(100_000, 1)
    """Env steps after --actor-frozen-steps over which --anchor-weight fades to
    --anchor-floor."""
    anchor_floor: float = ranged(0.0, 0)
    """The weight the anchor fades to and then keeps (at most --anchor-weight): fine-tunes
    whose anchor faded to 0 collapsed within 5-10k steps of it; 0: it fades away."""
    anchor_free_error: float = ranged(0.0, 0)
    """m/s; with --anchor-weight on a velocity task: the anchor leaves out the sampled steps
    whose base misses its command by more than this in the plane (a kick threw it), so the
    actor's answer to a kick is the critic's to teach while its gait elsewhere stays held
    (`core.anchor_free`); 0: it holds every step. Needs --privileged-critic true."""
    noise_smoothing: float = ranged(0.0, 0)
    """Weight of a penalty on how far sensor noise moves the actor's actions: the mean squared
    difference of its deterministic actions on each sampled observation with the noise and
    without it (the spatial smoothness of CAPS, Mysore et al. 2021). An actor that answers
    sensor noise step by step chatters, and a PD robot's joints follow it. Needs a
    randomisation that adds sensor noise; transitions stored without their clean
    observation (an --init-buffer source's) add nothing. 0: none."""
    relabel_commands: float = ranged(0.0, 0, 1)
    """Share of each minibatch learned under a velocity command drawn anew from the task's
    ranges (hindsight commands, `core.relabel`): the command is written into the
    transition's observations and its tracking terms re-scored from the velocity the step
    reached, so each step teaches what its motion is worth under many commands. Rows asking
    to stand keep theirs. Needs a velocity task and --privileged-critic (the critic's view
    holds that velocity); 0: none."""
    mirror: bool = False
    """Learn half of every minibatch as its left-right mirror image (a symmetric robot and
    task, e.g. velocity:g1; the maps come from its joint names and MJCF axes)."""
    symmetric_actor: bool = False
    """Make the actor left-right symmetric by construction: its action is the mean of its
    answer to the observation and the mirror image of its answer to the mirrored observation
    (the maps as --mirror's), so a mirrored state gets the mirrored action exactly, in
    training and in the exported graph. Costs a second actor pass; with --init-from, a plain
    source actor goes on symmetrised."""
    curriculum: List[Dict[str, Any]] = field(default_factory=list)
    """Each resume that changed the randomisation or lr: the step it took effect, each
    changed setting as [before, after] and ``scale_before`` (the randomisation scale then in
    force). Written by the trainer, not a flag: config.json and the policy card say how the
    run was trained."""
    stages: List[Dict[str, Any]] = field(default_factory=list)
    """Curriculum steps the run takes itself (--stages FILE, `core.stages`): at each stage's
    ``at`` env step (with ``min_return``, at the first test from there that reaches it) the
    run checkpoints and resumes with the stage's settings, recorded in its curriculum like a
    change made by hand. A resume keeps them (a --stages given replaces them)."""
    init_source: Dict[str, Any] = field(default_factory=dict)
    """What --init-from gave: the file taken (``path``), its ``sha256`` and ``steps``, the env
    steps its networks had seen (its run's, plus its own source's where that was recorded).
    Written by the trainer, not a flag: a fine-tune's card then says where it began, even
    after the file it began from was replaced."""
    overrides: Dict[str, Any] = field(default_factory=dict)
    """Field overrides applied to the named Symphony configuration."""

    def __post_init__(self) -> None:
        """Refuse a field outside its declared range (ValueError naming it)."""
        check_ranges(self)

    def symphony(self) -> SymphonyConfig:
        """Resolve the algorithm configuration."""
        return get_config(self.config, **self.overrides)

    def to_dict(self) -> Dict[str, Any]:
        """Return a JSON-friendly dict of every field."""
        return dataclasses.asdict(self)


def curriculum_text(entry: Dict[str, Any]) -> str:
    """Say what one ``TrainConfig.curriculum`` entry changed: 'randomize_scale 0.5 -> 1.0'.

    An empty setting is the field's default (no commands string, no stand gait) and reads
    as "(default)" rather than as nothing between the name and the arrow.
    """
    def said(value: Any) -> str:
        return '(default)' if value == '' else str(value)
    return ', '.join(f'{k} {said(v[0])} -> {said(v[1])}' for k, v in entry.items()
                     if k not in ('step', 'scale_before', 'same_widths'))

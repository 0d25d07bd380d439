"""Settings of the MuJoCo stand-in robot; the one source of mujoco_sim_node's ROS parameters."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from ..robot.velocity_commands import parse_commands
from ..util.fields import check_ranges, ranged

RANDOM = 'random'
"""``cmd_vel`` value for commands the sim draws itself, as training draws them."""


@dataclass(frozen=True)
class SimConfig:
    """MuJoCo stand-in for the robot: timing, resets, command handling."""

    robot: str = 'humanoid'
    """Robot description name (joint order, limits, control period)."""
    timing: str = 'realtime'
    """realtime: a steady-clock timer steps the physics; lockstep: publish state, wait for
    the command of that tick, then step (deterministic evaluation; publishes /clock)."""
    seed: int = ranged(0, 0, 2**32 - 1)
    """Seed of the reset noise: episode k starts from default_rng(seed + k), the seeding
    of gymnasium's ``reset(seed=seed + k)``, so episodes replay exactly."""
    reset_noise: float = ranged(0.01, 0)
    """Uniform noise added to the initial pose and velocity at reset (Humanoid-v4's scale)."""
    auto_reset: bool = True
    """Reset after a fall (base height outside [healthy_z_min, healthy_z_max])."""
    healthy_z_min: float = ranged(0.0)
    """m; below this base height the robot counts as fallen; 0 = the robot file's fall
    min_base_height (the humanoid's 1.0 is Humanoid-v4's healthy range)."""
    healthy_z_max: float = ranged(0.0)
    """m; above this base height the robot counts as fallen; 0 = the robot file's fall
    max_base_height (none: no upper bound)."""
    command_input: str = 'effort'
    """pd_position robots: 'effort' (torques from the watchdog's torque gate; the sim steps
    and publishes its state at the physics rate) or 'position' (targets and gains from the
    watchdog's position output; the sim runs the PD at each physics step, as a driver)."""
    command_timeout: float = ranged(0.05, 0, above=True)
    """s (steady clock); with no command for this long the sim applies zero torque."""
    command_delay: float = ranged(0.0, 0, 1.0)
    """s between a command's arrival and the motors applying it (timing realtime only): a
    real robot's DDS and driver latency, e.g. for symphony stress --ros. 0 = at once.
    Position input delays the targets; the PD gains apply on arrival."""
    push_velocity: float = ranged(0.0, 0, 5.0)
    """m/s added to the base's horizontal velocity, in a random heading, every
    push_interval_min..push_interval_max s of simulated time (symphony stress's push
    conditions, e.g. for symphony stress --ros). 0 = no kicks."""
    push_interval_min: float = ranged(5.0, 0, above=True)
    """s of simulated time, shortest wait before a kick (drawn anew after each)."""
    push_interval_max: float = ranged(10.0, 0, above=True)
    """s of simulated time, longest wait before a kick."""
    episode_steps: int = ranged(1000, 0)
    """Time limit of an episode in control steps (Humanoid-v4's); 0 = none."""
    max_ticks: int = ranged(0, 0)
    """Exit after this many control steps (0 = run until shut down)."""
    max_episodes: int = ranged(0, 0)
    """Exit after this many finished episodes (0 = run until shut down)."""
    wait_for_active: bool = False
    """Hold the robot at its initial state (a gantry) until the watchdog reports ACTIVE, so
    every episode runs under the policy, not under the watchdog's safe output or its ramp
    (the deploy graph sets it)."""
    await_subscriber: str = ''
    """With wait_for_active: also hold until the node of this name subscribes to the sim's
    joint states and reward and to the commands it takes in (those published yet), so it
    hears the run from its first step (the deploy graph's recorder with record:=true: a bag
    that misses the start scores a different return). Empty: do not wait."""
    watchdog: str = 'watchdog_node'
    """Node name of the watchdog whose ~/reset the sim calls after it resets a fallen robot
    (a fall latches the watchdog's tilt FAULT; auto_arm then re-arms it), and whose ~/disarm
    it calls when max_ticks or max_episodes ends the run (a planned stop, not a stale-state
    FAULT). Empty: never."""
    policy: str = 'policy_node'
    """Node name of the policy whose ~/reset the sim calls each time it resets the robot, so
    that every episode starts from the policy's fresh memory (no previous action, its gait
    clock at 0, no observation history), as each training and stress episode does; in
    lockstep the next state waits for its answer. Empty, or no such service: never."""
    lockstep_timeout: float = ranged(1.0, 0, above=True)
    """s; in lockstep, how long to wait for a tick's command before stepping with zero torque
    (and for a state estimator's estimate of the state before stepping on)."""
    cmd_vel: str = ''
    """'vx,vy,wz' (m/s, m/s, rad/s): publish this velocity command on cmd_vel with every
    state, as a teleop would (a demo, a test); 'random': draw the command as training does
    (a new one at each episode start and every resample_steps of the velocity task, from the
    seed) and publish it likewise; the sim scores a velocity-task robot against it. Empty:
    the sim publishes none and scores against what arrives on cmd_vel."""
    cmd_vel_ranges: str = ''
    """With cmd_vel random: the ranges and shares to draw from, over the robot file's velocity
    task, as symphony train's --commands (lin_vel_x=lo:hi,lin_vel_y=lo:hi,yaw_rate=lo:hi,
    standing_fraction=f,turning_fraction=f); symphony stress --ros gives the policy's own.
    Empty: the robot file's."""

    @property
    def random_commands(self) -> bool:
        """Whether the sim draws its own velocity commands (``cmd_vel`` 'random')."""
        return self.cmd_vel.strip() == RANDOM

    def velocity_command(self) -> Optional[Tuple[float, float, float]]:
        """Return :attr:`cmd_vel` parsed, or None when empty or 'random'.

        :raises ValueError: not three finite numbers, naming the parameter.
        """
        if not self.cmd_vel.strip() or self.random_commands:
            return None
        try:
            values = tuple(float(v) for v in self.cmd_vel.split(','))
        except ValueError:
            values = ()
        if len(values) != 3 or not all(math.isfinite(v) for v in values):
            raise ValueError(f'cmd_vel: expected vx,vy,wz (three finite numbers, m/s and '
                             f'rad/s) or {RANDOM!r}, got {self.cmd_vel!r}')
        return values

    def command_draws(self) -> Dict[str, Any]:
        """Return :attr:`cmd_vel_ranges` as velocity-task settings ({} when empty).

        :raises ValueError: naming the parameter: ranges without cmd_vel random, or what
            ``--commands`` refuses (an unknown setting, an inverted range, a share outside 0..1).
        """
        if not self.cmd_vel_ranges.strip():
            return {}
        if not self.random_commands:
            raise ValueError(f'cmd_vel_ranges: {self.cmd_vel_ranges!r} sets what the sim '
                             f'draws, and it draws only with cmd_vel {RANDOM!r} (cmd_vel is '
                             f'{self.cmd_vel!r})')
        return parse_commands(self.cmd_vel_ranges, where='cmd_vel_ranges')

    def __post_init__(self) -> None:
        """Refuse a field outside its declared range (ValueError naming it)."""
        check_ranges(self)

    def validate(self) -> None:
        """Raise ValueError naming the first bad field (ranges: see ``__post_init__``)."""
        if self.timing not in ('realtime', 'lockstep'):
            raise ValueError(f"timing: expected 'realtime' or 'lockstep', got {self.timing!r}")
        if self.healthy_z_min and self.healthy_z_max and not (
                self.healthy_z_min < self.healthy_z_max):
            raise ValueError('healthy_z_min must be below healthy_z_max')
        self.velocity_command()
        self.command_draws()
        if self.command_delay and self.timing != 'realtime':
            raise ValueError(f'command_delay: {self.command_delay} s needs timing realtime '
                             f'(in {self.timing} the sim steps on the command, not a clock)')
        if self.push_interval_min > self.push_interval_max:
            raise ValueError(f'push_interval_min: {self.push_interval_min} s is above '
                             f'push_interval_max: {self.push_interval_max} s')
        if self.command_input not in ('effort', 'position'):
            raise ValueError("command_input: expected 'effort' or 'position', got "
                             f'{self.command_input!r}')

"""Settings of the MuJoCo stand-in robot; the one source of mujoco_sim_node's ROS parameters."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SimConfig:
    """MuJoCo stand-in for the robot: timing, resets, command handling."""

    robot: str = 'humanoid'
    """Robot description name (joint order, limits, control period)."""
    timing: str = 'realtime'
    """realtime: a steady-clock timer steps the physics; lockstep: publish state, wait for
    the command of that tick, then step (deterministic evaluation; publishes /clock)."""
    seed: int = 0
    """Seed of the reset noise: episode k starts from default_rng(seed + k), the seeding
    of gymnasium's ``reset(seed=seed + k)``, so episodes replay exactly."""
    reset_noise: float = 0.01
    """Uniform noise added to the initial pose and velocity at reset (Humanoid-v4's scale)."""
    auto_reset: bool = True
    """Reset after a fall (base height outside [healthy_z_min, healthy_z_max])."""
    healthy_z_min: float = 0.0
    """m; below this base height the robot counts as fallen; 0 = the robot file's fall
    min_base_height (the humanoid's 1.0 is Humanoid-v4's healthy range)."""
    healthy_z_max: float = 0.0
    """m; above this base height the robot counts as fallen; 0 = the robot file's fall
    max_base_height (none: no upper bound)."""
    command_input: str = 'effort'
    """pd_position robots: 'effort' (torques from the watchdog's torque gate; the sim steps
    and publishes its state at the physics rate) or 'position' (targets and gains from the
    watchdog's position output; the sim runs the PD at each physics step, as a driver)."""
    command_timeout: float = 0.05
    """s (steady clock); with no command for this long the sim applies zero torque."""
    episode_steps: int = 1000
    """Time limit of an episode in control steps (Humanoid-v4's); 0 = none."""
    max_ticks: int = 0
    """Exit after this many control steps (0 = run until shut down)."""
    max_episodes: int = 0
    """Exit after this many finished episodes (0 = run until shut down)."""
    wait_for_active: bool = False
    """Hold the robot at its initial state (a gantry) until the watchdog reports ACTIVE, so
    every episode runs under the policy, not under the watchdog's safe output or its ramp
    (the deploy graph sets it)."""
    watchdog: str = 'watchdog_node'
    """Node name of the watchdog whose ~/reset the sim calls after it resets a fallen robot
    (a fall latches the watchdog's tilt FAULT; auto_arm then re-arms it). Empty: never."""
    lockstep_timeout: float = 1.0
    """s; in lockstep, how long to wait for a tick's command before stepping with zero torque."""

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        if self.timing not in ('realtime', 'lockstep'):
            raise ValueError(f"timing: expected 'realtime' or 'lockstep', got {self.timing!r}")
        for name in ('command_timeout', 'lockstep_timeout'):
            if getattr(self, name) <= 0:
                raise ValueError(f'{name}: expected a positive number of seconds')
        for name in ('episode_steps', 'max_ticks', 'max_episodes'):
            if getattr(self, name) < 0:
                raise ValueError(f'{name}: expected 0 or a positive count')
        if self.healthy_z_min and self.healthy_z_max and not (
                self.healthy_z_min < self.healthy_z_max):
            raise ValueError('healthy_z_min must be below healthy_z_max')
        if self.command_input not in ('effort', 'position'):
            raise ValueError("command_input: expected 'effort' or 'position', got "
                             f'{self.command_input!r}')

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
    """Seed of the reset noise."""
    reset_noise: float = 0.01
    """Uniform noise added to the initial pose and velocity at reset (Humanoid-v4's scale)."""
    auto_reset: bool = True
    """Reset after a fall (base height outside [healthy_z_min, healthy_z_max])."""
    healthy_z_min: float = 1.0
    """m; below this base height the robot counts as fallen (Humanoid-v4's healthy range)."""
    healthy_z_max: float = 2.0
    """m; above this base height the robot counts as fallen."""
    command_timeout: float = 0.05
    """s (steady clock); with no command for this long the sim applies zero torque."""
    lockstep_timeout: float = 1.0
    """s; in lockstep, how long to wait for a tick's command before stepping with zero torque."""

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        if self.timing not in ('realtime', 'lockstep'):
            raise ValueError(f"timing: expected 'realtime' or 'lockstep', got {self.timing!r}")
        for name in ('command_timeout', 'lockstep_timeout'):
            if getattr(self, name) <= 0:
                raise ValueError(f'{name}: expected a positive number of seconds')
        if not self.healthy_z_min < self.healthy_z_max:
            raise ValueError('healthy_z_min must be below healthy_z_max')

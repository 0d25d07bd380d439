"""Settings of policy_node; the one source of its ROS parameters."""

from __future__ import annotations

from dataclasses import dataclass

from .velocity_command import DEFAULT_TIMEOUT


@dataclass(frozen=True)
class PolicyNodeConfig:
    """Which policy drives which robot, and how the control loop is timed."""

    policy_path: str = ''
    """ONNX file from `symphony export`; empty = the package's shipped model."""
    robot: str = 'humanoid'
    """Robot description the policy must match (joint names, control period)."""
    lockstep: bool = False
    """Act on each new joint_states message instead of a steady-clock timer (sim lockstep)."""
    act_on_state: bool = False
    """Act on each new robot state (every needed input carrying one stamp) instead of a timer,
    for a robot that publishes its state once per control period (the realtime MuJoCo sim):
    a timer's phase against it can make every action one period late."""
    stale_after: float = 3.0
    """Control periods without a new robot state before an input counts as stale (timer
    mode only: in lockstep the sim waits for each answer)."""
    diagnostics_period: float = 1.0
    """s between /diagnostics reports."""
    cmd_vel_timeout: float = DEFAULT_TIMEOUT
    """s without a valid cmd_vel before a velocity-tracking policy is commanded zero."""
    realtime_priority: int = 0
    """SCHED_FIFO priority (1-99) of the node's threads; 0 = normal scheduling. Needs root
    or CAP_SYS_NICE; put the watchdog one level above."""

    def __post_init__(self) -> None:
        """Reject values the node cannot run with, naming the parameter."""
        if not 0 <= self.realtime_priority <= 99:
            raise ValueError(f'realtime_priority must be 0-99, got {self.realtime_priority}')
        if self.stale_after <= 0 or self.diagnostics_period <= 0 or self.cmd_vel_timeout <= 0:
            raise ValueError('stale_after, diagnostics_period and cmd_vel_timeout must be > 0, '
                             f'got {self.stale_after}, {self.diagnostics_period} and '
                             f'{self.cmd_vel_timeout}')

    def resolved_policy_path(self) -> str:
        """Return the policy file to load."""
        if self.policy_path:
            return self.policy_path
        from ..paths import default_policy_path
        return default_policy_path()

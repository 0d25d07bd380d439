"""Settings of policy_node; the one source of its ROS parameters."""

from __future__ import annotations

from dataclasses import dataclass

from ..util.fields import check_ranges, ranged
from .velocity_command import DEFAULT_TIMEOUT


@dataclass(frozen=True)
class PolicyNodeConfig:
    """Which policy drives which robot, and how the control loop is timed."""

    policy_path: str = ''
    """ONNX file from `symphony export`; empty = the policy shipped for ``robot``."""
    robot: str = 'humanoid'
    """Robot description the policy must match (joint names, control period)."""
    deploy_target: str = 'real'
    """Where the commands go: sim, gazebo or real (the deploy graph's robot:=). real warns
    once at start-up when the policy's contract has no passing stress report; the default
    is real because a node started by hand may be driving hardware."""
    lockstep: bool = False
    """Act on each new joint_states message instead of a steady-clock timer (sim lockstep)."""
    act_on_state: bool = False
    """Act on each new robot state (every needed input carrying one stamp) instead of a timer,
    for a robot that publishes its state once per control period (the realtime MuJoCo sim):
    a timer's phase against it can make every action one period late."""
    stale_after: float = ranged(3.0, 0, above=True)
    """Control periods without a new robot state before an input counts as stale (timer
    mode only: in lockstep the sim waits for each answer)."""
    diagnostics_period: float = ranged(1.0, 0, above=True)
    """s between /diagnostics reports."""
    cmd_vel_timeout: float = ranged(DEFAULT_TIMEOUT, 0, above=True)
    """s without a valid cmd_vel before a velocity-tracking policy is commanded zero."""
    realtime_priority: int = ranged(0, 0, 99)
    """SCHED_FIFO priority of the node's threads; 0 = normal scheduling. Needs root or
    CAP_SYS_NICE; put the watchdog one level above (the deploy graph's realtime_priority:=
    takes 1-98 for that reason)."""

    def __post_init__(self) -> None:
        """Reject values the node cannot run with, naming the parameter."""
        check_ranges(self)
        from ..graph.deploy import ROBOTS
        if self.deploy_target not in ROBOTS:
            raise ValueError(f'deploy_target: expected one of {", ".join(ROBOTS)}, got '
                             f'{self.deploy_target!r}')

    def resolved_policy_path(self) -> str:
        """Return the policy file to load.

        :raises ValueError: none is given and none ships for the robot.
        """
        from ..paths import policy_for
        return policy_for(self.policy_path, self.robot)

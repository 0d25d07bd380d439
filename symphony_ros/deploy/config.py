"""Settings of policy_node; the one source of its ROS parameters."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PolicyNodeConfig:
    """Which policy drives which robot, and how the control loop is timed."""

    policy_path: str = ''
    """ONNX file from `symphony export`; empty = the package's shipped model."""
    robot: str = 'humanoid'
    """Robot description the policy must match (joint names, control period)."""
    lockstep: bool = False
    """Act on each new joint_states message instead of a steady-clock timer (sim lockstep)."""
    stale_after: float = 3.0
    """Control periods without a new robot state before an input counts as stale (timer
    mode only: in lockstep the sim waits for each answer)."""
    diagnostics_period: float = 1.0
    """s between /diagnostics reports."""

    def resolved_policy_path(self) -> str:
        """Return the policy file to load."""
        if self.policy_path:
            return self.policy_path
        from ..paths import default_policy_path
        return default_policy_path()

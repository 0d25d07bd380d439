"""Watchdog states and the fault causes a FAULT latches."""

from __future__ import annotations

import enum


class State(enum.Enum):
    """Where the watchdog is; only RAMP and ACTIVE pass policy torque through."""

    DISARMED = 'DISARMED'
    RAMP = 'RAMP'
    ACTIVE = 'ACTIVE'
    FAULT = 'FAULT'

    @property
    def armed(self) -> bool:
        """True in the states that pass policy torque through."""
        return self in (State.RAMP, State.ACTIVE)


class Fault(enum.Enum):
    """Cause latched with a FAULT, in priority order (the first active one is reported)."""

    ESTOP = 'estop'
    TILT = 'tilt'
    HEIGHT = 'height'
    VELOCITY = 'velocity_limit'
    JOINT_STATE_STALE = 'joint_states_stale'
    IMU_STALE = 'imu_stale'
    ODOM_STALE = 'odom_stale'
    COMMAND_STALE = 'command_stale'
    COMMAND_REJECTED = 'command_rejected'
    SATURATION = 'saturation'
    MULTIPLE_PUBLISHERS = 'multiple_publishers'
    INTERNAL = 'internal_error'

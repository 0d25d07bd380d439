"""Safety watchdog core: the torque gate between a policy and the hardware (no rclpy here)."""

from symphony_ros.safety.config import WatchdogConfig
from symphony_ros.safety.errors import Rejected
from symphony_ros.safety.states import Fault, State
from symphony_ros.safety.watchdog import CommandVerdict, Watchdog

__all__ = ['CommandVerdict', 'Fault', 'Rejected', 'State', 'Watchdog', 'WatchdogConfig']

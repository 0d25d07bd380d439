"""Fake clock and a driver that feeds a core Watchdog healthy inputs (pure, no rclpy)."""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from symphony_ros.safety import Watchdog, WatchdogConfig

UPRIGHT = (0.0, 0.0, 0.0, 1.0)


class FakeClock:
    """Steady clock under test control (seconds)."""

    def __init__(self, t: float = 100.0):
        self.t = t

    def __call__(self) -> float:
        """Return the current fake time."""
        return self.t

    def advance(self, dt: float) -> None:
        """Move time forward by dt seconds."""
        self.t += dt


class Rig:
    """A core watchdog, its fake clock, and healthy inputs that tests then break."""

    def __init__(self, **overrides):
        cfg = dataclasses.replace(WatchdogConfig(startup_holdoff=0.0), **overrides)
        self.clock = FakeClock()
        self.wd = Watchdog(cfg, clock=self.clock)
        self.cfg = self.wd.config
        self.names = list(self.cfg.joint_names)
        self.n = len(self.names)
        self.limit = np.array(self.cfg.effort_limits)
        self.q = (np.array(self.cfg.position_lower) + np.array(self.cfg.position_upper)) / 2
        self.qd = np.zeros(self.n)
        self.command = np.zeros(self.n)
        self.quat = UPRIGHT
        self.feed_command = True
        self.feed_state = True
        self.outputs = [self.wd.output]

    def inputs(self) -> None:
        """Deliver the current command (stamped now), joint states and IMU once."""
        if self.feed_command:
            self.wd.on_command(self.names, self.command, self.clock.t, self.clock.t)
        if self.feed_state:
            assert self.wd.on_joint_state(self.names, self.q, self.qd) == ''
            assert self.wd.on_imu(self.quat) == ''

    def step(self, ticks: int = 1, inputs: bool = True) -> np.ndarray:
        """Advance one timer period per tick, feeding inputs first; return the last output."""
        for _ in range(ticks):
            self.clock.advance(self.wd.period)
            if inputs:
                self.inputs()
            self.outputs.append(self.wd.tick())
        return self.outputs[-1]

    def arm(self, settle: Optional[float] = None) -> None:
        """Feed inputs, arm, and run through the ramp to ACTIVE."""
        self.step()
        ok, msg = self.wd.arm()
        assert ok, msg
        ticks = int((settle if settle is not None else self.cfg.ramp_time) / self.wd.period) + 2
        self.step(ticks)

    def ticks_until(self, predicate, limit: int = 10_000, inputs: bool = True) -> int:
        """Tick until predicate(rig) holds; return how many ticks it took."""
        for i in range(1, limit + 1):
            self.step(inputs=inputs)
            if predicate(self):
                return i
        raise AssertionError('condition never reached')

"""Output invariants over random input sequences (hypothesis): finite, bounded, slew-limited."""

import numpy as np
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import initialize, invariant, rule, RuleBasedStateMachine

from symphony_ros.safety import Watchdog, WatchdogConfig
from symphony_ros.safety.invariants import output_violations
from watchdog_fakes import FakeClock

CONFIG = WatchdogConfig(startup_holdoff=0.0, ramp_time=0.05, auto_arm=True).resolved()
N = len(CONFIG.joint_names)
EFFORT = st.one_of(st.floats(-200.0, 200.0), st.sampled_from(
    [np.nan, np.inf, -np.inf, 1e30, -1e30, 0.0]))


class WatchdogMachine(RuleBasedStateMachine):
    """Drive the core with arbitrary inputs and requests; check every output."""

    @initialize(safe_mode=st.sampled_from(['damping', 'zero']))
    def start(self, safe_mode):
        self.clock = FakeClock()
        self.wd = Watchdog(WatchdogConfig(**{**CONFIG.__dict__, 'safe_mode': safe_mode}),
                           clock=self.clock)
        self.rate = np.array(CONFIG.max_torque_rate)
        self.limit = np.array(CONFIG.effort_limits)
        self.previous = self.wd.output
        self.last_tick = None
        self.problems = []

    @rule(efforts=st.lists(EFFORT, min_size=N, max_size=N),
          shuffle=st.randoms(use_true_random=False),
          stamp_offset=st.sampled_from([0.0, 0.0, 0.0, -1.0, 1.0, None]),
          drop=st.booleans())
    def command(self, efforts, shuffle, stamp_offset, drop):
        names = list(CONFIG.joint_names)
        order = list(range(N))
        shuffle.shuffle(order)
        names = [names[i] for i in order]
        if drop and shuffle.random() < 0.2:
            names = names[1:]
        stamp = 0.0 if stamp_offset is None else self.clock.t + stamp_offset
        verdict = self.wd.on_command(names, efforts, stamp, self.clock.t)
        if verdict.forward:
            self._tick(timer=False)

    @rule(q=st.floats(-4.0, 4.0), qd=st.floats(-40.0, 40.0), spread=st.floats(-1, 1))
    def robot_state(self, q, qd, spread):
        qs = np.full(N, q) + spread * np.linspace(-1, 1, N)
        qds = np.full(N, qd) * np.linspace(-1, 1, N)
        self.wd.on_joint_state(CONFIG.joint_names, qs, qds)

    @rule(quat=st.lists(st.floats(-1.0, 1.0), min_size=4, max_size=4))
    def imu(self, quat):
        self.wd.on_imu(quat)

    @rule(upright=st.just((0.0, 0.0, 0.0, 1.0)))
    def imu_upright(self, upright):
        self.wd.on_imu(upright)

    @rule(pressed=st.integers(0, 9))
    def estop(self, pressed):
        self.wd.on_estop(pressed == 0)  # pressed rarely, so the armed states get explored

    @rule(request=st.sampled_from(['arm', 'disarm', 'reset']))
    def service(self, request):
        getattr(self.wd, request)()

    @rule(count=st.integers(0, 3))
    def publishers(self, count):
        self.wd.set_command_publishers(count)

    @rule(dt=st.one_of(st.just(0.002), st.floats(0.0, 0.05)), timer=st.booleans())
    def tick(self, dt, timer):
        self.clock.advance(dt)
        self._tick(timer)

    def _tick(self, timer):
        now = self.clock.t
        out = self.wd.tick(timer=timer)
        elapsed = self.wd.period if self.last_tick is None else min(now - self.last_tick,
                                                                    self.wd.period)
        self.problems += output_violations(self.previous, out, self.limit, self.rate * elapsed)
        self.previous, self.last_tick = out, now

    @invariant()
    def outputs_kept_the_invariants(self):
        assert not self.problems, self.problems


TestWatchdogInvariants = WatchdogMachine.TestCase
TestWatchdogInvariants.settings = settings(
    max_examples=150, stateful_step_count=60, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow])


def test_invariant_checker_catches_each_violation():
    lim, step = np.ones(2), np.full(2, 0.1)
    assert output_violations(np.zeros(2), np.array([np.nan, 0.0]), lim, step)
    assert output_violations(np.zeros(2), np.array([1.5, 0.0]), lim, np.full(2, 9.0))
    assert output_violations(np.zeros(2), np.array([0.5, 0.0]), lim, step)
    assert not output_violations(np.zeros(2), np.array([0.1, -0.1]), lim, step)

"""Process-level behaviour over DDS that needs a watchdog of its own: ROS time jumps, a
restart under a latched e-stop, clean shutdown, auto_arm, the inputs' QoS and bad parameters."""

import subprocess
import sys
import time

from builtin_interfaces.msg import Time
import numpy as np
import pytest
from rclpy.qos import ReliabilityPolicy
from rosgraph_msgs.msg import Clock as ClockMsg

from watchdog_harness import (
    CONFIG, healthy, LIMIT, NAMES, REPO, topic, WatchdogProcess)

pytestmark = pytest.mark.ros


def wait_up(driver, wd, since=0.0):
    # Its own log line too: two watchdogs on one topic each make the other's outputs seen.
    driver.wait_for(lambda: wd.proc.poll() is None and any(t >= since for t, _ in driver.outputs)
                    and driver.state and 'watchdog up:' in wd.output_log(), 30.0,
                    'watchdog start-up')


def to_msg(seconds: float) -> Time:
    return Time(sec=int(seconds), nanosec=int((seconds % 1.0) * 1e9))


class SimClock:
    """A /clock publisher whose time runs with the steady clock but jumps on request."""

    def __init__(self, driver):
        self.offset = 1000.0 - time.monotonic()
        self.pub = driver.clock_pub
        self.timer = driver.node.create_timer(0.002, self.publish)

    def now(self) -> float:
        return time.monotonic() + self.offset

    def publish(self) -> None:
        self.pub.publish(ClockMsg(clock=to_msg(self.now())))


def test_ros_time_jumps_cause_no_false_trip_and_no_stalled_timer(driver, reactions):
    sim = SimClock(driver)
    driver.stamp = lambda: to_msg(sim.now())
    wd = WatchdogProcess('simtime', use_sim_time=True)
    try:
        wait_up(driver, wd)
        driver.wait_for(lambda: driver.call(wd.service('arm'))[0], 15.0, 'arm')
        time.sleep(0.3)
        assert driver.state == 'ACTIVE', driver.state
        t0 = time.monotonic()
        for jump in (5.0, -5.0, 30.0, -60.0, 3600.0, -3600.0):
            sim.offset += jump
            time.sleep(0.4)
        t1 = time.monotonic()
        assert not any(s.startswith('FAULT') for t, s in driver.states if t >= t0), \
            driver.state
        arrivals = np.array([t for t, _ in list(driver.outputs) if t0 <= t <= t1])
        gap = np.diff(arrivals).max()
        assert len(arrivals) >= 0.5 * CONFIG.rate_hz * (t1 - t0), 'output stalled'
        # A stalled timer shows gaps of seconds (the jumps); a gap the hardware would not yet
        # count as stale leaves room for a loaded machine.
        assert gap < CONFIG.command_timeout, f'output gap {gap * 1e3:.0f} ms'
        reactions.add('ROS time jumps +-5 s..1 h (use_sim_time)',
                      'largest output gap seen here (no FAULT)', gap)
        # The ROS clock really is the simulated one: a wall-clock stamp is in its future.
        n = len(driver.diagnostics)
        driver.wait_for(lambda: len(driver.diagnostics) > n, 3.0, 'diagnostics')
        before = int(driver.diagnostics[-1][1]['rejected_total'])
        sent = [0.0]

        def rejected():
            # The driver's timer goes on publishing through the same depth-1 queue, so on a
            # loaded machine its next command may replace ours before the watchdog takes
            # it: send the wall-clock stamp again until a diagnostics message counts one.
            if time.monotonic() - sent[0] > 0.02:
                driver.publish_command(stamp=driver.node.get_clock().now().to_msg())
                sent[0] = time.monotonic()
            return int(driver.diagnostics[-1][1]['rejected_total']) >= before + 1
        driver.wait_for(rejected, 10.0, 'the wall-clock stamps rejected')
        assert 'in the future' in driver.diagnostics[-1][1]['last_rejection']
    finally:
        driver.node.destroy_timer(sim.timer)
        healthy(driver)
        wd.stop()


def test_restart_under_latched_estop_comes_up_safe(driver, reactions):
    driver.estop(True)  # transient-local: a restarted watchdog receives it on discovery
    first = WatchdogProcess('restart_a')
    try:
        wait_up(driver, first)
        driver.wait_for(lambda: driver.state.startswith('FAULT estop'), 10.0, 'e-stop FAULT')
    finally:
        assert first.stop() == 0, first.output_log()[-3000:]
    for rep in range(2):
        t_start = time.monotonic()
        second = WatchdogProcess(f'restart_b{rep}')
        try:
            wait_up(driver, second, since=t_start)
            # Its first message of either kind: its state and its outputs travel on separate
            # topics, so the FAULT state may arrive before the first output does.
            t_first = min(t for t, _ in list(driver.outputs) + list(driver.states)
                          if t >= t_start)
            t_fault = driver.state_since(t_first, 'FAULT estop', 10.0)
            outs = driver.outputs_between(t_start, time.monotonic())
            assert outs and all(not o.any() for o in outs), 'must come up with zero torque'
            reactions.add('watchdog restart, e-stop latched',
                          'FAULT estop after its first message', t_fault - t_first)
            ok, msg = driver.call(second.service('arm'))
            assert not ok
        finally:
            second.stop()
    driver.estop(False)


def test_clean_shutdown_slews_to_zero_and_auto_arm(driver):
    healthy(driver)
    driver.estop(False)
    wd = WatchdogProcess('autoarm', auto_arm=True)
    try:
        wait_up(driver, wd)
        driver.wait_for(lambda: auto_armed(driver, wd), 15.0, 'auto_arm to ACTIVE')
        driver.effort = LIMIT * 0.8
        driver.wait_for(lambda: driver.outputs and np.allclose(driver.outputs[-1][1],
                                                               LIMIT * 0.8), 5.0, 'torque')
    finally:
        assert wd.stop() == 0, wd.output_log()[-3000:]
        healthy(driver)
    time.sleep(0.3)
    assert not driver.outputs[-1][1].any(), 'the last output before exit is zero torque'


def test_reliable_inputs_take_every_input_reliably_and_the_default_best_effort(driver):
    wds = {True: WatchdogProcess('reliable', reliable_inputs=True),
           False: WatchdogProcess('besteffort')}
    try:
        for reliable, wd in wds.items():
            wait_up(driver, wd)
            for name in ('/symphony/command', '/joint_states', '/imu/data', '/odom'):
                driver.wait_for(lambda: _reliability(driver, name, wd.name) is not None, 10.0,
                                f'{wd.name} on {name}')
                expected = (ReliabilityPolicy.RELIABLE if reliable
                            else ReliabilityPolicy.BEST_EFFORT)
                assert _reliability(driver, name, wd.name) == expected, (name, reliable)
    finally:
        # Every process is stopped before any exit code is judged, so none outlives a failure.
        codes = {wd.name: (wd.stop(), wd.output_log()[-3000:]) for wd in wds.values()}
        healthy(driver)
    assert all(code == 0 for code, _ in codes.values()), codes


def _reliability(driver, name: str, node: str):
    """The reliability ``node`` subscribes to ``name`` with, as the graph reports it."""
    for info in driver.node.get_subscriptions_info_by_topic(topic(name)):
        if info.node_name == node:
            return info.qos_profile.reliability
    return None


@pytest.mark.parametrize('param,value,message', [
    ('effort_limits', '[1.0,2.0]', f'effort_limits has 2 values; expected {len(NAMES)}'),
    ('max_tilt', 'steep', 'parameter max_tilt must be float'),
])
def test_bad_parameter_refuses_to_start_and_names_it(ros_env, param, value, message):
    out = subprocess.run(
        [sys.executable, '-m', 'symphony_ros.nodes.watchdog_node', '--ros-args', '-r',
         '__node:=badparam', '-r', f'/symphony/command:={topic("/symphony/command")}',
         '-p', f'{param}:={value}'], cwd=REPO, env=ros_env, capture_output=True, text=True,
        timeout=60)
    assert out.returncode == 2
    assert message in out.stderr


def auto_armed(driver, wd) -> bool:
    """Whether auto_arm has the watchdog ACTIVE; a FAULT is reset so auto_arm tries again.

    A stall of this process or the watchdog on a loaded machine can fault it
    (command_stale) before ACTIVE; auto_arm then waits for a reset, as on a robot.
    """
    if driver.state.startswith('FAULT'):
        driver.call(wd.service('reset'))
    return driver.state == 'ACTIVE'

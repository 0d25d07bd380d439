"""``estimator:=legs``: the leg odometry node in the G1 deploy graph, against the sim's truth."""

import os
import re
import signal
import sys
import time

import numpy as np
import pytest
from launch_helpers import parity_watchdog

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'deploy'))
from g1_policy import export_g1_policy  # noqa: E402

pytestmark = pytest.mark.ros

TICKS = 360
"""Control steps of the run (7.2 s of the G1's simulated time)."""
SETTLE = 25
"""Stamps left out at the start: the robot leaves the gantry and finds its gait."""
STALL = 2.5
"""s the estimator process is stopped mid-walk (SIGSTOP): a node starved of CPU."""


def _stamp_ns(msg):
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def _stall(text, probe):
    """Stop the estimator's process for STALL seconds while the probe goes on reading."""
    import rclpy
    pid = int(re.search(r'started state_estimator_node \(pid (\d+)\)', text).group(1))
    os.kill(pid, signal.SIGSTOP)
    try:
        end = time.monotonic() + STALL
        while time.monotonic() < end:
            rclpy.spin_once(probe, timeout_sec=0.05)
    finally:
        os.kill(pid, signal.SIGCONT)


def test_the_leg_odometry_tracks_the_sims_true_odometry_while_the_g1_walks(launcher, tmp_path):
    """Lockstep: the sim's stamps are simulated time, so each estimate meets its truth.

    The estimator, stopped mid-walk for longer than the sim's lockstep_timeout, still
    estimates every state.

    Recorded, the bag's evaluation says the same: both odometries are in it.
    """
    import rclpy
    from nav_msgs.msg import Odometry
    from rclpy.node import Node
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    # On a clean-clone run the sim published no state for 2.4 s of the 2.5 s stall, though
    # its own waits stop at 1 s a tick (not pinned down: likely its reliable writers held by
    # the stopped reader): past the lockstep profile's 2 s staleness limits, a watchdog FAULT
    # this test is not about. Its limits here outlast the stall twice over.
    limits = tmp_path / 'watchdog_stall.yaml'
    limits.write_text('/**/watchdog_node:\n  ros__parameters:\n'
                      f'    command_timeout: {2 * STALL}\n    state_timeout: {2 * STALL}\n')
    la = launcher('deploy', 'robot:=sim', 'robot_model:=g1', 'timing:=lockstep',
                  'estimator:=legs', 'cmd_vel:=0.5,0,0', f'ticks:={TICKS}',
                  f'watchdog_config:={limits}', 'record:=true',
                  f'record_dir:={tmp_path / "bag"}', '--sigint-timeout', '5')
    rclpy.init()
    probe = Node('estimator_probe')
    got = {'truth': {}, 'estimate': {}}
    keep = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
    for key, topic in (('truth', '/odom'), ('estimate', '/state_estimator/odom')):
        # The last message of each stamp: the gantry republishes its frozen state.
        probe.create_subscription(Odometry, topic,
                                  lambda m, k=key: got[k].__setitem__(_stamp_ns(m), m), keep)
    deadline = time.monotonic() + 300
    stalled = False
    try:
        while la.proc.poll() is None and time.monotonic() < deadline:
            rclpy.spin_once(probe, timeout_sec=0.05)
            if not stalled and len(got['estimate']) >= 2 * SETTLE:
                stalled = True
                _stall(la.text, probe)
        for _ in range(20):     # what is still on its way
            rclpy.spin_once(probe, timeout_sec=0.05)
    finally:
        probe.destroy_node()
        rclpy.shutdown()
    assert la.finish() == 0, la.text
    assert f'done: {TICKS} steps' in la.text, la.text
    assert 'estimating: first odometry on /state_estimator/odom' in la.text, la.text
    assert 'steps, fall' not in la.text and 'FAULT' not in la.text, la.text
    # Every state estimated, none lost, though the estimator stopped for longer than the
    # lockstep sim waits for it (the sim runs ahead of real time, and its policy, reading
    # no odometry, does not wait for the estimate): each tick it stepped on without the
    # estimate is one more state queued for the estimator, far from overflowing its inputs.
    assert stalled and 'lockstep: no estimate of the state stamped' in la.text, la.text
    estimated = np.diff(sorted(got['estimate'])) / 1e9
    assert np.allclose(estimated, 0.02), np.unique(estimated.round(3), return_counts=True)
    stamps = sorted(set(got['truth']) & set(got['estimate']))[SETTLE:]
    # A late joiner: on a busy machine discovery can match the probe with the estimator a
    # second or more after the first estimates went out (the lockstep policy, matched
    # before the sim steps, reads every one). Half the run is plenty to judge the error.
    assert len(stamps) >= TICKS // 2, (len(got['truth']), len(got['estimate']), la.text)

    def arrays(key):
        msgs = [got[key][s] for s in stamps]
        v = np.array([[m.twist.twist.linear.x, m.twist.twist.linear.y, m.twist.twist.linear.z]
                      for m in msgs])
        return v, np.array([m.pose.pose.position.z for m in msgs])
    (v_true, z_true), (v_est, z_est) = arrays('truth'), arrays('estimate')
    assert v_true[:, 0].mean() > 0.2, 'the G1 should walk forward'
    velocity_rms = np.sqrt(np.mean((v_est - v_true) ** 2, axis=0))
    height_rms = np.sqrt(np.mean((z_est - z_true) ** 2))
    print(f'{len(stamps)} stamps: velocity RMS error {velocity_rms.round(3)} m/s, height RMS '
          f'error {height_rms * 100:.2f} cm')
    # The lockstep walk is the same in every run: its states, estimated in process, err
    # 0.071 / 0.090 / 0.069 m/s (bench/leg_odometry.py, told 0.5 m/s on other seeds:
    # 0.070 / 0.090 / 0.073); an estimate stuck at zero or in the wrong frame misses the
    # walk by far.
    assert np.all(velocity_rms < 0.12), velocity_rms
    assert height_rms < 0.02, height_rms
    from symphony_ros.bag.evaluate import evaluate_bag
    from symphony_ros.bag.report import markdown
    ev = evaluate_bag(str(tmp_path / 'bag'))
    check = ev.report['odometry_estimate']
    assert check['matched'] >= TICKS // 2, check           # the recorder joins late as well
    assert np.all(np.array(check['lin_vel_rms']) < 0.12) and check['height_rms'] < 0.02, check
    # The bias, what a policy tracking the estimate walks off by: -0.04 m/s in x here (the
    # G1's shuffling steps slide a foot in double support: RESEARCH_LOG, session 57).
    assert np.all(np.abs(check['lin_vel_mean']) < 0.1), check
    assert '/state_estimator/odom against /odom at' in markdown(ev.report, []), check


def test_a_policy_reading_odometry_acts_on_the_estimate_of_each_state_in_lockstep(
        launcher, tmp_path):
    """policy_node waits for odometry stamped like its joint states: the estimator's must be.

    An untrained actor that reads the base velocity (it falls; the parity watchdog lets the
    episodes run): any state whose estimate never came, or came stamped otherwise, would
    leave the lockstep sim waiting for its command.
    """
    ticks = 80
    policy = export_g1_policy(str(tmp_path), seed=2, obs_spec='velocity_gait_odom')
    la = launcher('deploy', 'robot:=sim', 'robot_model:=g1', 'timing:=lockstep',
                  'estimator:=legs', f'policy:={policy}', 'cmd_vel:=0.3,0,0', f'ticks:={ticks}',
                  f'watchdog_config:={parity_watchdog(str(tmp_path), "g1")}',
                  '--sigint-timeout', '5')
    deadline = time.monotonic() + 240
    while la.proc.poll() is None and time.monotonic() < deadline:
        assert 'no command answered' not in la.text, la.text
        time.sleep(0.1)
    assert la.finish() == 0, la.text
    assert f'done: {ticks} steps' in la.text, la.text
    assert 'no command answered' not in la.text and 'no message on' not in la.text, la.text

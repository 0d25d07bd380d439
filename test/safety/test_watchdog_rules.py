"""Every watchdog rule against a fake clock (pure core, no ROS)."""

import numpy as np
import pytest
import yaml

from symphony_ros import paths
from symphony_ros.safety import Fault, State
from symphony_ros.safety.params import NODE_KEY
from watchdog_fakes import Rig


def tilted(angle):
    """ROS (x, y, z, w) quaternion of a rotation by ``angle`` about x."""
    return (np.sin(angle / 2), 0.0, 0.0, np.cos(angle / 2))


def fault_code(rig):
    return rig.wd.fault[0] if rig.wd.fault else None


def test_starts_disarmed_with_safe_output_and_refuses_to_arm_without_inputs():
    rig = Rig(startup_holdoff=1.0)
    assert rig.wd.state is State.DISARMED
    ok, msg = rig.wd.arm()
    assert not ok
    for part in ('starting up', 'no valid command', 'no valid joint_states', 'no valid IMU'):
        assert part in msg
    rig.command[:] = 5.0
    out = rig.step(10)
    assert not out.any(), 'DISARMED must not pass the command through'


def test_startup_holdoff_delays_arming():
    rig = Rig(startup_holdoff=0.5)
    rig.step(10)
    assert 'starting up' in rig.wd.arm()[1]
    rig.step(int(0.5 / rig.wd.period))
    assert rig.wd.arm()[0]


def test_ramp_blends_command_in_then_active():
    rig = Rig(ramp_time=0.1, torque_rate_time=1e-6)
    rig.command[:] = 4.0
    rig.step()
    assert rig.wd.arm()[0]
    assert rig.wd.state is State.RAMP
    out = rig.step(25)  # 25 ticks of 2 ms = 0.05 s: half-way
    assert out[0] == pytest.approx(2.0, abs=1e-9)
    assert rig.wd.state is State.RAMP
    out = rig.step(26)
    assert rig.wd.state is State.ACTIVE
    np.testing.assert_allclose(out, 4.0)


def test_zero_ramp_time_arms_straight_to_active():
    rig = Rig(ramp_time=0.0)
    rig.step()
    assert rig.wd.arm()[0]
    assert rig.wd.state is State.ACTIVE


def test_command_staleness_faults_after_timeout_plus_one_tick():
    rig = Rig()
    rig.arm()
    rig.feed_command = False
    timeout = rig.cfg.command_timeout
    ticks = rig.ticks_until(lambda r: r.wd.state is State.FAULT)
    assert fault_code(rig) is Fault.COMMAND_STALE
    assert timeout <= ticks * rig.wd.period <= timeout + rig.wd.period + 1e-9


@pytest.mark.parametrize('stamp_offset,why', [
    (None, 'zero header stamp'), (0.5, 'in the future'), (-0.2, 'old')])
def test_bad_stamps_are_rejected_not_restamped(stamp_offset, why):
    rig = Rig()
    rig.arm()
    now = rig.clock.t
    stamp = 0.0 if stamp_offset is None else now + stamp_offset
    verdict = rig.wd.on_command(rig.names, np.ones(rig.n), stamp, now)
    assert not verdict.accepted and why in verdict.reason
    # A rejected command must not refresh freshness: with only bad stamps the command goes
    # stale (or is rejected N times) and the watchdog faults.
    rig.feed_command = False
    for _ in range(rig.cfg.max_rejections):
        rig.wd.on_command(rig.names, np.ones(rig.n), stamp, rig.clock.t)
    rig.step(inputs=True)
    assert fault_code(rig) is Fault.COMMAND_REJECTED


def test_stamp_within_future_tolerance_is_accepted():
    rig = Rig()
    now = rig.clock.t
    ok = rig.wd.on_command(rig.names, np.ones(rig.n), now + 0.5 * rig.cfg.max_stamp_future, now)
    assert ok.accepted


@pytest.mark.parametrize('stale', ['joint_states', 'imu'])
def test_robot_state_staleness_faults(stale):
    rig = Rig()
    rig.arm()
    ticks = 0
    while rig.wd.state is not State.FAULT:
        rig.clock.advance(rig.wd.period)
        rig.wd.on_command(rig.names, rig.command, rig.clock.t, rig.clock.t)
        if stale != 'joint_states':
            rig.wd.on_joint_state(rig.names, rig.q, rig.qd)
        if stale != 'imu':
            rig.wd.on_imu(rig.quat)
        rig.wd.tick()
        ticks += 1
    expected = Fault.JOINT_STATE_STALE if stale == 'joint_states' else Fault.IMU_STALE
    assert fault_code(rig) is expected
    assert ticks * rig.wd.period <= rig.cfg.state_timeout + rig.wd.period + 1e-9


@pytest.mark.parametrize('bad', [np.nan, np.inf, -np.inf])
def test_non_finite_command_rejected_and_consecutive_rejections_fault(bad):
    rig = Rig()
    rig.command[:] = 1.0
    rig.arm()
    poisoned = rig.command.copy()
    poisoned[3] = bad
    for i in range(rig.cfg.max_rejections - 1):
        verdict = rig.wd.on_command(rig.names, poisoned, rig.clock.t, rig.clock.t)
        assert not verdict.accepted and 'non-finite' in verdict.reason
        out = rig.step(inputs=False)
        assert np.isfinite(out).all() and rig.wd.state is State.ACTIVE
        np.testing.assert_allclose(out, 1.0)  # the last valid command is held
    rig.wd.on_command(rig.names, poisoned, rig.clock.t, rig.clock.t)
    rig.step(inputs=False)
    assert fault_code(rig) is Fault.COMMAND_REJECTED


def test_rejections_that_are_not_consecutive_do_not_fault():
    rig = Rig()
    rig.arm()
    bad = np.full(rig.n, np.nan)
    for _ in range(10):
        for _ in range(rig.cfg.max_rejections - 1):
            rig.wd.on_command(rig.names, bad, rig.clock.t, rig.clock.t)
        rig.step()  # a valid command in between resets the count
    assert rig.wd.state is State.ACTIVE


def test_huge_finite_command_is_clamped_then_faults_on_sustained_saturation():
    rig = Rig()
    rig.arm()
    rig.command[:] = 1e30
    rig.step(200)
    assert rig.wd.state is State.FAULT and fault_code(rig) is Fault.SATURATION
    rig2 = Rig(max_saturation_time=10.0)
    rig2.arm()
    rig2.command[:] = 1e30
    out = rig2.step(100)
    np.testing.assert_allclose(out, rig2.limit)
    assert rig2.wd.state is State.ACTIVE


def test_saturation_fault_timing_and_intermittent_saturation():
    rig = Rig(max_saturation_time=0.1)
    rig.arm()
    rig.command[0] = 2 * rig.limit[0]
    ticks = rig.ticks_until(lambda r: r.wd.state is State.FAULT)
    assert fault_code(rig) is Fault.SATURATION
    assert 0.1 < ticks * rig.wd.period <= 0.1 + 2 * rig.wd.period
    rig = Rig(max_saturation_time=0.1)
    rig.arm()
    for _ in range(20):  # saturated 80 ms out of every 100 ms: never sustained
        rig.command[0] = 2 * rig.limit[0]
        rig.step(40)
        rig.command[0] = 0.0
        rig.step(10)
    assert rig.wd.state is State.ACTIVE


@pytest.mark.parametrize('names,efforts,why', [
    ('short', None, 'efforts for'),
    ('unknown', None, 'unknown'),
    ('duplicate', None, 'duplicates'),
    ('empty', None, 'joint names for'),
])
def test_wrong_shape_or_names_rejected_never_partially_applied(names, efforts, why):
    rig = Rig()
    rig.command[:] = 1.0
    rig.arm()
    n = list(rig.names)
    e = np.full(rig.n, 3.0)
    if names == 'short':
        n, e = n[:-1], e[:-1]
    elif names == 'unknown':
        n[2] = 'tail'
    elif names == 'duplicate':
        n[2] = n[3]
    else:
        n = []
    verdict = rig.wd.on_command(n, e, rig.clock.t, rig.clock.t)
    assert not verdict.accepted and why in verdict.reason
    np.testing.assert_allclose(rig.step(inputs=False), 1.0)


def test_reordered_complete_names_are_remapped():
    rig = Rig(torque_rate_time=1e-6)
    rig.arm()
    perm = np.random.default_rng(0).permutation(rig.n)
    values = np.linspace(-5, 5, rig.n)  # within every limit
    verdict = rig.wd.on_command([rig.names[i] for i in perm], values[perm], rig.clock.t,
                                rig.clock.t)
    assert verdict.accepted
    np.testing.assert_allclose(rig.step(inputs=False), values)


def test_step_jump_is_rate_limited():
    rig = Rig()
    rig.arm()
    rig.command[:] = rig.limit
    out = rig.step()
    max_step = np.array(rig.cfg.max_torque_rate) * rig.wd.period
    np.testing.assert_allclose(out, max_step)
    ticks = rig.ticks_until(lambda r: np.allclose(r.outputs[-1], r.limit))
    expected = int(np.ceil((rig.limit / max_step).max())) - 1
    assert ticks == expected


def test_late_tick_gets_at_most_one_period_of_slew():
    rig = Rig()
    rig.arm()
    rig.command[:] = rig.limit
    rig.clock.advance(0.5)  # a tick 0.5 s late
    rig.inputs()
    out = rig.wd.tick()
    np.testing.assert_allclose(out, np.array(rig.cfg.max_torque_rate) * rig.wd.period)


def test_soft_position_limit_cuts_torque_pushing_further_out():
    rig = Rig(torque_rate_time=1e-6)
    j = rig.names.index('right_knee')
    upper = rig.cfg.position_upper[j]
    rig.arm()
    rig.q[j] = upper - rig.cfg.soft_limit_margin / 2  # inside the margin zone
    rig.command[j] = 5.0
    assert rig.step()[j] == 0.0, 'torque pushing past the soft limit must be cut'
    rig.command[j] = -5.0
    assert rig.step()[j] == -5.0, 'torque pulling back inside passes'
    rig.q[j] = upper - 2 * rig.cfg.soft_limit_margin
    rig.command[j] = 5.0
    assert rig.step()[j] == 5.0


def test_sim_profile_lets_the_knee_lean_on_its_modeled_stop_but_not_through_it():
    # The MJCF knee's range is a soft constraint a standing humanoid leans on (up to 0.2 rad
    # beyond it); config/watchdog_sim.yaml moves the cut outside the range for robot:=sim.
    with open(paths.config_path('watchdog_sim.yaml'), encoding='utf-8') as f:
        margin = yaml.safe_load(f)[NODE_KEY]['ros__parameters']['soft_limit_margin']
    hardware = Rig(torque_rate_time=1e-6)
    sim = Rig(torque_rate_time=1e-6, soft_limit_margin=margin)
    j = sim.names.index('right_knee')
    for rig in (hardware, sim):
        rig.arm()
        rig.q[j] = rig.cfg.position_upper[j] + 0.2
        rig.command[j] = 5.0
    assert hardware.step()[j] == 0.0 and sim.step()[j] == 5.0
    sim.q[j] = sim.cfg.position_upper[j] - margin + 0.01  # driven through the modeled stop
    assert sim.step()[j] == 0.0


def test_velocity_beyond_limit_faults():
    rig = Rig()
    rig.arm()
    rig.qd[5] = rig.cfg.velocity_limits[5] * 1.01
    assert rig.ticks_until(lambda r: r.wd.state is State.FAULT) == 1
    assert fault_code(rig) is Fault.VELOCITY


def test_tilt_beyond_max_faults_within_one_tick():
    rig = Rig()
    rig.arm()
    rig.quat = tilted(rig.cfg.max_tilt * 0.95)
    rig.step(5)
    assert rig.wd.state is State.ACTIVE
    rig.quat = tilted(rig.cfg.max_tilt * 1.05)
    assert rig.ticks_until(lambda r: r.wd.state is State.FAULT) == 1
    assert fault_code(rig) is Fault.TILT


def test_invalid_imu_orientation_is_rejected():
    rig = Rig()
    assert 'no orientation' in rig.wd.on_imu(tilted(0.0), orientation_valid=False)
    assert 'unusable' in rig.wd.on_imu((0.0, 0.0, 0.0, 0.0))
    assert 'unusable' in rig.wd.on_imu((np.nan, 0.0, 0.0, 1.0))


def test_height_checked_only_while_odometry_is_live():
    rig = Rig()
    rig.arm()
    rig.step(50)  # no odometry at all: fine (require_odom False)
    assert rig.wd.state is State.ACTIVE
    rig.wd.on_odom(rig.cfg.min_height + 0.2)
    rig.step()
    assert rig.wd.state is State.ACTIVE
    rig.wd.on_odom(rig.cfg.min_height - 0.1)
    rig.step()
    assert fault_code(rig) is Fault.HEIGHT


def test_required_odometry_blocks_arming_and_its_loss_faults():
    rig = Rig(require_odom=True)
    rig.step()
    assert 'no valid odometry' in rig.wd.arm()[1]
    rig.wd.on_odom(1.3)
    assert rig.wd.arm()[0]
    rig.ticks_until(lambda r: r.wd.state is State.FAULT)
    assert fault_code(rig) is Fault.ODOM_STALE


@pytest.mark.parametrize('state', ['DISARMED', 'ACTIVE'])
def test_estop_faults_within_one_tick_and_stays_latched(state):
    rig = Rig()
    if state == 'ACTIVE':
        rig.arm()
    rig.wd.on_estop(True)
    rig.step()
    assert fault_code(rig) is Fault.ESTOP
    rig.wd.on_estop(False)
    rig.step(10)
    assert rig.wd.state is State.FAULT, 'releasing the e-stop must not clear the FAULT'
    assert rig.wd.reset()[0]
    assert rig.wd.state is State.DISARMED


def test_estop_overrides_an_earlier_fault_and_reset_needs_it_released():
    rig = Rig()
    rig.arm()
    rig.quat = tilted(1.5)
    rig.step()
    assert fault_code(rig) is Fault.TILT
    rig.wd.on_estop(True)
    rig.step()
    assert fault_code(rig) is Fault.ESTOP
    ok, msg = rig.wd.reset()
    assert not ok and 'e-stop still pressed' in msg


def test_estop_required_blocks_arming_until_released_message():
    rig = Rig(estop_required=True)
    rig.step()
    assert 'no e-stop message' in rig.wd.arm()[1]
    rig.wd.on_estop(False)
    assert rig.wd.arm()[0]


def test_second_publisher_refuses_arm_and_faults_when_armed():
    rig = Rig()
    rig.step()
    rig.wd.set_command_publishers(2)
    ok, msg = rig.wd.arm()
    assert not ok and '2 publishers' in msg
    rig.wd.set_command_publishers(1)
    rig.arm()
    rig.wd.set_command_publishers(2)
    rig.step()
    assert fault_code(rig) is Fault.MULTIPLE_PUBLISHERS


def test_reset_refused_while_cause_persists_then_accepted():
    rig = Rig()
    rig.arm()
    rig.quat = tilted(1.2)
    rig.step()
    assert fault_code(rig) is Fault.TILT
    ok, msg = rig.wd.reset()
    assert not ok and 'cause persists' in msg and rig.wd.state is State.FAULT
    rig.quat = tilted(0.1)
    rig.step()
    assert rig.wd.reset()[0] and rig.wd.state is State.DISARMED
    assert not rig.wd.reset()[0], 'reset outside FAULT is refused'


def test_reset_after_stale_command_needs_a_fresh_command():
    rig = Rig()
    rig.arm()
    rig.feed_command = False
    rig.ticks_until(lambda r: r.wd.state is State.FAULT)
    assert not rig.wd.reset()[0]
    rig.feed_command = True
    rig.step()
    assert rig.wd.reset()[0]


def test_reset_needs_live_data_to_show_a_fall_cleared():
    rig = Rig()
    rig.arm()
    rig.quat = tilted(1.2)
    rig.step()
    rig.feed_state = False
    rig.clock.advance(1.0)
    ok, msg = rig.wd.reset()
    assert not ok and 'no live data' in msg


def test_fault_and_disarm_keep_output_flowing_and_safe():
    rig = Rig(safe_mode='zero')
    rig.command[:] = rig.limit
    rig.arm(settle=0.6)
    assert np.allclose(rig.outputs[-1], rig.limit)
    rig.wd.on_estop(True)
    ticks = rig.ticks_until(lambda r: not r.outputs[-1].any())
    assert ticks * rig.wd.period <= rig.cfg.policy_period + 2 * rig.wd.period
    rig.step(10)
    assert not rig.outputs[-1].any()


def test_damping_mode_then_zero_after_damping_time():
    rig = Rig(damping_time=0.2)
    rig.arm()
    rig.qd[:] = 2.0
    assert rig.wd.disarm()[0]
    rig.step(5)
    kd = np.array(rig.cfg.damping_kd)
    np.testing.assert_allclose(rig.outputs[-1], np.clip(-kd * 2.0, -rig.limit, rig.limit))
    rig.step(int(0.2 / rig.wd.period) + 10)
    assert not rig.outputs[-1].any()


def test_damping_without_live_joint_states_is_zero():
    rig = Rig()
    rig.qd[:] = 2.0
    rig.step()
    rig.feed_state = False
    rig.clock.advance(1.0)
    rig.step(20, inputs=False)
    assert not rig.outputs[-1].any()


def test_auto_arm_arms_when_live_and_disarm_turns_it_off():
    rig = Rig(auto_arm=True, startup_holdoff=0.1)
    rig.step(10)
    assert rig.wd.state is State.DISARMED, 'not during the start-up hold-off'
    rig.step(50)
    assert rig.wd.state.armed
    assert rig.wd.disarm()[0]
    rig.step(50)
    assert rig.wd.state is State.DISARMED
    assert rig.wd.arm()[0]


def test_fault_state_refuses_arm_and_disarm():
    rig = Rig()
    rig.wd.on_estop(True)
    rig.step()
    assert not rig.wd.arm()[0]
    assert not rig.wd.disarm()[0]
    assert rig.wd.state is State.FAULT


def test_forward_is_due_once_per_timer_period_while_armed():
    rig = Rig()
    now = rig.clock.t
    assert not rig.wd.on_command(rig.names, rig.command, now, now).forward
    rig.arm()
    now = rig.clock.t
    assert rig.wd.on_command(rig.names, rig.command, now, now).forward
    assert not rig.wd.on_command(rig.names, rig.command, now, now).forward
    rig.wd.tick(timer=False)
    assert not rig.wd.on_command(rig.names, rig.command, now, now).forward
    rig.wd.tick()
    assert rig.wd.on_command(rig.names, rig.command, now, now).forward


def test_internal_error_faults_to_a_safe_output(monkeypatch):
    rig = Rig()
    rig.command[:] = 3.0
    rig.arm()

    def broken(now):
        raise RuntimeError('boom')
    monkeypatch.setattr(rig.wd, '_target', broken)
    out = rig.step()
    assert fault_code(rig) is Fault.INTERNAL and 'boom' in rig.wd.state_text
    assert np.isfinite(out).all() and (np.abs(out) < 3.0).all()


def test_state_text_and_status_report_the_latched_reason():
    rig = Rig()
    rig.arm()
    rig.wd.on_estop(True)
    rig.step()
    assert rig.wd.state_text == 'FAULT estop: e-stop pressed'
    status = rig.wd.status()
    assert status['estop'] == 'pressed' and status['state'].startswith('FAULT')


def test_joint_states_with_extra_joints_and_any_order_are_accepted():
    rig = Rig()
    names = ['root_x'] + rig.names[::-1]
    q = np.concatenate([[9.0], rig.q[::-1]])
    qd = np.concatenate([[9.0], np.arange(rig.n, dtype=float)[::-1]])
    assert rig.wd.on_joint_state(names, q, qd) == ''
    assert 'lacks' in rig.wd.on_joint_state(rig.names[1:], rig.q[1:], rig.qd[1:])
    assert 'both required' in rig.wd.on_joint_state(rig.names, rig.q, [])
    bad = rig.q.copy()
    bad[0] = np.nan
    assert 'non-finite' in rig.wd.on_joint_state(rig.names, bad, rig.qd)


def test_shutdown_slews_to_zero_without_damping_and_never_rearms():
    rig = Rig(auto_arm=True)
    rig.command[:] = 5.0
    rig.arm()
    rig.qd[:] = 3.0
    rig.wd.shutdown()
    assert rig.wd.state is State.DISARMED
    rig.step(20)
    assert not rig.outputs[-1].any(), 'zero torque, not damping, once the node exits'
    assert not rig.wd.arm()[0]

"""The watchdog with position commands (a pd_position policy): target checks and its PD."""

import dataclasses

import numpy as np
import pytest

from symphony_ros.robot import get_robot
from symphony_ros.robot.pd import PDLaw
from symphony_ros.safety import Fault, State, WatchdogConfig
from symphony_ros.safety.config import HELD_TARGET_STEP
from watchdog_fakes import Rig

G1 = get_robot('g1')


def g1_rig(**overrides):
    """A G1 watchdog, no ramp and no slew limit, commanded its default pose at rest."""
    rig = Rig(robot='g1', ramp_time=0.0, torque_rate_time=1e-6, **overrides)
    rig.q = G1.default_pose().copy()
    rig.command = G1.default_pose().copy()
    return rig


def test_robot_facts_fill_the_pd_fields_and_fall_limits_and_the_humanoid_keeps_its_own():
    g1 = WatchdogConfig(robot='g1').resolved()
    assert g1.command_input == 'position' and g1.output == 'effort'
    assert g1.min_height == G1.fall_min_height == 0.35   # not the humanoid's 1.0
    assert g1.max_tilt == G1.fall_max_tilt
    np.testing.assert_array_equal(g1.kp, G1.kp)
    driven = G1.action_scale > 0
    np.testing.assert_allclose(np.asarray(g1.max_target_step)[driven],
                               2 * G1.action_scale[driven])
    # A held arm's target is its default pose: any real move is refused.
    assert set(np.asarray(g1.max_target_step)[~driven]) == {HELD_TARGET_STEP}
    humanoid = WatchdogConfig().resolved()
    assert (humanoid.command_input, humanoid.min_height, humanoid.max_tilt) == ('effort', 1.0,
                                                                                0.8)
    assert humanoid.kp == ()


def test_gains_follow_the_controller_joint_order_by_name():
    names = list(reversed(G1.joint_names))
    cfg = WatchdogConfig(robot='g1', joint_names=tuple(names),
                         effort_limits=tuple(reversed(G1.effort_limits)),
                         position_lower=tuple(G1.position_limits[::-1, 0]),
                         position_upper=tuple(G1.position_limits[::-1, 1]),
                         velocity_limits=tuple(reversed(G1.velocity_limits))).resolved()
    np.testing.assert_array_equal(cfg.kp, np.asarray(G1.kp)[::-1])
    np.testing.assert_array_equal(cfg.kd, np.asarray(G1.kd)[::-1])


def test_position_output_needs_position_commands():
    with pytest.raises(ValueError, match="output 'position' needs position commands"):
        WatchdogConfig(output='position').resolved()
    with pytest.raises(ValueError, match='command_input must be one of'):
        WatchdogConfig(robot='g1', command_input='velocity').resolved()


def test_a_pd_run_here_on_delayed_states_is_warned_about_and_nothing_else():
    note = WatchdogConfig(robot='g1').resolved().output_note()
    assert "output 'effort': the PD of the position commands runs here at 500 Hz" in note
    assert WatchdogConfig(robot='g1', output='position').resolved().output_note() is None
    assert WatchdogConfig().resolved().output_note() is None     # torques: no PD here


def test_the_pd_runs_on_the_newest_target_and_the_newest_joint_state():
    rig = g1_rig()
    rig.arm()
    law = PDLaw(G1)
    rig.command = G1.default_pose() + 0.05 * (G1.action_scale > 0)   # held arms stay put
    out = rig.step()
    np.testing.assert_allclose(out, law.torque(rig.command, rig.q, rig.qd), atol=1e-9)
    # No new target: a new joint state alone changes the torque at the next tick.
    rig.feed_command = False
    rig.q = rig.q + 0.02
    rig.qd = np.full(rig.n, 0.3)
    out = rig.step()
    np.testing.assert_allclose(out, law.torque(rig.command, rig.q, rig.qd), atol=1e-9)
    assert rig.wd.state is State.ACTIVE


def test_a_target_beyond_the_soft_limit_is_clamped_into_it():
    rig = g1_rig()
    j = G1.joint_names.index('left_knee_joint')
    soft_upper = G1.position_limits[j, 1] - rig.cfg.soft_limit_margin
    rig.q[j] = soft_upper - 0.1
    rig.command = rig.q.copy()
    rig.arm()
    rig.command[j] = G1.position_limits[j, 1] + 0.2   # within max_target_step of the last
    out = rig.step()
    assert out[j] == pytest.approx(G1.kp[j] * 0.1, rel=1e-9)   # toward soft_upper only
    assert rig.wd.state is State.ACTIVE


def test_a_target_jump_beyond_the_bound_is_rejected_like_a_malformed_command():
    rig = g1_rig()
    rig.arm()
    j = G1.joint_names.index('right_hip_roll_joint')
    before = rig.step().copy()
    bad = rig.command.copy()
    bad[j] += rig.cfg.max_target_step[j] * 1.5
    verdict = rig.wd.on_command(rig.names, bad, rig.clock.t, rig.clock.t)
    assert not verdict.accepted
    assert verdict.reason.startswith('position target of right_hip_roll_joint jumps +')
    assert 'max_target_step' in verdict.reason
    rig.feed_command = False
    np.testing.assert_allclose(rig.step(), before)   # the jump never reached the PD
    for _ in range(rig.cfg.max_rejections - 1):
        rig.wd.on_command(rig.names, bad, rig.clock.t, rig.clock.t)
    rig.step()
    assert rig.wd.fault[0] is Fault.COMMAND_REJECTED


def test_a_non_finite_target_is_rejected_naming_the_joint():
    rig = g1_rig()
    rig.arm()
    bad = rig.command.copy()
    bad[3] = np.nan
    verdict = rig.wd.on_command(rig.names, bad, rig.clock.t, rig.clock.t)
    assert verdict.reason == f'non-finite position for {G1.joint_names[3]}'


def test_the_pd_torque_goes_through_the_torque_checks_clamp_and_saturation():
    rig = g1_rig(max_saturation_time=0.05)
    rig.arm()
    j = G1.joint_names.index('left_wrist_yaw_joint')   # 5 N*m motor, kp 16.8
    rig.q[j] -= 1.0                                    # 16.8 N*m of PD: beyond 5
    out = rig.step()
    assert out[j] == pytest.approx(G1.effort_limits[j])
    rig.ticks_until(lambda r: r.wd.state is State.FAULT)
    assert rig.wd.fault[0] is Fault.SATURATION


def test_position_output_sends_target_and_gains_armed_and_damping_when_safe():
    rig = g1_rig(output='position', damping_time=0.1)
    rig.arm()
    rig.command = G1.default_pose() + 0.01 * (G1.action_scale > 0)
    rig.step()
    target, kp, kd = rig.wd.position_output()
    np.testing.assert_allclose(target, rig.command)
    np.testing.assert_array_equal(kp, G1.kp)
    np.testing.assert_array_equal(kd, G1.kd)
    rig.wd.disarm()
    rig.step()
    target, kp, kd = rig.wd.position_output()
    np.testing.assert_array_equal(target, rig.q)
    assert not kp.any() and (kd == np.array(rig.cfg.damping_kd)).all()
    rig.step(60)
    assert not any(g.any() for g in rig.wd.position_output()[1:])


def test_humanoid_effort_commands_are_untouched():
    rig = Rig(ramp_time=0.0, torque_rate_time=1e-6)
    assert dataclasses.replace(rig.cfg).command_input == 'effort'
    rig.arm()
    rig.command[:] = 3.0
    np.testing.assert_allclose(rig.step(), 3.0)


def test_an_empty_command_input_from_a_parameter_file_is_the_robots():
    # config/watchdog.yaml sets command_input: "" with every other field already derived.
    full = WatchdogConfig(robot='g1').resolved()
    again = dataclasses.replace(full, command_input='').resolved()
    assert again.command_input == 'position'

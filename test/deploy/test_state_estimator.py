"""StateEstimator: state_estimator_node's pairing of joint_states and IMU, without rclpy."""

import math
from types import SimpleNamespace as Msg

import numpy as np
import pytest

from symphony_ros.deploy.state_estimator import HOLD, StateEstimator, StateEstimatorConfig
from symphony_ros.robot.description import get_robot
from symphony_ros.robot.leg_odometry import LegOdometryConfig

G1 = get_robot('g1')


def header(ms):
    return Msg(stamp=Msg(sec=ms // 1000, nanosec=(ms % 1000) * 1_000_000))


def vec(x=0.0, y=0.0, z=0.0):
    return Msg(x=x, y=y, z=z)


def joint_states(ms):
    return Msg(header=header(ms), name=list(G1.joint_names), position=G1.default_pose().tolist(),
               velocity=[0.0] * G1.n_joints, effort=[])


def imu(ms, yaw=0.0, acceleration=True, orientation=True):
    """An IMU level and yawed by ``yaw`` (rad), reading gravity."""
    q = Msg(x=0.0, y=0.0, z=math.sin(yaw / 2), w=math.cos(yaw / 2))
    return Msg(header=header(ms), orientation=q, angular_velocity=vec(),
               linear_acceleration=vec(z=9.81),
               orientation_covariance=[0.0 if orientation else -1.0] + [0.0] * 8,
               linear_acceleration_covariance=[0.0 if acceleration else -1.0] + [0.0] * 8)


def yaw_of(state):
    w, _, _, z = state.imu_orientation
    return 2 * math.atan2(z, w)


def stamps(estimates):
    return [(s.sec, s.nanosec) for s, _ in estimates]


@pytest.fixture
def est():
    return StateEstimator(G1)


def test_nothing_comes_out_before_the_first_imu(est):
    assert est.joint_states(joint_states(1000)) == []
    assert est.joint_states(joint_states(1020)) == []
    assert est.dropped == 2 and not est.has_imu
    assert est.imu(imu(1030)) == []
    [(stamp, state)] = est.joint_states(joint_states(1040))
    assert (stamp.sec, stamp.nanosec) == (1, 40_000_000)
    for field in ('base_position', 'base_orientation', 'base_lin_vel', 'base_ang_vel'):
        assert np.all(np.isfinite(getattr(state, field))), field


def test_separate_drivers_give_one_estimate_per_joint_state_at_once(est):
    """Stamps that never match (their own clocks): the newest IMU, no waiting."""
    est.imu(imu(995, yaw=0.1))
    got = est.joint_states(joint_states(1000))
    est.imu(imu(1005, yaw=0.2))
    est.imu(imu(1015, yaw=0.3))
    got += est.joint_states(joint_states(1020))
    assert stamps(got) == [(1, 0), (1, 20_000_000)]
    assert [round(yaw_of(s), 6) for _, s in got] == [0.1, 0.3]


def test_one_source_a_joint_state_waits_for_the_imu_of_its_stamp(est):
    """The sim stamps a state's messages alike; DDS may deliver the joints first."""
    est.imu(imu(1000, yaw=0.1))
    assert len(est.joint_states(joint_states(1000))) == 1       # alike: one source
    assert est.joint_states(joint_states(1020)) == []            # its IMU not here yet
    [(stamp, state)] = est.imu(imu(1020, yaw=0.2))
    assert (stamp.nanosec, round(yaw_of(state), 6)) == (20_000_000, 0.2)
    # An IMU lost: the next IMU says it never comes, and stands in for it.
    assert est.joint_states(joint_states(1040)) == []
    assert est.joint_states(joint_states(1060)) == []
    assert stamps(est.imu(imu(1060, yaw=0.3))) == [(1, 40_000_000), (1, 60_000_000)]
    # IMUs that stop: a state waits for HOLD later ones at most, then the newest stands in.
    assert [est.joint_states(joint_states(1080 + 20 * k)) for k in range(HOLD)] == [[]] * HOLD
    [(stamp, state)] = est.joint_states(joint_states(1080 + 20 * HOLD))
    assert (stamp.nanosec, round(yaw_of(state), 6)) == (80_000_000, 0.3)
    assert est.estimates == 5
    healthy, message, figures = est.diagnostics()
    assert (healthy, message) == (True, 'estimating')
    assert figures == {'estimates': 5, 'dropped_before_imu': 0, 'restarts': 0,
                       'waiting_for_imu': HOLD, 'imu_stand_ins': 2, 'stamps': 'one source'}


def test_the_diagnostics_say_what_it_waits_for(est):
    assert est.diagnostics()[:2] == (False, 'waiting for the IMU')
    est.joint_states(joint_states(1000))
    est.imu(imu(1010))
    healthy, message, figures = est.diagnostics()
    assert (healthy, message) == (False, 'waiting for joint_states')
    assert figures['dropped_before_imu'] == 1 and figures['stamps'] == 'separate clocks'


@pytest.mark.parametrize('order', ['imu first', 'joints first', 'imu two ahead',
                                   'joints three ahead'])
def test_each_joint_state_meets_the_imu_of_its_stamp_however_the_topics_interleave(order):
    """A lagging executor takes queued messages topic by topic: the estimates stay the same.

    The first state comes in order: until a joint state meets an IMU of its stamp, the
    estimator cannot know that one source stamps both.
    """
    ticks, lead = 12, {'imu first': 0, 'joints first': -1, 'imu two ahead': 2,
                       'joints three ahead': -3}[order]
    events = [(0, 0, 0), (0, 1, 0)] + sorted([(k, 0, k) for k in range(1, ticks)]
                                             + [(k + lead, 1, k) for k in range(1, ticks)])

    def ms(k):
        return 1000 + 20 * k
    a, b = StateEstimator(G1), StateEstimator(G1)
    reference, got = [], []
    for k in range(ticks):
        a.imu(imu(ms(k), yaw=0.01 * k))
        reference += a.joint_states(joint_states(ms(k)))
    for _, is_joints, k in events:
        got += (b.joint_states(joint_states(ms(k))) if is_joints
                else b.imu(imu(ms(k), yaw=0.01 * k)))
    assert stamps(got) == stamps(reference)
    for (_, x), (_, y) in zip(got, reference):
        assert yaw_of(x) == pytest.approx(yaw_of(y))
        np.testing.assert_array_equal(x.base_lin_vel, y.base_lin_vel)


def test_a_stamp_from_the_past_starts_the_filter_over(est):
    est.imu(imu(5000))
    for ms in (5000, 5020, 5040, 100):
        est.imu(imu(ms))
        assert len(est.joint_states(joint_states(ms))) == 1
    assert est.restarts == 1


def test_joints_put_elsewhere_between_two_stamps_start_the_filter_over(est):
    """A sim's episode reset: the robot stands again, the filter forgets how it fell."""
    fresh = StateEstimator(G1)
    bent = joint_states(1040)
    bent.position = (G1.default_pose() + 0.6).tolist()     # 0.6 rad off, not moving
    for ms in (1000, 1020):
        est.imu(imu(ms))
        est.joint_states(joint_states(ms))
    est.imu(imu(1040))
    [(_, state)] = est.joint_states(bent)
    assert est.restarts == 1
    fresh.imu(imu(1040))
    [(_, first)] = fresh.joint_states(bent)
    np.testing.assert_array_equal(state.base_lin_vel, first.base_lin_vel)
    np.testing.assert_array_equal(state.base_position, first.base_position)
    # Driven there (each state where the last one's velocity put it): no restart.
    moving = StateEstimator(G1)
    for k in range(5):
        msg = joint_states(2000 + 20 * k)
        msg.position = (G1.default_pose() + 0.2 * k).tolist()
        msg.velocity = [10.0] * G1.n_joints                # 0.2 rad per 20 ms
        moving.imu(imu(2000 + 20 * k))
        moving.joint_states(msg)
    assert moving.restarts == 0 and moving.estimates == 5
    never = StateEstimator(G1, teleport=0.0)                # teleport:=0 turns it off
    for msg in (joint_states(1000), bent):
        never.imu(imu(msg.header.stamp.sec * 1000 + msg.header.stamp.nanosec // 1_000_000))
        never.joint_states(msg)
    assert never.restarts == 0 and never.estimates == 2


def test_an_imu_without_accelerometer_leaves_it_to_the_legs_and_one_without_orientation_is_refused(
        est):
    est.imu(imu(1000, acceleration=False))
    [(_, state)] = est.joint_states(joint_states(1000))
    assert state.imu_linear_acceleration is None
    with pytest.raises(ValueError, match=r'no orientation \(orientation_covariance\[0\] is -1\)'):
        est.imu(imu(1020, orientation=False))


def test_a_joint_state_missing_joints_is_refused_by_name(est):
    est.imu(imu(1000))
    bad = joint_states(1000)
    bad.name, bad.position, bad.velocity = bad.name[1:], bad.position[1:], bad.velocity[1:]
    with pytest.raises(ValueError, match=f'missing joints .*{G1.joint_names[0]}'):
        est.joint_states(bad)


def test_a_robot_without_feet_and_bad_settings_are_refused():
    with pytest.raises(ValueError, match=r"robot 'humanoid' names no feet .*`feet:`"):
        StateEstimator(get_robot('humanoid'))
    with pytest.raises(ValueError, match='accel_noise must be a positive number'):
        StateEstimator(G1, LegOdometryConfig(accel_noise=-1.0))
    with pytest.raises(ValueError, match='realtime_priority: expected a number 0 to 99'):
        StateEstimatorConfig(realtime_priority=120)


def test_a_policy_trained_on_leg_odometry_is_told_where_it_reads_odometry_from():
    from symphony_ros.deploy.state_estimator import odometry_mismatch
    legs, sim = {'odometry': 'legs'}, {'odometry': 'sim'}
    told = odometry_mismatch(legs, '/odom')
    assert told.startswith('the policy trained on leg odometry (symphony train --odometry '
                           'legs) and reads odometry from /odom: deploy it with '
                           'estimator:=legs'), told
    assert odometry_mismatch(legs, '/state_estimator/odom') is None
    assert odometry_mismatch(legs, '/robot1/state_estimator/odom') is None   # a namespace
    assert odometry_mismatch(sim, '/odom') is None and odometry_mismatch({}, '/odom') is None
    assert odometry_mismatch(legs, None) is None           # a policy that reads no odometry

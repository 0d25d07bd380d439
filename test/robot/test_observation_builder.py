"""The observation builder: spec registry, terms, errors, and agreement with Gymnasium."""

import dataclasses
import json
import math

from humanoid_rollouts import mujoco_at, vanilla_rollout
import mujoco
import numpy as np
import pytest

from symphony_ros.robot import get_robot
from symphony_ros.robot.observations import (
    OBS_SPECS, ObservationBuilder, get_obs_spec)
from symphony_ros.robot.state import RobotState, imu_to_arrays, odometry_to_base

ROBOT = get_robot()
N = ROBOT.n_joints
S45 = math.sqrt(0.5)

# Gymnasium reads cinert, cvel and cfrc_ext after mj_step, where MuJoCo last evaluated them at
# its fourth Runge-Kutta stage, not at the state mj_step returns; the builder evaluates them
# at that returned state. Measured |builder - Gymnasium| over 900 random episodes (actions
# uniform in +-1, +-0.4, +-0.1; 23,500 steps; Gymnasium 1.4, MuJoCo 3.x):
#   cinert    max 2.6e-3,  p99 7e-4, median 4e-5
#   cvel      max 3.2,     p99 0.61, median 0.012 (rad/s, m/s)
#   cfrc_ext  max 547 N,   p99 75,   median 0.03 (ground impacts dominate)
# The bounds below are about twice the maxima; the medians catch a systematic error.
DERIVED_MAX = {'cinert': 5e-3, 'cvel': 6.0, 'cfrc_ext': 1100.0}
DERIVED_MEDIAN = {'cinert': 1e-4, 'cvel': 0.03, 'cfrc_ext': 0.1}


def _upright_state(**changes):
    state = RobotState(
        stamp=0.0, joint_positions=np.zeros(N), joint_velocities=np.zeros(N),
        joint_efforts=np.zeros(N), base_position=np.array([0.0, 0.0, 1.4]),
        base_orientation=np.array([1.0, 0, 0, 0]), base_lin_vel=np.zeros(3),
        base_ang_vel=np.zeros(3), imu_orientation=np.array([1.0, 0, 0, 0]),
        imu_angular_velocity=np.zeros(3))
    return dataclasses.replace(state, **changes)


def test_registry_and_layouts():
    assert set(OBS_SPECS) >= {'humanoid_v4_full', 'proprioceptive', 'gym_humanoid_v4'}
    full = get_obs_spec('humanoid_v4_full')
    assert full.dim == 376
    assert [t for t, _ in full.terms] == ['qpos_without_xy', 'qvel', 'cinert', 'cvel',
                                          'qfrc_actuator', 'cfrc_ext']
    assert get_obs_spec('gym_humanoid_v4').terms == full.terms
    assert get_obs_spec('proprioceptive').dim == 3 + 3 + 3 * N
    assert 'previous_action' in get_obs_spec('proprioceptive').needs
    assert 'odom' in full.needs and 'odom' not in get_obs_spec('proprioceptive').needs
    for spec in OBS_SPECS.values():
        d = json.loads(json.dumps(spec.to_dict()))
        assert d['dim'] == spec.dim and d['quaternion_convention'] == 'wxyz'
        assert sum(s for _, s in d['terms']) == spec.dim
    assert get_obs_spec('gym_humanoid_v4').to_dict()['reproducible_from_state'] is False
    with pytest.raises(ValueError, match='unknown observation spec.*humanoid_v4_full'):
        get_obs_spec('nope')


def test_builder_refuses_the_simulator_only_spec():
    with pytest.raises(ValueError, match="'gym_humanoid_v4' cannot be computed from robot "
                                         'state.*humanoid_v4_full'):
        ObservationBuilder('gym_humanoid_v4')


def test_position_and_velocity_terms_equal_gymnasium_exactly():
    builder = ObservationBuilder('humanoid_v4_full')
    sl = builder.spec.slices()
    for t, vanilla, state, _ in vanilla_rollout():
        obs = builder.build(state)
        expected_qpos = vanilla[sl['qpos_without_xy']].copy()
        if t == 0:
            # Gymnasium's reset noise leaves the quaternion off unit length (|q| ~ 1 +- 0.02);
            # MuJoCo normalizes it in the first step, the builder right away.
            mujoco.mju_normalize4(expected_qpos[1:5])
        np.testing.assert_array_equal(obs[sl['qpos_without_xy']], expected_qpos)
        np.testing.assert_array_equal(obs[sl['qfrc_actuator']], vanilla[sl['qfrc_actuator']])
        # Linear base velocity crosses the published (base) frame and back: rounding only.
        np.testing.assert_allclose(obs[sl['qvel']], vanilla[sl['qvel']], rtol=0, atol=1e-12)
        np.testing.assert_array_equal(obs[sl['qvel']][3:], vanilla[sl['qvel']][3:])


def test_derived_terms_within_measured_tolerances():
    builder = ObservationBuilder('humanoid_v4_full')
    sl = builder.spec.slices()
    errors = {k: [] for k in DERIVED_MAX}
    for _, vanilla, state, _ in vanilla_rollout():
        obs = builder.build(state)
        for k in errors:
            errors[k].append(np.abs(obs[sl[k]] - vanilla[sl[k]]).max())
    for k, e in errors.items():
        assert max(e) <= DERIVED_MAX[k], (k, max(e))
        assert np.median(e) <= DERIVED_MEDIAN[k], (k, np.median(e))


def test_full_state_equals_mujoco_at_the_published_state():
    """Lying on the floor under random torques: contacts, where efforts matter."""
    builder = ObservationBuilder('humanoid_v4_full')
    steps = vanilla_rollout(terminate=False)[:300]
    assert sum(np.abs(s.obs[-84:]).max() > 1 for s in steps) > 100  # contact forces present
    for step in steps:
        np.testing.assert_allclose(builder.build(step.state), mujoco_at(step.sim, ROBOT.mjcf_path),
                                   rtol=0, atol=1e-9)


def test_builders_agree_whatever_they_built_before():
    """No warm start carried between calls: the output is a function of the state alone."""
    states = [s.state for s in vanilla_rollout(terminate=False)[:300]]
    a, b = ObservationBuilder('humanoid_v4_full'), ObservationBuilder('humanoid_v4_full')
    out_a = [a.build(s) for s in states]
    out_b = [b.build(s) for s in reversed(states)][::-1]
    np.testing.assert_array_equal(out_a, out_b)


def test_quaternion_sign_does_not_change_the_observation():
    builder = ObservationBuilder('humanoid_v4_full')
    state = vanilla_rollout()[30].state
    flipped = dataclasses.replace(state, base_orientation=-state.base_orientation)
    np.testing.assert_allclose(builder.build(flipped), builder.build(state), atol=1e-12)


def test_proprioceptive_terms():
    builder = ObservationBuilder('proprioceptive')
    sl = builder.spec.slices()
    state = vanilla_rollout()[10].state
    prev = np.linspace(-1, 1, N)
    obs = builder.build(state, prev)
    np.testing.assert_array_equal(obs[sl['imu_angular_velocity']], state.imu_angular_velocity)
    np.testing.assert_array_equal(obs[sl['joint_pos_rel']],
                                  state.joint_positions - ROBOT.default_pose())
    np.testing.assert_array_equal(obs[sl['joint_vel']], state.joint_velocities)
    np.testing.assert_array_equal(obs[sl['previous_action']], prev)
    g = obs[sl['projected_gravity']]
    assert abs(np.linalg.norm(g) - 1) < 1e-12 and g[2] < 0
    # Odometry is not needed: a robot without a state estimator builds it.
    bare = dataclasses.replace(state, base_position=None, base_orientation=None,
                               base_lin_vel=None, base_ang_vel=None, joint_efforts=None)
    np.testing.assert_array_equal(builder.build(bare, prev), obs)


@pytest.mark.parametrize('xyzw, gravity', [
    ([S45, 0, 0, S45], [0, -1, 0]),  # roll +90 deg about x: body y points up
    ([0, S45, 0, S45], [1, 0, 0]),  # pitch +90 deg about y: body x points down
    ([0, 0, S45, S45], [0, 0, -1]),  # yaw only: gravity unchanged
    ([0, math.sin(math.pi / 12), 0, math.cos(math.pi / 12)],
     [math.sin(math.pi / 6), 0, -math.cos(math.pi / 6)]),  # pitch +30 deg
])
def test_imu_quaternion_convention_gives_projected_gravity(xyzw, gravity):
    builder = ObservationBuilder('proprioceptive')
    sl = builder.spec.slices()['projected_gravity']
    state = _upright_state(**imu_to_arrays(xyzw, [0, 0, 0]))
    np.testing.assert_allclose(builder.build(state, np.zeros(N))[sl], gravity, atol=1e-12)


def test_quaternion_in_the_wrong_order_is_detectably_wrong():
    """A (w, x, y, z) array passed where ROS (x, y, z, w) is expected tilts gravity."""
    builder = ObservationBuilder('proprioceptive')
    sl = builder.spec.slices()['projected_gravity']
    right = _upright_state(**imu_to_arrays([S45, 0, 0, S45], [0, 0, 0]))
    wrong = _upright_state(**imu_to_arrays([S45, S45, 0, 0], [0, 0, 0]))  # wxyz order
    g_right = builder.build(right, np.zeros(N))[sl]
    g_wrong = builder.build(wrong, np.zeros(N))[sl]
    assert np.abs(g_right - g_wrong).max() > 0.5


def test_odometry_quaternion_reaches_the_full_observation_as_wxyz():
    builder = ObservationBuilder('humanoid_v4_full')
    sl = builder.spec.slices()['qpos_without_xy']
    odom = odometry_to_base([0, 0, 1.3], [S45, 0, 0, S45], [1.0, 0, 0], [0, 0, 0])
    obs = builder.build(_upright_state(**odom))
    np.testing.assert_allclose(obs[sl][:5], [1.3, S45, S45, 0, 0], atol=1e-15)
    # Base-frame forward velocity of a body rolled about x stays along world x.
    np.testing.assert_allclose(obs[builder.spec.slices()['qvel']][:3], [1, 0, 0], atol=1e-15)


def test_missing_inputs_are_named():
    full, proprio = ObservationBuilder('humanoid_v4_full'), ObservationBuilder('proprioceptive')
    with pytest.raises(ValueError, match=r"'humanoid_v4_full' needs RobotState.base_position"):
        full.build(_upright_state(base_position=None))
    with pytest.raises(ValueError, match=r'needs RobotState.joint_efforts'):
        full.build(_upright_state(joint_efforts=None))
    with pytest.raises(ValueError, match=rf'RobotState.joint_positions expected shape \({N},\)'):
        full.build(_upright_state(joint_positions=np.zeros(N - 1)))
    with pytest.raises(ValueError, match=r"'proprioceptive' needs prev_action"):
        proprio.build(_upright_state())
    with pytest.raises(ValueError, match=r'needs RobotState.imu_orientation'):
        proprio.build(_upright_state(imu_orientation=None), np.zeros(N))
    with pytest.raises(ValueError, match=r"non-finite values in terms \['joint_vel'\]"):
        proprio.build(_upright_state(joint_velocities=np.full(N, np.nan)), np.zeros(N))


def test_out_buffer_is_filled_and_returned():
    builder = ObservationBuilder('humanoid_v4_full')
    out = np.full(builder.dim, np.nan)
    state = _upright_state()
    assert builder.build(state, out=out) is out
    np.testing.assert_array_equal(out, builder.build(state))

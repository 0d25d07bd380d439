"""The sim's two ways to drive a pd_position robot give the training env's physics."""

import mujoco
import numpy as np
import pytest

from symphony_ros.robot import get_robot
from symphony_ros.robot.model import build_model
from symphony_ros.robot.pd import PDLaw
from symphony_ros.sim.config import SimConfig
from symphony_ros.sim.robot_sim import RobotSim

G1 = get_robot('g1')
STEPS = 25


def targets(k):
    """A deterministic wobble about the default pose (what a policy might send)."""
    rng = np.random.default_rng(k)
    return G1.default_pose() + 0.5 * np.asarray(G1.action_scale) * rng.uniform(-1, 1, 29)


@pytest.fixture(scope='module')
def reference():
    """qpos after each control period of the env's own model: servos on the targets."""
    model = build_model(G1)
    sim = RobotSim(SimConfig(robot='g1', command_input='position'))
    data = mujoco.MjData(model)
    data.qpos[:], data.qvel[:] = sim.data.qpos, sim.data.qvel   # the sim's reset state
    out = []
    for k in range(STEPS):
        data.ctrl[:] = targets(k)
        mujoco.mj_step(model, data, nstep=G1.frame_skip)
        out.append(data.qpos.copy())
    return np.array(out)


def test_position_commands_run_the_env_servos_exactly(reference):
    sim = RobotSim(SimConfig(robot='g1', command_input='position'))
    for k in range(STEPS):
        sim.step_targets(targets(k), np.asarray(G1.kp), np.asarray(G1.kd))
        np.testing.assert_array_equal(sim.data.qpos, reference[k])


def test_torques_from_the_pd_law_at_every_physics_step_match_the_servos(reference):
    sim = RobotSim(SimConfig(robot='g1', command_input='effort'))
    law = PDLaw(G1)
    q_adr, v_adr = sim.reader.joint_qpos, sim.reader.joint_dof
    lo, hi = G1.servo_range().T
    for k in range(STEPS):
        # The watchdog's PD on each physics step's state, at the target it clamped into the
        # soft limits (as the servos clamp theirs).
        target = np.clip(targets(k), lo, hi)
        assert np.any(target != targets(k))   # the wobble reaches past a soft limit
        for _ in range(G1.frame_skip):
            tau = law.torque(target, sim.data.qpos[q_adr], sim.data.qvel[v_adr])
            sim.step(tau, nstep=1)
        np.testing.assert_allclose(sim.data.qpos, reference[k], atol=1e-8)


def test_missing_gains_or_targets_mean_no_torque_never_a_stale_pd():
    sim = RobotSim(SimConfig(robot='g1', command_input='position'))
    sim.step_targets(targets(0), None, None)
    assert not sim.data.actuator_force.any()
    sim.step_targets(np.full(29, np.nan), np.asarray(G1.kp), np.asarray(G1.kd))
    assert not sim.data.actuator_force.any()


def test_the_fall_heights_are_the_robot_files():
    sim = RobotSim(SimConfig(robot='g1'))
    assert sim.healthy_z == (G1.fall_min_height, np.inf)
    assert not sim.fallen()          # reset stands it at its nominal height
    assert RobotSim(SimConfig()).healthy_z == (1.0, 2.0)   # the humanoid's, as before


def test_a_tilt_beyond_the_robot_files_max_tilt_is_a_fall_as_in_training():
    sim = RobotSim(SimConfig(robot='g1'))
    p = sim.reader.base_qpos
    angle = G1.fall_max_tilt + 0.05               # about x, base height unchanged
    sim.data.qpos[p + 3:p + 7] = [np.cos(angle / 2), np.sin(angle / 2), 0.0, 0.0]
    assert sim.fallen()
    angle = G1.fall_max_tilt - 0.05
    sim.data.qpos[p + 3:p + 7] = [np.cos(angle / 2), np.sin(angle / 2), 0.0, 0.0]
    assert not sim.fallen()

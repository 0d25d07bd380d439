"""Open-loop replay of a recorded velocity policy: a cmd_vel logged after the command it
shaped (a recorder behind on its queues) still reproduces every recorded tick."""

import os
import sys

import mujoco
import numpy as np

from symphony_ros.bag.openloop import REPRODUCED, disagreement, run_open_loop
from symphony_ros.bag.timeline import Command, StateSample, Timeline
from symphony_ros.deploy.policy_loop import PolicyLoop
from symphony_ros.robot import get_robot
from symphony_ros.robot.model import build_model, home_qpos
from symphony_ros.robot.mujoco_state import MujocoStateReader
from symphony_ros.robot.pd import PDLaw

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'deploy'))
from g1_policy import export_g1_policy, export_history_student  # noqa: E402

MS = 1_000_000
TICKS = 12


def _recording(policy: str, cmd_log_ns: int) -> Timeline:
    """A G1 policy's ticks as a recorder saw them: the command (0.5, 0, 0.3) reached the
    policy before its first tick, and was logged at ``cmd_log_ns``."""
    robot = get_robot('g1')
    model, law = build_model(robot), PDLaw(robot)
    data = mujoco.MjData(model)
    data.qpos[:] = home_qpos(model, robot)
    reader, loop = MujocoStateReader(model, robot), PolicyLoop(policy, robot)
    command = np.array([0.5, 0.0, 0.3])
    tl = Timeline(robot)
    tl.cmd_vel = [(cmd_log_ns, command)]
    for k in range(TICKS):
        mujoco.mj_forward(model, data)
        state = reader.read(data)
        t = (k + 1) * 20 * MS
        tl.states.append(StateSample(t, t, state, True, True))
        target, _ = loop.act(state, command)
        torque = law.torque(target, state.joint_positions, state.joint_velocities)
        tl.commands.append(Command(t + MS, t, torque, law.action(target), target, k, t))
        data.ctrl[:] = target
        mujoco.mj_step(model, data, nstep=robot.frame_skip)
    return tl


def test_a_late_logged_cmd_vel_still_reproduces_the_recorded_policy(tmp_path):
    policy = export_g1_policy(str(tmp_path))
    on_time = _recording(policy, 0)
    assert disagreement(run_open_loop(policy, on_time.robot, on_time, recorded=True),
                        on_time)['reproduced_share'] == 1.0
    # Logged after the first two commands: by log time they answered a zero command.
    late = _recording(policy, 2 * 20 * MS + 2 * MS)
    run = run_open_loop(policy, late.robot, late, recorded=True)
    d = disagreement(run, late)
    assert d['reproduced_share'] == 1.0 and d['max_abs'] < REPRODUCED, d
    # A candidate is not fitted to the recording: it answers the command by log time.
    cand = run_open_loop(policy, late.robot, late)
    assert disagreement(cand, late)['reproduced_share'] < 1.0


def test_a_policy_with_observation_history_replays_every_recorded_tick(tmp_path):
    # The replay's memory per held state carries the last observations as the node's does.
    policy = export_history_student(str(tmp_path))
    recorded = _recording(policy, 0)
    run = run_open_loop(policy, recorded.robot, recorded, recorded=True)
    d = disagreement(run, recorded)
    assert d['reproduced_share'] == 1.0 and d['max_abs'] < REPRODUCED, d

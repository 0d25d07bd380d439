"""Why a PD robot's PD runs where its state is fresh (the deploy graph's position default).

The G1's training env runs its PD at every 5 ms physics step on that step's state. The
watchdog's torque gate (``watchdog_output:=effort``) runs the same law on joint states that
cross DDS first, so the torque a physics step applies comes from an older state. Held at its
default pose for a second, the G1 keeps its joints slow on a fresh state (1.3 rad/s at
most); on a state one physics step old its wrists pass their velocity limits, on one two
steps old 20 of its 29 joints, the ankles among them (81 rad/s): the watchdog's velocity
FAULT. Over DDS a state is one to two physics steps old by the time its torque applies.
"""

import collections

import numpy as np
import pytest

from symphony_ros.robot import get_robot
from symphony_ros.robot.pd import PDLaw
from symphony_ros.sim.config import SimConfig
from symphony_ros.sim.robot_sim import RobotSim

STEPS = 200
"""Physics steps (1 s) held at the default pose, before the unpowered-policy G1 sags."""


def _fastest_joint(age):
    robot = get_robot('g1')
    law = PDLaw(robot)
    sim = RobotSim(SimConfig(robot='g1', command_input='effort', seed=0), robot)
    states = collections.deque(maxlen=age + 1)
    speed = np.zeros(robot.n_joints)
    for _ in range(STEPS):
        s = sim.state()
        states.append((s.joint_positions.copy(), s.joint_velocities.copy()))
        q, qd = states[0]                     # the oldest kept: ``age`` steps old
        sim.step(law.torque(robot.default_pose(), q, qd), nstep=1)
        speed = np.maximum(speed, np.abs(sim.state().joint_velocities))
    return robot, speed


@pytest.mark.parametrize('age', [0, 1, 2])
def test_a_pd_on_a_stale_state_shakes_the_g1s_joints_past_their_limits(age):
    robot, speed = _fastest_joint(age)
    limits = np.asarray(robot.velocity_limits)
    beyond = [robot.joint_names[i] for i in np.flatnonzero(speed > limits)]
    if age == 0:
        assert beyond == [] and speed.max() < 0.5 * limits.min()
    elif age == 1:
        assert any('wrist' in name for name in beyond), (beyond, speed.max())
    else:
        assert len(beyond) > 10 and any('ankle' in name for name in beyond), beyond

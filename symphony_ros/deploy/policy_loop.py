"""One control tick of a deployed policy: robot state -> observation -> action -> torque."""

from __future__ import annotations

import time
from typing import Optional, Tuple

import numpy as np

from ..policy.runtime import OnnxPolicy
from ..robot.description import RobotDescription, get_robot
from ..robot.observations import ObservationBuilder
from ..robot.state import RobotState
from .stats import Percentiles


class DeployError(RuntimeError):
    """The policy cannot drive this robot (a contract mismatch found before anything moves)."""


class PolicyLoop:
    """Checks a policy against a robot once, then turns states into torques."""

    def __init__(self, policy_path: str, robot: Optional[RobotDescription] = None) -> None:
        self.robot = robot or get_robot()
        self.policy = OnnxPolicy(policy_path, expected_dt=self.robot.control_dt)
        c = self.policy.contract
        if c.robot is None:
            raise DeployError(f'{policy_path}: exported for env {c.env!r} with no robot; it '
                              'cannot drive joints')
        if c.robot.xml_sha256 != self.robot.xml_sha256:
            raise DeployError(f'{policy_path}: trained on model {c.robot.name!r} with XML sha256 '
                              f'{c.robot.xml_sha256[:12]}..., robot {self.robot.name!r} has '
                              f'{self.robot.xml_sha256[:12]}...')
        if c.observation.reproducible_from_state is False:
            raise DeployError(f'{policy_path}: observation spec {c.observation.name!r} cannot '
                              'be computed from robot state (a simulator-only policy)')
        self.policy.check_description(self.robot)
        self.builder = ObservationBuilder(c.observation.name, self.robot)
        self.prev_action = np.zeros(self.robot.n_joints)
        self.inference = Percentiles()

    @property
    def needs(self) -> Tuple[str, ...]:
        """Return what the observation spec consumes: joint_states, imu, odom, ..."""
        return tuple(self.builder.spec.needs)

    def check_joint_names(self, names) -> None:
        """Refuse a robot whose published joints lack the policy's (first /joint_states)."""
        missing = [n for n in self.robot.joint_names if n not in set(names)]
        if missing:
            raise DeployError(f'joint_states lacks the policy joints {missing}; it publishes '
                              f'{list(names)}')
        self.policy.check_robot(list(self.robot.joint_names))

    def torque(self, state: RobotState) -> Tuple[np.ndarray, np.ndarray]:
        """Return (torque N*m, action) for ``state``; times the inference."""
        obs = self.builder.build(state, self.prev_action)
        t0 = time.perf_counter()
        action = self.policy.act(obs)
        self.inference.add(time.perf_counter() - t0)
        self.prev_action = np.asarray(action, dtype=np.float64)
        return self.robot.action_to_torque(self.prev_action), self.prev_action

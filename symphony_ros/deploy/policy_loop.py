"""One control tick of a deployed policy: robot state -> observation -> action -> command.

The command is what the robot's action law makes of the action: joint torques for a torque
robot, joint position targets (``default + action_scale * a``, :class:`PDLaw`) for a
pd_position robot, whose PD runs downstream (the watchdog's torque gate or the driver).
"""

from __future__ import annotations

import time
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

from ..policy.contract import ObservationContract
from ..policy.runtime import OnnxPolicy
from ..robot.description import RobotDescription, get_robot
from ..robot.frame_stack import FrameStack
from ..robot.gait import GaitClock
from ..robot.obs_specs import scale_mismatch
from ..robot.observations import ObservationBuilder
from ..robot.pd import PDLaw
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
        _check_scales(policy_path, c.observation, self.builder.spec.to_dict())
        self.prev_action = np.zeros(self.robot.n_joints)
        self.inference = Percentiles()
        self.pd = PDLaw(self.robot) if self.robot.action_kind == 'pd_position' else None
        """The action law of a pd_position robot (None: the action is a torque)."""
        self.needs_command = any(name == 'command' for name, _ in c.observation.terms)
        """The observation carries a velocity command (a velocity-tracking policy)."""
        self.command_ranges = dict((c.task or {}).get('command_ranges') or {})
        """The command ranges the policy was trained on (empty: no command)."""
        if self.needs_command and not self.command_ranges:
            raise DeployError(f'{policy_path}: observation {c.observation.name!r} takes a '
                              'velocity command but the contract records no '
                              'task.command_ranges')
        self.clock = self._gait_clock(policy_path, c.observation, c.task or {})
        """The policy's gait clock (None: its observation has none); ticks with each act."""
        self.ticks = 0
        self._phase = np.zeros(2)
        self.stack = FrameStack(c.observation.history, self.builder.dim)
        """The last observations the policy takes (one, for most policies)."""

    def _gait_clock(self, policy_path: str, observation: ObservationContract,
                    task: Mapping[str, Any]) -> Optional[GaitClock]:
        """Return the clock the contract's task sets for a policy that observes one."""
        if not any(name == 'gait_phase' for name, _ in observation.terms):
            return None
        period = task.get('gait_period')
        if not period:
            raise DeployError(f'{policy_path}: observation {observation.name!r} takes a gait '
                              'clock but the contract records no task.gait_period')
        try:
            return GaitClock(float(period), self.robot.control_dt,
                             float(task.get('gait_stance', GaitClock.stance)))
        except ValueError as exc:
            raise DeployError(f'{policy_path}: task.gait_period/gait_stance: {exc}') from None

    @property
    def memory(self) -> Tuple[np.ndarray, int, np.ndarray]:
        """Return what the next act carries over from earlier ones.

        (previous action, tick, the observation history's frames: empty after a reset).
        """
        return self.prev_action.copy(), self.ticks, self.stack.state

    @memory.setter
    def memory(self, value: Tuple[np.ndarray, int, np.ndarray]) -> None:
        self.prev_action, self.ticks = np.array(value[0], dtype=np.float64), int(value[1])
        self.stack.state = value[2]

    def reset(self, tick: int = 0) -> None:
        """Start afresh: no previous action, the gait clock at ``tick``, no history."""
        self.memory = (np.zeros(self.robot.n_joints), tick, np.zeros(0))

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

    @property
    def output(self) -> str:
        """What :meth:`act` returns: 'effort' (N*m) or 'position' (rad joint targets)."""
        return 'effort' if self.pd is None else 'position'

    def act(self, state: RobotState, command: Optional[np.ndarray] = None
            ) -> Tuple[np.ndarray, np.ndarray]:
        """Return (torque N*m or joint targets rad, action) for ``state``; times the inference.

        :param command: (vx, vy, yaw rate) for a velocity-tracking policy (ignored otherwise).
        """
        if self.needs_command and command is None:
            raise DeployError('this policy takes a velocity command and none was given')
        phase = None if self.clock is None else self.clock.observe(self.ticks, self._phase)
        obs = self.builder.build(state, self.prev_action,
                                 command=command if self.needs_command else None,
                                 gait_phase=phase)
        obs = self.stack.push(obs)
        self.ticks += 1
        t0 = time.perf_counter()
        action = self.policy.act(obs)
        self.inference.add(time.perf_counter() - t0)
        self.prev_action = np.asarray(action, dtype=np.float64)
        if self.pd is not None:
            return self.pd.target(self.prev_action), self.prev_action
        return self.robot.action_to_torque(self.prev_action), self.prev_action

    def torque(self, state: RobotState) -> Tuple[np.ndarray, np.ndarray]:
        """Return (torque N*m, action) for ``state`` (torque robots: see :meth:`act`)."""
        if self.pd is not None:
            raise DeployError(f'robot {self.robot.name!r} is pd_position: its policy gives '
                              'joint position targets (act), not torques')
        return self.act(state)


def _check_scales(policy_path: str, observation: ObservationContract,
                  ours: Dict[str, Any]) -> None:
    """Refuse a policy whose observation terms were scaled otherwise than this build scales them.

    The spec's name picks the builder; its scales are part of what the actor learned on, so a
    spec whose scales changed since the export would feed it inputs of the wrong size.
    """
    theirs = dict((observation.spec or {}).get('scales') or {})
    why = scale_mismatch(theirs, dict(ours.get('scales') or {}), observation.name)
    if why:
        raise DeployError(f'{policy_path}: {why}: deploy it with the symphony_ros it was '
                          'exported with')

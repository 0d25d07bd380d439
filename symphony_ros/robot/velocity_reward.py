"""The velocity task's reward: one definition for training, the sim node and the bag evaluator.

`VelocityReward` computes the named, weighted terms of one control step from the MuJoCo
state after it (feet positions and contacts come from an ``MjData``), the action, the
command and the torque. `VelocityEnv` scores training steps with it; `VelocityScore` wraps it
for `EpisodeTracker` (the sim node's episodes, the in-process parity run, a recording's
episodes), so a G1 return through ROS and in training are the same sum of the same terms.

The sim passes its own ``MjData`` (exactly what the env reads after ``mj_step``); a bag has
only the recorded states, so `VelocityScore` rebuilds kinematics and contacts from the
state's configuration (``mj_forward``): at most one physics step apart from the live data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, Optional, Tuple

import mujoco
import numpy as np

from .command_terms import (YawWindow, command_classes, command_terms, gait_freed,
                            tracking_errors)
from .description import RobotDescription
from .falls import has_fallen
from .mujoco_state import MujocoStateReader
from .rotations import projected_gravity
from .state import RobotState
from .tracking import window_steps

if TYPE_CHECKING:   # velocity_env imports this module
    from .velocity_env import VelocityTask


class VelocityReward:
    """Named, weighted reward terms of the velocity task, step by step (it tracks feet)."""

    def __init__(self, robot: RobotDescription, task: 'VelocityTask',
                 model: mujoco.MjModel) -> None:
        """Resolve the feet and the soft joint limits of ``robot`` in ``model`` once."""
        self.robot, self.task = robot, task
        self.dt = robot.control_dt
        self.feet = np.array([mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, b)
                              for b in robot.feet], dtype=np.intp)
        # geom -> index of the foot it belongs to, or len(feet) for any other geom.
        self._foot_of_geom = np.full(model.ngeom, len(self.feet), dtype=np.intp)
        for i, body in enumerate(self.feet):
            self._foot_of_geom[model.geom_bodyid == body] = i
        self._contact = np.zeros(len(self.feet) + 1, dtype=bool)
        mid = robot.position_limits.mean(axis=1)
        half = 0.5 * np.diff(robot.position_limits, axis=1)[:, 0]
        self.soft_lo = mid - task.soft_limit_factor * half
        self.soft_hi = mid + task.soft_limit_factor * half
        # Held joints (action_scale 0) ignore their action: its rate is no one's concern.
        self._driven = (robot.action_scale > 0).astype(np.float64)
        self._air = np.zeros(len(self.feet))
        self._feet_xy = np.zeros((len(self.feet), 2))
        self.feet_z0 = np.zeros(len(self.feet))
        """m: each foot's height at reset, from which swing height is measured."""
        self.clock = task.gait_clock(self.dt)
        names = list(robot.joint_names)
        # [feet, joints of a row]: the reference-swing joints of each foot, and their defaults.
        self._ref = np.array([[names.index(j) for j in row] for row in task.ref_joints],
                             dtype=np.intp).reshape(len(task.ref_joints), len(task.ref_shape))
        self._ref_default = robot.default_pose()[self._ref]
        self._ref_shape = np.asarray(task.ref_shape, dtype=np.float64)
        self.yaw = YawWindow(window_steps(task.gait_period, self.dt))
        """The yaw rate averaged over the episode's last gait cycle (track_yaw_stride)."""
        self.raw: Dict[str, float] = {}
        """The last step's terms before weighting (what re-scoring a stored step needs)."""
        self.errors: Tuple[float, float, float] = (0.0, 0.0, 0.0)
        """(squared linear velocity error (m/s)^2, squared yaw-rate error and squared stride
        yaw-rate error (rad/s)^2) of the last step: the tracking terms' arguments."""

    def reset(self, data: mujoco.MjData) -> None:
        """Start an episode: no foot in the air, feet where ``data`` has them."""
        self._air[:] = 0.0
        self.yaw.reset()
        self.track_feet(data)
        # Swing height is measured from where the feet stand at the start of the episode.
        self.feet_z0[:] = data.xpos[self.feet, 2]

    def track_feet(self, data: mujoco.MjData) -> None:
        """Take the feet positions of ``data`` as the last step's (slip is measured from them)."""
        self._feet_xy[:] = data.xpos[self.feet, :2]

    def feet_contact(self, data: mujoco.MjData) -> np.ndarray:
        """Which feet touch anything (the floor: robot geoms collide with nothing else)."""
        c, ncon = self._contact, data.ncon
        c[:] = False
        if ncon:
            c[self._foot_of_geom[data.contact.geom[:ncon].reshape(-1)]] = True
        return c[:-1]

    def terms(self, data: mujoco.MjData, s: RobotState, action: np.ndarray,
              prev_action: np.ndarray, command: np.ndarray, tau: np.ndarray,
              gravity: np.ndarray, ticks: int = 0) -> Dict[str, float]:
        """Weighted terms of the step just taken (terms of weight 0 are still reported).

        :param ticks: the gait clock's tick of the state reached (the episode's steps so far
            plus its starting tick; unused without a clock).
        """
        t, cmd, w = self.task, command, self.task.weights
        yaw = float(s.base_ang_vel[2])
        errors = tracking_errors(cmd, s.base_lin_vel, yaw, self.yaw.add(yaw))
        self.errors = (float(errors[0]), float(errors[1]), float(errors[2]))
        q = s.joint_positions
        beyond = np.maximum(self.soft_lo - q, 0.0) + np.maximum(q - self.soft_hi, 0.0)
        contact = self.feet_contact(data)
        feet_xy = data.xpos[self.feet, :2]
        step = (feet_xy - self._feet_xy).reshape(-1)
        slip = float((step * step) @ np.repeat(contact, 2)) / self.dt ** 2
        self._feet_xy[:] = feet_xy
        landing = contact & (self._air > 0.0)
        self._air += self.dt
        air = 0.0
        walking, moving = command_classes(cmd)
        if landing.any() and walking:
            air = float(np.sum(self._air[landing] - t.air_time_target))
        self._air[contact] = 0.0
        height = 0.0
        if self.robot.nominal_base_height is not None:
            height = (float(s.base_position[2]) - self.robot.nominal_base_height) ** 2
        da = (action - prev_action) * self._driven
        gait, swing, ref = self._gait(data, q, contact, ticks, bool(moving))
        if gait_freed(errors[0], t.gait_free_error):
            gait, swing, ref = 0.0, 0.0, 0.0    # thrown off its command: step as it must
        tracking = command_terms(*self.errors, t.tracking_sigma)
        raw = {**{k: float(v) for k, v in tracking.items()},
               'alive': 1.0,
               'upright': float(gravity[0] ** 2 + gravity[1] ** 2),
               'base_height': height,
               'action_rate': float(da @ da),
               'torque': float(tau @ tau),
               'joint_limit': float(beyond.sum()),
               'foot_slip': slip,
               'air_time': air,
               'gait_contact': gait,
               'swing_height': swing,
               'joint_ref': ref}
        self.raw = raw
        return {k: w.get(k, 0.0) * v for k, v in raw.items()}

    def _gait(self, data: mujoco.MjData, q: np.ndarray, contact: np.ndarray, ticks: int,
              moving: bool) -> Tuple[float, float, float]:
        """Return the gait terms: contact as wanted, swing-height misses, reference swing.

        The first counts the feet whose contact is what the clock wants; the second sums the
        squared swing-height misses; the third says how close the legs are to the reference
        swing. A standing command wants every foot down and the default pose (the clock keeps
        running, the feet do not), or, with the task's ``stand_gait`` step, the clock's
        steps in place as a walking one wants them. The reference term is humanoid-gym's,
        exp(-2 d) - 0.2 min(d, 0.5), d the norm of the reference joints' distance from their
        references.
        """
        if self.clock is None:
            return 0.0, 0.0, 0.0
        n = len(self.feet)
        stance = self.clock.stance_feet(ticks, n)
        stepping = moving or self.task.stand_gait == 'step'
        swing = self.clock.swing_lift(ticks, n) if stepping else np.zeros(n)
        if not stepping:
            stance[:] = True
        lift = data.xpos[self.feet, 2] - self.feet_z0
        miss = (lift - self.task.swing_height)[~stance]
        ref = 0.0
        if self._ref.size:
            d = float(np.linalg.norm(q[self._ref] - self._ref_default
                                     - swing[:len(self._ref), None] * self._ref_shape))
            ref = math.exp(-2.0 * d) - 0.2 * min(d, 0.5)
        return float(np.count_nonzero(contact == stance)), float(miss @ miss), ref


@dataclass(frozen=True)
class VelocityStep:
    """One scored control step of the velocity task."""

    terms: Dict[str, float]
    """Weighted reward terms (`VelocityReward.terms`)."""
    fallen: bool
    lin_vel_error: float
    """m/s: |commanded - measured| planar base velocity."""
    yaw_rate_error: float
    """rad/s: |commanded - measured| yaw rate."""
    command: Tuple[float, float, float] = (0.0, 0.0, 0.0)
    """(vx, vy, yaw rate) commanded, base frame."""
    velocity: Tuple[float, float, float] = (0.0, 0.0, 0.0)
    """(vx, vy, yaw rate) measured, base frame, as the reward reads them."""

    @property
    def total(self) -> float:
        """Reward of the step, as the training environment gives it."""
        return float(sum(self.terms.values()))


class VelocityScore:
    """`VelocityReward` over consecutive measured states, for `EpisodeTracker`.

    The action of a step is recovered from the joint targets the robot received
    (:meth:`PDLaw.action`) or given; the command is the (clipped) cmd_vel in force.
    """

    def __init__(self, robot: RobotDescription, task: Optional['VelocityTask'] = None,
                 healthy_z: Optional[Tuple[float, float]] = None) -> None:
        """Build the robot's model once (a bag has no simulator to read feet from).

        :param healthy_z: base heights of a standing robot (default: the robot file's fall
            heights); with the robot file's fall tilt they decide :meth:`fallen`.
        """
        from .model import build_model
        from .velocity_env import VelocityTask
        self.robot = robot
        self.task = task or VelocityTask.for_robot(robot)
        self.model = build_model(robot)
        self.data = mujoco.MjData(self.model)
        self.reader = MujocoStateReader(self.model, robot)
        self.reward = VelocityReward(robot, self.task, self.model)
        self.healthy_z = healthy_z or robot.healthy_z
        self.prev_action = np.zeros(robot.n_joints)
        self.ticks = 0
        """Steps scored since `start` (the gait clock's count)."""

    def _pose(self, state: RobotState) -> mujoco.MjData:
        self.data.qpos[:] = self.reader.qpos(state, self.model.qpos0)
        mujoco.mj_forward(self.model, self.data)
        return self.data

    def start(self, state: RobotState, data: Optional[mujoco.MjData] = None) -> None:
        """Begin an episode at ``state`` (``data``: the live simulator's, if there is one)."""
        self.prev_action[:] = 0.0
        self.ticks = 0
        self.reward.reset(data if data is not None else self._pose(state))

    def fallen(self, state: RobotState) -> bool:
        """Return True for a base height outside ``healthy_z`` or a tilt past fall max_tilt."""
        return has_fallen(float(state.base_position[2]), state.base_orientation, self.healthy_z,
                          self.robot.fall_max_tilt)

    def step(self, before: RobotState, after: RobotState, torque: np.ndarray,
             action: Optional[np.ndarray] = None, command: Optional[np.ndarray] = None,
             data: Optional[mujoco.MjData] = None) -> VelocityStep:
        """Score the step into ``after`` (``torque``: N*m of its last physics step).

        :param action: the policy action of the step (None: repeat the previous one, no
            action-rate cost); :param command: (vx, vy, yaw rate), None: zero.
        """
        a = self.prev_action if action is None else np.clip(action, -1.0, 1.0)
        cmd = np.zeros(3) if command is None else np.asarray(command, dtype=np.float64)
        d = data if data is not None else self._pose(after)
        self.ticks += 1
        terms = self.reward.terms(d, after, a, self.prev_action, cmd,
                                  np.asarray(torque, dtype=np.float64),
                                  projected_gravity(after.base_orientation), self.ticks)
        self.prev_action = np.array(a, dtype=np.float64)
        lin, yaw, _ = self.reward.errors
        v, w = after.base_lin_vel, after.base_ang_vel
        return VelocityStep(terms, self.fallen(after), math.sqrt(lin), math.sqrt(yaw),
                            (float(cmd[0]), float(cmd[1]), float(cmd[2])),
                            (float(v[0]), float(v[1]), float(w[2])))


__all__ = ['VelocityReward', 'VelocityScore', 'VelocityStep']

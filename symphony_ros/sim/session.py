"""One sim run between messages: commands in, physics steps scored, episodes ended.

mujoco_sim_node owns the ROS side (topics, timers, the watchdog's services); this class owns
what happens to the robot: which command reaches the motors (after ``command_delay``, and
none once it is older than ``command_timeout``), each step and its reward, an episode's end
and the reset after it, and the simulated stamps. It takes an injected clock and no rclpy,
so every rule here is tested without DDS; the node calls it with its lock held.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple

import numpy as np

from ..deploy.velocity_command import VelocityCommand
from ..robot.pd import PDLaw
from ..robot.state import RobotState
from ..robot.velocity_reward import VelocityScore
from .config import SimConfig
from .delay import DelayLine
from .episodes import EpisodeResult, EpisodeTracker, task_reward
from .own_command import OwnCommand
from .pushes import Pushes
from .robot_sim import RobotSim

EPOCH = 1.0
"""s: simulated stamps start here; a zero stamp means 'unset' to the watchdog."""


@dataclass(frozen=True)
class Conclusion:
    """What a step's end asks of the node: publish, log, tell the gantry, stop."""

    ended: Optional[EpisodeResult]
    """The episode the step finished (its return goes out and into the log)."""
    reset: bool
    """The robot was reset (the gantry holds the next episode until ACTIVE)."""
    fall_reset: bool
    """A reset after a fall that ended no episode (auto_reset inside one): log it."""
    done: bool
    """The run's tick or episode budget is spent."""


class SimSession:
    """A RobotSim stepped on the commands it is given, scored with its task's reward."""

    def __init__(self, cfg: SimConfig, clock: Callable[[], float],
                 cmd_vel_topic: str = 'cmd_vel') -> None:
        """Build the sim of ``cfg``; ``clock``: steady seconds (command ages and delays).

        :param cmd_vel_topic: the velocity command's resolved topic, named in its problems.
        """
        self.cfg = cfg
        self.sim = RobotSim(cfg)
        self.names = self.sim.robot.joint_names
        self._clock = clock
        self.commands = DelayLine(cfg.command_delay, clock)
        """Commands (torques or targets) until they are due; with no delay, at once."""
        self.position = bool(self.sim.pd and cfg.command_input == 'position')
        """Targets and gains in, PD in MuJoCo (else torques in)."""
        self.gains: Optional[np.ndarray] = None
        """kp then kd per joint, from the watchdog (position input); None: zero gains."""
        reward = task_reward(self.sim.robot, self.sim.healthy_z)
        # A robot file with a fall tilt ends episodes on it too (the sim's rule, as in
        # training); without one the reward's height range decides.
        fallen = self.sim.fallen if self.sim.robot.fall_max_tilt is not None else None
        self.tracker = EpisodeTracker(reward, cfg.episode_steps, fallen)
        self.velocity = isinstance(reward, VelocityScore)
        """Scored by the velocity task: needs the command and the policy's action."""
        self.action: Optional[np.ndarray] = None
        """The policy's last action, recovered from its joint targets (velocity score)."""
        self.cmd_vel: Optional[VelocityCommand] = None
        self.own: Optional[OwnCommand] = None
        """The command the sim publishes itself (``cmd_vel`` set), or None."""
        self.law: Optional[PDLaw] = None
        self.cmd_problem = ''
        """What was wrong with the ``cmd_vel`` parameter, if anything."""
        if self.velocity:
            self.law = PDLaw(self.sim.robot)
            task = dataclasses.replace(reward.task, **cfg.command_draws())
            self.cmd_vel = VelocityCommand(task.command_ranges(), clock=clock,
                                           topic=cmd_vel_topic)
            fixed = cfg.velocity_command()
            if fixed is not None or cfg.random_commands:
                self.own = OwnCommand(task, cfg.seed, fixed)
            if fixed is not None:
                self.cmd_problem = self.cmd_vel.update(*fixed)
        self.pushes = (Pushes(cfg.push_velocity, (cfg.push_interval_min,
                                                  cfg.push_interval_max), cfg.seed)
                       if cfg.push_velocity else None)
        """Kicks to the base (``push_velocity``), or None."""
        self._starts = 0
        self.episodes: List[EpisodeResult] = []
        self.ticks = 0
        self.elapsed = 0.0
        """Simulated seconds of the episodes before the current one: stamps never go back."""
        self._start_episode()

    def describe(self, substeps: int = 1) -> str:
        """Say in one line what is simulated and how (the node logs it at start).

        :param substeps: timer ticks per control period (>1: the state goes out every
            physics step, a torque-driven PD robot's rate).
        """
        robot, cfg = self.sim.robot, self.cfg
        return (f'{robot.name}: {len(self.names)} joints, dt {robot.control_dt:.4f} s, '
                f'timing {cfg.timing}'
                + (f', {cfg.command_input} commands' if self.sim.pd else '')
                + (f', state at {1 / robot.physics_dt:g} Hz' if substeps > 1 else '')
                + (f', base kicks of {cfg.push_velocity:g} m/s every '
                   f'{cfg.push_interval_min:g}-{cfg.push_interval_max:g} s'
                   if cfg.push_velocity else '')
                + (f'; {self.own.describe()}' if self.own is not None else ''))

    def stamp(self) -> float:
        """Return the simulated time of the current state: never back, never zero."""
        return self.sim.time + EPOCH + self.elapsed

    def held(self) -> bool:
        """Return whether the robot is on its gantry: no step of this episode taken yet."""
        return self.cfg.wait_for_active and self.tracker.steps == 0

    def take_command(self, command: Optional[np.ndarray]) -> None:
        """Queue a command that just arrived (None: a malformed one, applied as none)."""
        self.commands.push(command)

    def take_policy_targets(self, targets: Optional[np.ndarray]) -> None:
        """Take the policy's joint targets (sim order; None: unusable), for its action."""
        if self.law is not None:
            self.action = self.law.action(targets) if targets is not None else None

    def current_command(self) -> Optional[np.ndarray]:
        """Return the command due now, None once it is older than ``command_timeout``."""
        command, due = self.commands.current()
        if self._clock() - due > self.cfg.command_timeout:
            return None
        self.commands.applied()
        return command

    def velocity_command(self) -> np.ndarray:
        """Return the command a step is scored against: the sim's own or the last cmd_vel.

        Clipped to the task's ranges, zero when stale.
        """
        if self.own is not None:
            self.cmd_vel.update(*self.own.value)
        return self.cmd_vel.value()

    def substep(self, command: Optional[np.ndarray]) -> None:
        """Take one physics step inside a control period (not scored)."""
        self.sim.step(command, nstep=1)

    def advance(self, command: Optional[np.ndarray], nstep: Optional[int] = None
                ) -> Tuple[float, Optional[EpisodeResult]]:
        """Step once (a control period, or ``nstep`` physics steps) and score it.

        Return the step's reward and the episode it ended, if any. A kick due at the step's
        start is given before it.
        """
        if self.pushes is not None:
            kick = self.pushes.due(self.sim.time, self.sim.heading())
            if kick is not None:
                self.sim.kick(kick)
        if self.position:
            n = len(self.names)
            gains = self.gains if command is not None else None
            kp, kd = (gains[:n], gains[n:]) if gains is not None else (None, None)
            state = self.sim.step_targets(command, kp, kd)
            applied = self.sim.data.actuator_force.copy()
        else:
            applied = command if command is not None else np.zeros(len(self.names))
            state = self.sim.step(command, nstep)
        if self.velocity:
            reward, finished = self.tracker.step(state, applied, action=self.action,
                                                 command=self.velocity_command(),
                                                 data=self.sim.data)
            if self.own is not None and finished is None:   # an episode's end draws anew
                self.own.stepped(self.tracker.steps)
        else:
            reward, finished = self.tracker.step(state, applied)
        if finished is not None and self.pushes is not None:
            finished = dataclasses.replace(finished, kicks=tuple(self.pushes.given))
        self.ticks += 1
        return reward.total, finished

    def conclude(self, finished: Optional[EpisodeResult]) -> Conclusion:
        """End the episode a step ended, or reset after a fall; say if the budget is spent.

        The node sends the state that ended an episode before calling this, so a recording
        holds every step the return counts.
        """
        reset = fall_reset = False
        if finished is not None:
            self.episodes.append(finished)
            if finished.fallen and not self.cfg.auto_reset:
                self._start_episode()
            else:
                self.reset_robot()
                reset = True
        elif self.cfg.auto_reset and self.sim.fallen():
            self.reset_robot()
            reset = fall_reset = True
        done = bool((self.cfg.max_ticks and self.ticks >= self.cfg.max_ticks) or (
            self.cfg.max_episodes and len(self.episodes) >= self.cfg.max_episodes))
        return Conclusion(finished, reset, fall_reset, done)

    def reset_robot(self) -> None:
        """Reset the robot and start an episode; stamps run on."""
        # The reset state is stamped one period after the last one, so stamps stay unique
        # and /clock never goes back, ~/reset calls included.
        self.elapsed += self.sim.time + self.sim.robot.control_dt
        self._start_episode(self.sim.reset())

    def _start_episode(self, state: Optional[RobotState] = None) -> None:
        if self.pushes is not None:
            self.pushes.start(self._starts, self.sim.time)   # a fall without reset: not 0
        if self.own is not None:
            self.own.start(self._starts)
        self._starts += 1
        # The live data lets a velocity score read feet from the sim (others ignore it).
        self.tracker.start(state if state is not None else self.sim.state(), data=self.sim.data)


__all__ = ['Conclusion', 'EPOCH', 'SimSession']

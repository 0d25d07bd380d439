"""A hand on the pelvis in training: a horizontal force toward the commanded base velocity.

A policy that has learned to stand never moves when told to walk, and its replay then holds
no step that moved: nothing tells its critic what walking is worth. Pulled along at the
command, the robot has to step or fall, and the steps it takes are the data. The force fades
over training (stages lower ``--assist``) until the policy carries itself; evaluation and
deployment never have it. The virtual assistant of Yu, Turk and Liu ("Learning Symmetric
and Low-Energy Locomotion", SIGGRAPH 2018) is the precedent: forces on the pelvis that help
a learner move forward, reduced step by step over its curriculum.

The force is F = m k (v_cmd - v), horizontal, in the world frame, m the robot's mass, k the
gain (``--assist``, 1/s), at most ``MAX_ACCEL`` times m: a spring-free velocity servo on the
base, applied at every physics step of the control period (``xfrc_applied``).
"""

from __future__ import annotations

import math
from typing import Any, Dict, Tuple

import gymnasium as gym
import mujoco
import numpy as np

from .rotations import yaw

MAX_ACCEL = 3.0
"""m/s^2: the largest acceleration the hand gives the whole robot (a third of g): it drags a
standing robot into a step, and cannot carry it through a fall."""


class Assisted(gym.Wrapper):
    """A velocity-task env whose base is pulled toward its commanded velocity (see module)."""

    def __init__(self, env: gym.Env, gain: float) -> None:
        """Pull with gain ``gain`` (1/s) the base of ``env``, a velocity task's env.

        :raises ValueError: ``env`` has no velocity command or no floating base, or a
            negative gain.
        """
        super().__init__(env)
        u = env.unwrapped
        if not hasattr(u, 'command') or not hasattr(u, 'reader'):
            raise ValueError(f'--assist: {u.spec.id if u.spec else u!r} takes no velocity '
                             'command; a task env (velocity:<robot>) does')
        if gain < 0 or not math.isfinite(gain):
            raise ValueError(f'--assist: gain {gain} must be a finite value >= 0')
        self.gain = float(gain)
        model = u.model
        self.body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, u.robot.base_body)
        self.mass = float(model.body_subtreemass[self.body])
        self.dof = u.reader.base_dof
        self.qpos = u.reader.base_qpos
        self.force = np.zeros(2)
        """N, world frame: the force of the last step."""

    def pull(self) -> np.ndarray:
        """Return the force (N, world x and y) toward the command at the state now."""
        u = self.env.unwrapped
        d = u.data
        heading = yaw(d.qpos[self.qpos + 3:self.qpos + 7])
        c, s = math.cos(heading), math.sin(heading)
        vx, vy = float(u.command[0]), float(u.command[1])
        want = np.array([c * vx - s * vy, s * vx + c * vy])
        accel = self.gain * (want - d.qvel[self.dof:self.dof + 2])
        norm = float(np.hypot(*accel))
        if norm > MAX_ACCEL:
            accel *= MAX_ACCEL / norm
        return self.mass * accel

    def step(self, action: np.ndarray) -> Tuple[np.ndarray, float, bool, bool, Dict[str, Any]]:
        """Step with the hand on the base for the control period; say its force in info."""
        d = self.env.unwrapped.data
        self.force = self.pull() if self.gain else np.zeros(2)
        d.xfrc_applied[self.body, :2] = self.force
        try:
            obs, reward, terminated, truncated, info = self.env.step(action)
        finally:
            d.xfrc_applied[self.body, :2] = 0.0
        info['assist_force'] = float(np.hypot(*self.force))
        return obs, reward, terminated, truncated, info


__all__ = ['Assisted', 'MAX_ACCEL']

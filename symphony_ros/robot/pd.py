"""The PD position law of pd_position robots: one pure function for sim, watchdog and driver.

q_target = q_default + action_scale * a;  tau = clip(kp (q_target - q) - kd qd, +-effort).
It is evaluated at every physics step from that step's state (200 Hz for the G1) while the
policy sets q_target once per control period (50 Hz): a PD held over a whole control period
would see a stale error and ring. The simulator runs it in C (`symphony_ros.robot.model`
configures MuJoCo position servos with these numbers; a test holds them equal to 1e-9); this
class is the law for code outside the simulator (the watchdog's torque gate, a driver).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .description import RobotDescription


class PDLaw:
    """Action -> joint targets -> torque for one pd_position robot (arrays in joint order)."""

    def __init__(self, robot: RobotDescription) -> None:
        """Take gains, limits, default pose and action scale from ``robot``.

        :raises ValueError: ``robot`` is not a pd_position robot.
        """
        if robot.action_kind != 'pd_position':
            raise ValueError(f'robot {robot.name!r} has action kind {robot.action_kind!r}; '
                             'the PD law needs pd_position')
        self.kp = np.asarray(robot.kp, dtype=np.float64)
        self.kd = np.asarray(robot.kd, dtype=np.float64)
        self.effort = np.asarray(robot.effort_limits, dtype=np.float64)
        self.default = robot.default_pose()
        self.scale = np.asarray(robot.action_scale, dtype=np.float64)
        self._err = np.empty_like(self.kp)
        self._damp = np.empty_like(self.kp)

    def target(self, action: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
        """Joint position targets (rad) for a policy action: default + scale * a."""
        out = np.multiply(self.scale, action, out=out)
        out += self.default
        return out

    def action(self, q_target: np.ndarray) -> np.ndarray:
        """Return the action that gives joint targets ``q_target`` (inverse of `target`).

        A joint of action scale 0 (held) gives 0.
        """
        scale = np.where(self.scale > 0, self.scale, 1.0)
        return np.where(self.scale > 0, (np.asarray(q_target) - self.default) / scale, 0.0)

    def torque(self, q_target: np.ndarray, q: np.ndarray, qd: np.ndarray,
               out: Optional[np.ndarray] = None) -> np.ndarray:
        """Joint torques (N*m): kp (q_target - q) - kd qd, clipped to the effort limits."""
        err, damp = self._err, self._damp
        np.subtract(q_target, q, out=err)
        err *= self.kp
        np.multiply(self.kd, qd, out=damp)
        out = np.subtract(err, damp, out=out)
        return np.clip(out, -self.effort, self.effort, out=out)


__all__ = ['PDLaw']


TYPICAL_ACTION = 0.4
"""|a| a trained Symphony actor's actions stay within: tanh(S A) with A in (-1, 1) and the
Swaddling term holding the strength S near 1/e (0.76 at most, S = 1)."""


def action_reach_note(robot: RobotDescription, noise_std: float = 0.0,
                      noise_color: float = 0.0) -> str:
    """Return one line on how far from the default pose a Symphony actor can move the joints.

    A pd_position robot's action_scale decides what motion the policy can ask for at all;
    sized for a Gaussian policy's actions of 1-4 it can leave too little to take a step, and
    nothing in training says so. The same scale multiplies the exploration noise
    (``noise_std``, before the actor's tanh; 0: not said), which can fell the robot in
    nearly every training episode. Coloured noise (``noise_color`` beta > 0) has the same
    per-step spread, correlated across steps: it pushes a joint one way for a while.
    """
    driven = np.flatnonzero(np.asarray(robot.action_scale) > 0)
    scale = np.asarray(robot.action_scale)[driven]
    reach = TYPICAL_ACTION * scale
    small, large = driven[int(reach.argmin())], driven[int(reach.argmax())]
    names = robot.joint_names
    line = (f'action reach: a Symphony actor\'s actions stay within about +-{TYPICAL_ACTION}, '
            f'so joint targets within +-{reach.min():.2f} rad ({names[small]}) to '
            f'+-{reach.max():.2f} rad ({names[large]}) of the default pose; action_scale in '
            f'{robot.source} sets it')
    if noise_std > 0.0:
        low, high = noise_std * scale.min(), noise_std * scale.max()
        when = ('every control step' if noise_color <= 0.0 else
                f'with a 1/f^{noise_color:g} spectrum (--act-noise-color): neighbouring '
                'control steps alike')
        line += (f'; exploration noise (std {noise_std:.2f}) moves them by about '
                 f'{low:.2f}-{high:.2f} rad RMS {when} (--act-noise-clip C: std about 1/C)')
    return line

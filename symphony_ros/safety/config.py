"""Watchdog thresholds: one typed dataclass, the single source of the node's ROS parameters.

Fields left empty (``()``) or ``None`` are derived: per-joint facts from the robot description
(``symphony_ros.robot.description``), timeouts from the policy period. :meth:`resolved`
fills them in and validates everything; the node declares its parameters from these fields,
in this order (a field's derived default may depend only on fields above it).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Optional, Tuple

from ..robot.description import SOFT_LIMIT_MARGIN

SAFE_MODES = ('damping', 'zero')
COMMAND_INPUTS = ('effort', 'position')
"""What the policy's command carries: torques (N*m) or joint position targets (rad)."""
OUTPUTS = ('effort', 'position')
"""What the watchdog sends the hardware: torques, or checked targets for a driver's own PD."""
PD_JOINT = ('kp', 'kd', 'max_target_step')
"""Per-joint fields used only with position commands."""
DEFAULT_MAX_TILT = 0.8
"""rad of tilt that is a fall for a robot whose description gives none."""
TARGET_STEP_ACTIONS = 2.0
"""Default max_target_step = this x action_scale: the whole action range [-1, 1] in one
command, so no target a policy can produce is refused; a larger jump is a corrupt message."""
HELD_TARGET_STEP = 0.01
"""rad; default max_target_step of a held joint (action_scale 0), whose target is its default
pose: a bound above zero (the check needs one) that still refuses any real move."""
PER_JOINT = ('effort_limits', 'position_lower', 'position_upper', 'velocity_limits',
             'max_torque_rate', 'damping_kd')
TIMEOUT_PERIODS = 3.0
"""Command and robot-state timeouts default to this many policy periods."""
DAMPING_SECONDS = 0.1
"""Default kd = this x effort limit: damping saturates at 10 rad/s."""


@dataclass(frozen=True)
class WatchdogConfig:
    """Every threshold of the safety watchdog; empty fields are derived (see module doc)."""

    robot: str = 'humanoid'
    """Robot description that fills the empty per-joint fields ('' = none: give them all)."""
    joint_names: Tuple[str, ...] = ()
    """Controller joint order of the hardware command; empty = the robot's actuator order."""
    effort_limits: Tuple[float, ...] = ()
    """N*m per joint, clamp on the output; empty = the robot's gear x ctrlrange."""
    position_lower: Tuple[float, ...] = ()
    """rad per joint, lower joint limit; empty = the robot's joint range."""
    position_upper: Tuple[float, ...] = ()
    """rad per joint, upper joint limit; empty = the robot's joint range."""
    velocity_limits: Tuple[float, ...] = ()
    """rad/s per joint; a joint faster than this is a FAULT; empty = the robot's."""
    policy_period: Optional[float] = None
    """s between policy commands; None = the robot's control_dt."""
    rate_hz: float = 500.0
    """Hz of the steady-clock output timer."""
    command_timeout: Optional[float] = None
    """s without a valid command before FAULT (steady clock); None = 3 policy periods."""
    max_stamp_future: Optional[float] = None
    """s a command stamp may lead this node's ROS clock; None = 1 policy period."""
    state_timeout: Optional[float] = None
    """s without valid joint states or IMU before FAULT; None = 3 policy periods."""
    require_odom: bool = False
    """Need live odometry to arm; if False, height is checked only while odometry is live."""
    max_rejections: int = 3
    """Consecutive rejected commands (NaN/Inf, shape, names, stamp) that make a FAULT."""
    max_saturation_time: float = 0.2
    """s a joint's command may stay beyond its effort limit (clamped) before FAULT."""
    torque_rate_time: Optional[float] = None
    """s the output takes to slew through a joint's whole effort limit; sets the default
    max_torque_rate; None = 1 policy period."""
    max_torque_rate: Tuple[float, ...] = ()
    """N*m/s per joint, output slew limit; empty = effort limit per torque_rate_time."""
    soft_limit_margin: float = SOFT_LIMIT_MARGIN
    """rad inside each joint limit beyond which torque pushing further out is cut; < 0: outside
    it (a simulated robot whose limits are soft constraints it leans on)."""
    max_tilt: Optional[float] = None
    """rad between base z axis and vertical (IMU projected gravity) that is a fall; None =
    the robot's fall max_tilt, else 0.8."""
    min_height: Optional[float] = None
    """m of base height (odometry z) below which is a fall; None = the robot's fall
    min_base_height (1.0 for the humanoid, Humanoid-v4's healthy z; 0.35 for the G1)."""
    ramp_time: float = 0.5
    """s over which the output blends from 0 to the command after arming."""
    safe_mode: str = 'damping'
    """Output in DISARMED and FAULT: 'damping' (tau = -kd*qdot, then zero) or 'zero'."""
    damping_kd: Tuple[float, ...] = ()
    """N*m*s/rad per joint for safe_mode damping; empty = 0.1 s x effort limit."""
    damping_time: float = 2.0
    """s of damping after entering a safe state; zero torque after that."""
    auto_arm: bool = False
    """Arm whenever DISARMED with every input live (simulation); ~/disarm turns it off."""
    estop_required: bool = False
    """Refuse to arm until an e-stop message saying 'released' has arrived."""
    startup_holdoff: float = 1.0
    """s after start-up before arming, so a latched (transient-local) e-stop arrives first."""
    realtime_priority: int = 0
    """SCHED_FIFO priority for the node's threads, 1-99; 0 keeps normal scheduling."""
    reliable_inputs: bool = False
    """Take commands and robot state reliably (keep-last 1) instead of best effort. A lockstep
    sim waits for each command, so a lost sample stalls a tick for its lockstep_timeout and
    steps it on zero torque; on hardware best effort matches any driver and never delivers
    a retransmitted old sample."""
    command_input: str = ''
    """What the policy command carries: 'effort' (N*m) or 'position' (rad joint targets, a
    pd_position policy); '' = the robot's action kind."""
    output: str = 'effort'
    """Hardware output: 'effort' (torque gate: the PD of position commands runs here at
    rate_hz, on joint states a DDS hop old) or 'position' (checked targets and gains for a
    driver that runs the PD on fresh states; what the deploy graph uses for PD robots)."""
    kp: Tuple[float, ...] = ()
    """N*m/rad per joint, PD stiffness for position commands; empty = the robot's."""
    kd: Tuple[float, ...] = ()
    """N*m*s/rad per joint, PD damping for position commands; empty = the robot's."""
    max_target_step: Tuple[float, ...] = ()
    """rad per joint a position target may move from the previous one; a larger jump is
    rejected like a malformed command; empty = 2 x the robot's action_scale."""

    def resolved(self) -> 'WatchdogConfig':
        """Return a copy with every derived field filled in, validated.

        :raises ValueError: naming the field, for any missing or inconsistent value.
        """
        cfg = self.partially_resolved()
        optional = ('robot',) if cfg.command_input == 'position' else ('robot',) + PD_JOINT
        missing = [f.name for f in dataclasses.fields(cfg) if _is_empty(getattr(cfg, f.name))
                   and f.name not in optional]
        if missing:
            raise ValueError(f'watchdog parameters {", ".join(missing)} have no value and '
                             f'robot is {cfg.robot!r}, so they cannot be derived; set them')
        cfg.validate()
        return cfg

    def partially_resolved(self) -> 'WatchdogConfig':
        """Fill what can be derived from the robot and the fields given; no validation."""
        d = dataclasses.asdict(self)
        if self.robot and (not d['command_input'] or any(_is_empty(d[k]) for k in (
                'joint_names', 'policy_period', 'min_height', 'max_tilt') + PER_JOINT[:4]
                + PD_JOINT)):
            from symphony_ros.robot.description import get_robot
            r = get_robot(self.robot)
            if not d['command_input']:
                d['command_input'] = 'position' if r.action_kind == 'pd_position' else 'effort'
            if d['min_height'] is None and r.fall_min_height is not None:
                d['min_height'] = float(r.fall_min_height)
            if d['max_tilt'] is None and r.fall_max_tilt is not None:
                d['max_tilt'] = float(r.fall_max_tilt)
            robot_facts = {
                'joint_names': tuple(r.joint_names),
                'effort_limits': tuple(map(float, r.effort_limits)),
                'position_lower': tuple(map(float, r.position_limits[:, 0])),
                'position_upper': tuple(map(float, r.position_limits[:, 1])),
                'velocity_limits': tuple(map(float, r.velocity_limits)),
                'policy_period': float(r.control_dt)}
            for k, v in robot_facts.items():
                if _is_empty(d[k]):
                    d[k] = v
            if r.action_kind == 'pd_position' and set(d['joint_names']) <= set(r.joint_names):
                # By name: the controller's joint order may differ from the robot file's.
                at = [r.joint_names.index(n) for n in d['joint_names']]
                for k, v in (('kp', r.kp), ('kd', r.kd), ('max_target_step', [
                        TARGET_STEP_ACTIONS * s or HELD_TARGET_STEP for s in r.action_scale])):
                    if _is_empty(d[k]):
                        d[k] = tuple(float(v[i]) for i in at)
        d['max_tilt'] = DEFAULT_MAX_TILT if d['max_tilt'] is None else d['max_tilt']
        d['command_input'] = d['command_input'] or 'effort'
        period = d['policy_period']
        if period is not None:
            for k, periods in (('command_timeout', TIMEOUT_PERIODS), ('state_timeout',
                               TIMEOUT_PERIODS), ('max_stamp_future', 1.0),
                               ('torque_rate_time', 1.0)):
                if d[k] is None:
                    d[k] = periods * period
        slew = d['torque_rate_time']
        if slew is not None and not d['max_torque_rate'] and d['effort_limits']:
            d['max_torque_rate'] = tuple(e / slew for e in d['effort_limits'])
        if not d['damping_kd'] and d['effort_limits']:
            d['damping_kd'] = tuple(DAMPING_SECONDS * e for e in d['effort_limits'])
        return WatchdogConfig(**d)

    def output_note(self) -> Optional[str]:
        """Return a warning for a PD run here on delayed states (effort output of targets).

        A PD needs each physics step's state: on one a physics step old the G1's joints
        pass their velocity limits (``test/sim/test_pd_state_age.py``).
        """
        if self.command_input == 'position' and self.output == 'effort':
            return ("output 'effort': the PD of the position commands runs here at "
                    f'{self.rate_hz:g} Hz on joint states a DDS hop old, which light joints '
                    "do not tolerate (README, Deploying a PD robot); output 'position' "
                    'leaves the PD to a driver that sees each physics step\'s state')
        return None

    def validate(self) -> None:
        """Check a resolved config; raise ValueError naming the first bad field."""
        n = len(self.joint_names)
        if n == 0 or len(set(self.joint_names)) != n:
            raise ValueError(f'joint_names must be {n} distinct names, got {self.joint_names}')
        if self.command_input not in COMMAND_INPUTS:
            raise ValueError(f'command_input must be one of {COMMAND_INPUTS}, got '
                             f'{self.command_input!r}')
        if self.output not in OUTPUTS:
            raise ValueError(f'output must be one of {OUTPUTS}, got {self.output!r}')
        if self.output == 'position' and self.command_input != 'position':
            raise ValueError("output 'position' needs position commands (command_input "
                             f"'position'), got {self.command_input!r}")
        position = self.command_input == 'position'
        for k in PER_JOINT + (PD_JOINT if position else ()):
            v = getattr(self, k)
            if len(v) != n:
                raise ValueError(f'{k} has {len(v)} values; expected {n}, one per joint in '
                                 'joint_names')
            if any(math.isnan(x) for x in v):
                raise ValueError(f'{k} contains NaN')
        for k in ('effort_limits', 'velocity_limits', 'max_torque_rate'):
            if not all(0.0 < x < math.inf for x in getattr(self, k)):
                raise ValueError(f'{k} must be finite and > 0 for every joint: {getattr(self, k)}')
        for k in ('damping_kd',) + (('kp', 'kd') if position else ()):
            if any(x < 0.0 or x == math.inf for x in getattr(self, k)):
                raise ValueError(f'{k} must be finite and >= 0: {getattr(self, k)}')
        if position and not all(0.0 < x < math.inf for x in self.max_target_step):
            raise ValueError(f'max_target_step must be finite and > 0 for every joint: '
                             f'{self.max_target_step}')
        for name, lo, hi in zip(self.joint_names, self.position_lower, self.position_upper):
            if not lo < hi:
                raise ValueError(f'position_lower >= position_upper for joint {name!r}')
        if self.min_height is None or not math.isfinite(self.min_height):
            raise ValueError(f'min_height must be finite, got {self.min_height}')
        for k in ('policy_period', 'rate_hz', 'command_timeout', 'state_timeout', 'max_tilt',
                  'max_saturation_time', 'torque_rate_time'):
            if not 0.0 < getattr(self, k) < math.inf:
                raise ValueError(f'{k} must be finite and > 0, got {getattr(self, k)}')
        if not math.isfinite(self.soft_limit_margin):
            raise ValueError(f'soft_limit_margin must be finite, got {self.soft_limit_margin}')
        for k in ('max_stamp_future', 'ramp_time', 'damping_time', 'startup_holdoff'):
            if not 0.0 <= getattr(self, k) < math.inf:
                raise ValueError(f'{k} must be finite and >= 0, got {getattr(self, k)}')
        if self.max_rejections < 1:
            raise ValueError(f'max_rejections must be >= 1, got {self.max_rejections}')
        if self.safe_mode not in SAFE_MODES:
            raise ValueError(f'safe_mode must be one of {SAFE_MODES}, got {self.safe_mode!r}')
        if not 0 <= self.realtime_priority <= 99:
            raise ValueError(f'realtime_priority must be 0-99, got {self.realtime_priority}')


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, tuple) and not value)

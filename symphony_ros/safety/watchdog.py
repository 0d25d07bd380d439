"""The watchdog state machine: inputs in, one safe torque vector out per tick.

Pure Python with an injected steady clock (seconds, monotonic), so every rule runs under a
fake clock in tests. Not thread-safe: the node serialises every call with one lock.

DISARMED --arm--> RAMP --ramp_time--> ACTIVE; any fault condition while RAMP/ACTIVE, or the
e-stop in any state --> FAULT (latched with its cause) --reset, once the cause cleared-->
DISARMED. Outside RAMP/ACTIVE the output is the safe torque (damping, then zero).

Position commands (a pd_position policy, ``command_input`` 'position'): each target is
checked (finite, named, stamped, no jump beyond ``max_target_step``: rejected like a
malformed command) and clamped into the soft position limits; every tick then runs the PD
law from the newest target and the newest joint state, and that torque goes through every
torque check above. The law is the unclipped kp (q_target - q) - kd qd, so a PD pushing
beyond the effort limit counts as saturation. With ``output`` 'position' the hardware gets
the checked target and gains instead (:meth:`Watchdog.position_output`), for a driver that
runs the PD itself; the safe states then send kp = 0 (damping, then kd = 0 too).
"""

from __future__ import annotations

import time
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from symphony_ros.safety.checks import (
    check_stamp, clamp, damping_torque, first_over, SaturationTimer, slew, soft_limit_cut,
    tilt_from_imu)
from symphony_ros.safety.config import WatchdogConfig
from symphony_ros.safety.errors import Rejected
from symphony_ros.safety.joint_order import JointOrder
from symphony_ros.safety.states import Fault, State

ARMED_CHECKS = tuple(f for f in Fault if f not in (Fault.ESTOP, Fault.INTERNAL))
"""Conditions that fault an armed watchdog (the e-stop is handled in every state)."""
ARM_CHECKS = tuple(f for f in ARMED_CHECKS if f is not Fault.SATURATION)
"""Conditions that refuse an arm request (saturation is only timed while armed)."""


class CommandVerdict(NamedTuple):
    """What became of one command message."""

    accepted: bool
    reason: str
    """Why it was rejected ('' if accepted)."""
    forward: bool
    """True: publish an output now (at most once per timer period) to cut latency."""


class Watchdog:
    """Torque gate between a policy and the hardware; see the module doc for the states."""

    def __init__(self, config: WatchdogConfig, clock: Callable[[], float] = time.monotonic):
        cfg = config.resolved()
        self.config = cfg
        self.order = JointOrder(cfg.joint_names)
        self._clock = clock
        self.limit = np.array(cfg.effort_limits)
        self.rate = np.array(cfg.max_torque_rate)
        self.period = 1.0 / cfg.rate_hz
        self._soft_lower = np.array(cfg.position_lower) + cfg.soft_limit_margin
        self._soft_upper = np.array(cfg.position_upper) - cfg.soft_limit_margin
        self._velocity_limit = np.array(cfg.velocity_limits)
        self._kd = np.array(cfg.damping_kd)
        self._saturation = SaturationTimer(self.limit)
        self._checks: Dict[Fault, Callable[[float], Optional[str]]] = {
            Fault.TILT: self._tilt_check, Fault.HEIGHT: self._height_check,
            Fault.VELOCITY: self._velocity_check,
            Fault.JOINT_STATE_STALE: lambda now: self._stale('joint_states', self._js_rx, now),
            Fault.IMU_STALE: lambda now: self._stale('IMU', self._imu_rx, now),
            Fault.ODOM_STALE: self._odom_check, Fault.COMMAND_STALE: self._command_check,
            Fault.COMMAND_REJECTED: self._rejection_check,
            Fault.SATURATION: self._saturation_check,
            Fault.MULTIPLE_PUBLISHERS: self._publisher_check}
        self._armed_checks = [(code, self._checks[code]) for code in ARMED_CHECKS]
        n = len(self.order)
        now = clock()
        self._started = now
        self._state = State.DISARMED
        self._fault: Optional[Tuple[Fault, str]] = None
        self._safe_since = now
        self._armed_at = now
        self._auto_arm = cfg.auto_arm
        self._output = np.zeros(n)
        self._last_output: Optional[float] = None
        self._forwarded = False
        self._command: Optional[np.ndarray] = None
        self._command_rx: Optional[float] = None
        self._consecutive_rejections = 0
        self._rejections = 0
        self._last_rejection = ''
        self._q = np.zeros(n)
        self._qd = np.zeros(n)
        self._js_rx: Optional[float] = None
        self._tilt = 0.0
        self._imu_rx: Optional[float] = None
        self._height = 0.0
        self._odom_rx: Optional[float] = None
        self._estop: Optional[bool] = None
        self._publishers = 0
        self._shutting_down = False
        self._forwards = 0
        self._position = cfg.command_input == 'position'
        self._kp = np.array(cfg.kp) if self._position else None
        self._pd_kd = np.array(cfg.kd) if self._position else None
        self._max_step = np.array(cfg.max_target_step) if self._position else None
        self._q_target: Optional[np.ndarray] = None
        """Newest checked (clamped) position target."""
        self._q_target_raw: Optional[np.ndarray] = None
        """Newest accepted target as sent, for the jump check."""

    # ----------------------------------------------------------------------------- inputs
    def on_command(self, names: Sequence[str], effort: Sequence[float], stamp: float,
                   ros_now: float) -> CommandVerdict:
        """Take a policy command (JointState names/effort, header stamp, ROS now in s).

        With position commands ``effort`` holds the joint targets (JointState position).
        """
        try:
            if self._position:
                tau = self._take_target(names, effort)
            else:
                tau = self.order.command(names, effort)
            check_stamp(stamp, ros_now, self.config.command_timeout,
                        self.config.max_stamp_future)
            if self._position:
                self._q_target_raw, self._q_target = tau, np.minimum(
                    np.maximum(tau, self._soft_lower), self._soft_upper)
                tau = self._pd_torque()
        except Rejected as exc:
            self._consecutive_rejections += 1
            self._rejections += 1
            self._last_rejection = str(exc)
            return CommandVerdict(False, str(exc), False)
        self._command = tau
        self._command_rx = self._clock()
        self._consecutive_rejections = 0
        forward = self._state.armed and not self._forwarded
        self._forwarded = self._forwarded or forward
        self._forwards += forward
        return CommandVerdict(True, '', forward)

    def _take_target(self, names: Sequence[str], position: Sequence[float]) -> np.ndarray:
        q = self.order.command(names, position, 'position')
        if self._q_target_raw is not None:
            i = first_over(q - self._q_target_raw, self._max_step)
            if i is not None:
                raise Rejected(
                    f'position target of {self.order.names[i]} jumps '
                    f'{q[i] - self._q_target_raw[i]:+.3f} rad from the previous one '
                    f'(max_target_step {self._max_step[i]:g})')
        return q

    def _pd_torque(self) -> np.ndarray:
        """Return the unclipped PD torque of the newest target at the newest joint state."""
        return self._kp * (self._q_target - self._q) - self._pd_kd * self._qd

    def on_joint_state(self, names: Sequence[str], position: Sequence[float],
                       velocity: Sequence[float]) -> str:
        """Take a joint_states message; return '' or why it was rejected."""
        try:
            self._q, self._qd = self.order.state(names, position, velocity)
        except Rejected as exc:
            return str(exc)
        self._js_rx = self._clock()
        return ''

    def on_imu(self, quat_xyzw: Sequence[float], orientation_valid: bool = True) -> str:
        """Take an IMU orientation (ROS x, y, z, w); return '' or why it was rejected."""
        if not orientation_valid:
            return 'IMU reports no orientation (orientation_covariance[0] == -1)'
        try:
            self._tilt = tilt_from_imu(quat_xyzw)
        except Rejected as exc:
            return str(exc)
        self._imu_rx = self._clock()
        return ''

    def on_odom(self, height: float) -> str:
        """Take the base height (m) from odometry; return '' or why it was rejected."""
        if not np.isfinite(height):
            return f'non-finite odometry height {height}'
        self._height = float(height)
        self._odom_rx = self._clock()
        return ''

    def on_estop(self, pressed: bool) -> None:
        """Take the e-stop state; pressed latches a FAULT at the next tick."""
        self._estop = bool(pressed)

    def set_command_publishers(self, count: int) -> None:
        """Set the number of publishers on the command topic (from the ROS graph)."""
        self._publishers = int(count)

    # --------------------------------------------------------------------------- requests
    def arm(self) -> Tuple[bool, str]:
        """~/arm: DISARMED -> RAMP if every input is live and nothing is wrong."""
        now = self._clock()
        if self._state.armed:
            return True, f'already {self._state.value}'
        if self._state is State.FAULT:
            return False, f'refused: {self.state_text}; reset first'
        blockers = self.arm_blockers(now)
        if blockers:
            return False, 'refused: ' + '; '.join(blockers)
        self._auto_arm = self.config.auto_arm
        self._arm(now)
        return True, 'armed: ramping in'

    def disarm(self) -> Tuple[bool, str]:
        """~/disarm: RAMP/ACTIVE -> DISARMED (safe output); also stops auto_arm."""
        self._auto_arm = False
        if self._state is State.FAULT:
            return False, f'{self.state_text}; output already safe, reset to clear'
        if self._state.armed:
            self._enter(State.DISARMED, self._clock())
            return True, 'disarmed'
        return True, 'already DISARMED'

    def reset(self) -> Tuple[bool, str]:
        """~/reset: FAULT -> DISARMED, accepted only once the latched cause has cleared."""
        now = self._clock()
        if self._state is not State.FAULT:
            return False, f'not in FAULT ({self._state.value})'
        if self._estop:
            return False, 'refused: e-stop still pressed'
        code = self._fault[0]
        if code in self._checks:
            detail = self._checks[code](now)
            if detail is None and not self._source_live(code, now):
                detail = 'no live data to show it cleared'
            if detail is not None:
                return False, f'refused: cause persists ({code.value}: {detail})'
        self._enter(State.DISARMED, now)
        return True, 'reset to DISARMED'

    def shutdown(self) -> None:
        """Disarm for good and slew to zero torque (no damping): the node is exiting."""
        self._shutting_down = True
        self._auto_arm = False
        if self._state.armed:
            self._enter(State.DISARMED, self._clock())

    def arm_blockers(self, now: Optional[float] = None) -> List[str]:
        """Every reason an arm request would be refused now ([] = would arm)."""
        now = self._clock() if now is None else now
        blockers = ['shutting down'] if self._shutting_down else []
        if now - self._started < self.config.startup_holdoff:
            blockers.append(f'starting up (startup_holdoff {self.config.startup_holdoff} s)')
        if self._estop:
            blockers.append('e-stop pressed')
        elif self._estop is None and self.config.estop_required:
            blockers.append('no e-stop message yet (estop_required)')
        for code in ARM_CHECKS:
            detail = self._checks[code](now)
            if detail is not None:
                blockers.append(f'{code.value}: {detail}')
        return blockers

    # ------------------------------------------------------------------------------- tick
    def tick(self, timer: bool = True) -> np.ndarray:
        """Run every check and return the torque to send (controller order).

        :param timer: False for the extra output right after a command (see on_command).
        """
        now = self._clock()
        if timer:
            self._forwarded = False
        try:
            if self._position and self._q_target is not None:
                self._command = self._pd_torque()
            self._advance(now)
            target = self._target(now)
            if not np.isfinite(target).all():
                raise FloatingPointError(f'non-finite target {target.tolist()}')
        except Exception as exc:  # a bug must still leave the hardware a safe output
            self._enter_fault(Fault.INTERNAL, f'{type(exc).__name__}: {exc}', now)
            target = np.zeros(len(self.order))
        dt = self.period if self._last_output is None else min(
            max(now - self._last_output, 0.0), self.period)
        self._output = clamp(slew(self._output, target, self.rate * dt), self.limit)
        self._last_output = now
        return self._output.copy()

    def position_output(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(target rad, kp, kd) for a driver that runs the PD (output 'position').

        Call right after :meth:`tick`, whose checks it follows: armed, the checked target with
        kp ramped in over ramp_time; otherwise the measured position with kp = 0 and the
        safe torque's damping kd while it damps (zero gains after).
        """
        now = self._clock()
        if self._state.armed and self._q_target is not None:
            ramp = 1.0
            if self._state is State.RAMP:
                ramp = min(1.0, (now - self._armed_at) / self.config.ramp_time)
            return self._q_target.copy(), self._kp * ramp, self._pd_kd.copy()
        damping = (self.config.safe_mode == 'damping' and not self._shutting_down
                   and now - self._safe_since < self.config.damping_time
                   and self._live(self._js_rx, now, self.config.state_timeout))
        kd = self._kd.copy() if damping else np.zeros(len(self.order))
        return self._q.copy(), np.zeros(len(self.order)), kd

    def _advance(self, now: float) -> None:
        if self._estop:
            if self._fault is None or self._fault[0] is not Fault.ESTOP:
                self._enter_fault(Fault.ESTOP, 'e-stop pressed', now)
            return
        if self._state.armed:
            self._saturation.update(self._command, now)
            for code, check in self._armed_checks:
                detail = check(now)
                if detail is not None:
                    self._enter_fault(code, detail, now)
                    return
            if self._state is State.RAMP and now - self._armed_at >= self.config.ramp_time:
                self._state = State.ACTIVE
        elif self._state is State.DISARMED and self._auto_arm and not self.arm_blockers(now):
            self._arm(now)

    def _target(self, now: float) -> np.ndarray:
        if self._state.armed:
            tau = soft_limit_cut(clamp(self._command, self.limit), self._q,
                                 self._soft_lower, self._soft_upper)
            if self._state is State.RAMP:
                tau = tau * min(1.0, (now - self._armed_at) / self.config.ramp_time)
            return tau
        if (self.config.safe_mode == 'damping' and not self._shutting_down
                and now - self._safe_since < self.config.damping_time
                and self._live(self._js_rx, now, self.config.state_timeout)):
            return damping_torque(self._qd, self._kd, self.limit)
        return np.zeros(len(self.order))

    # ------------------------------------------------------------------------ transitions
    def _arm(self, now: float) -> None:
        self._state = State.RAMP if self.config.ramp_time > 0 else State.ACTIVE
        self._armed_at = now
        self._saturation.reset()

    def _enter(self, state: State, now: float) -> None:
        if self._state.armed:
            self._safe_since = now
        self._state = state
        self._fault = None
        self._saturation.reset()

    def _enter_fault(self, code: Fault, detail: str, now: float) -> None:
        self._enter(State.FAULT, now)
        self._fault = (code, detail)

    # ----------------------------------------------------------------------------- checks
    @staticmethod
    def _live(rx: Optional[float], now: float, timeout: float) -> bool:
        return rx is not None and now - rx <= timeout

    def _stale(self, what: str, rx: Optional[float], now: float,
               timeout: Optional[float] = None) -> Optional[str]:
        timeout = self.config.state_timeout if timeout is None else timeout
        if rx is None:
            return f'no valid {what} yet'
        if now - rx > timeout:
            return (f'last valid {what} {(now - rx) * 1e3:.0f} ms ago '
                    f'(timeout {timeout * 1e3:.0f} ms)')
        return None

    def _source_live(self, code: Fault, now: float) -> bool:
        rx = {Fault.TILT: self._imu_rx, Fault.VELOCITY: self._js_rx,
              Fault.HEIGHT: self._odom_rx}.get(code, now)
        return self._live(rx, now, self.config.state_timeout)

    def _command_check(self, now: float) -> Optional[str]:
        return self._stale('command', self._command_rx, now, self.config.command_timeout)

    def _rejection_check(self, now: float) -> Optional[str]:
        if self._consecutive_rejections >= self.config.max_rejections:
            return (f'{self._consecutive_rejections} consecutive commands rejected, last: '
                    f'{self._last_rejection}')
        return None

    def _odom_check(self, now: float) -> Optional[str]:
        return self._stale('odometry', self._odom_rx, now) if self.config.require_odom else None

    def _tilt_check(self, now: float) -> Optional[str]:
        if self._live(self._imu_rx, now, self.config.state_timeout) and (
                self._tilt > self.config.max_tilt):
            return f'base tilt {self._tilt:.2f} rad beyond max_tilt {self.config.max_tilt}'
        return None

    def _height_check(self, now: float) -> Optional[str]:
        if self._live(self._odom_rx, now, self.config.state_timeout) and (
                self._height < self.config.min_height):
            return f'base height {self._height:.2f} m below min_height {self.config.min_height}'
        return None

    def _velocity_check(self, now: float) -> Optional[str]:
        if not self._live(self._js_rx, now, self.config.state_timeout):
            return None
        i = first_over(self._qd, self._velocity_limit)
        if i is None:
            return None
        return (f'{self.order.names[i]} at {self._qd[i]:.1f} rad/s beyond '
                f'{self._velocity_limit[i]:.1f}')

    def _saturation_check(self, now: float) -> Optional[str]:
        if not self._state.armed:  # at reset: is the latest command still beyond the limits?
            i = None if self._command is None else first_over(self._command, self.limit)
            return None if i is None else f'{self.order.names[i]} command beyond its limit'
        i, run = self._saturation.longest(now)
        if i is not None and run > self.config.max_saturation_time:
            return (f'{self.order.names[i]} saturated for {run * 1e3:.0f} ms '
                    f'(max {self.config.max_saturation_time * 1e3:.0f} ms)')
        return None

    def _publisher_check(self, now: float) -> Optional[str]:
        if self._publishers > 1:
            return f'{self._publishers} publishers on the command topic'
        return None

    # ----------------------------------------------------------------------------- status
    @property
    def state(self) -> State:
        """Current state."""
        return self._state

    @property
    def fault(self) -> Optional[Tuple[Fault, str]]:
        """Latched (cause, detail) while in FAULT, else None."""
        return self._fault

    @property
    def output(self) -> np.ndarray:
        """Last output returned by :meth:`tick`."""
        return self._output.copy()

    @property
    def state_text(self) -> str:
        """'STATE' or 'FAULT cause: detail' (what /symphony/watchdog/state carries)."""
        if self._fault is None:
            return self._state.value
        return f'FAULT {self._fault[0].value}: {self._fault[1]}'

    def status(self) -> Dict[str, str]:
        """Key figures for /diagnostics."""
        now = self._clock()

        def age(rx: Optional[float]) -> str:
            return 'never' if rx is None else f'{(now - rx) * 1e3:.1f} ms'
        return {'state': self.state_text, 'command_age': age(self._command_rx),
                'joint_states_age': age(self._js_rx), 'imu_age': age(self._imu_rx),
                'odom_age': age(self._odom_rx), 'tilt_rad': f'{self._tilt:.3f}',
                'estop': {None: 'no message', True: 'pressed', False: 'released'}[self._estop],
                'command_publishers': str(self._publishers),
                'rejected_total': str(self._rejections),
                'forwarded_total': str(self._forwards),
                'rejected_consecutive': str(self._consecutive_rejections),
                'last_rejection': self._last_rejection, 'auto_arm': str(self._auto_arm),
                'arm_blockers': '; '.join(self.arm_blockers(now)) if not self._state.armed
                else ''}

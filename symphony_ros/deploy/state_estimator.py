"""The rules behind state_estimator_node: joint_states and IMU in, one odometry per state out.

The node feeds every joint_states and IMU message in here and publishes each estimate that
comes back as nav_msgs/Odometry; the filter itself is
:class:`symphony_ros.robot.leg_odometry.LegOdometry`. No rclpy, so the rules are tested
without DDS:

* nothing comes out until the first IMU message (the estimate needs its orientation); the
  joint states before it are dropped and counted;
* each joint_states message gives one estimate, stamped with its stamp (so a policy that
  acts on each state finds odometry stamped like its joint states), in the order they came;
* when one source stamps both inputs alike (the sim), each joint state is paired with the
  IMU of its own stamp, since DDS orders messages within a topic but not across topics: one
  that arrives after later IMUs finds its own among the last `IMU_HISTORY`, and one that
  arrives before its IMU waits for it, until an IMU at or past its stamp comes or `HOLD`
  later joint states have (then the newest IMU stands in);
* separate drivers, whose stamps differ, never wait: each joint state takes the newest IMU;
* a stamp earlier than the last one (a restarted sim, a bag played again) starts the filter
  over, and so does a joint state whose positions jump from the last by more than its
  velocities allow (`StateEstimatorConfig.teleport`): a sim's episode reset, which puts the
  robot back on its feet between two stamps.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Deque, Dict, List, Optional, Tuple

from ..core.config import odometry_of
from ..graph.topics import STATE_ESTIMATOR_ODOM
from ..robot.description import RobotDescription
from ..robot.leg_odometry import LegOdometry, LegOdometryConfig
from ..robot.msg_fields import imu_fields, joint_state_fields, stamp_ns
from ..robot.state import JointStateMapper, RobotState, joint_jump
from ..util.fields import check_ranges, ranged

Estimate = Tuple[Any, RobotState]
"""(the joint_states' header stamp, as it came; the state with its base fields filled)."""
IMU_HISTORY = 64
"""IMU messages kept by stamp for joint states that arrive late (1.3 s of the G1's)."""
HOLD = 4
"""Joint states at most waiting for their IMUs: past it the oldest takes the newest IMU."""
_Held = Tuple[Any, int, Dict[str, Any]]


@dataclass(frozen=True)
class StateEstimatorConfig:
    """Which robot's legs the estimator reads, and how its node is scheduled.

    The filter's noise figures are `LegOdometryConfig`'s fields, declared beside these.
    """

    robot: str = 'humanoid'
    """Robot description whose joints and feet (the robot file's feet:) the estimator reads;
    a robot without feet is refused."""
    realtime_priority: int = ranged(0, 0, 99)
    """SCHED_FIFO priority of the node's threads; 0 = normal scheduling. Needs root or
    CAP_SYS_NICE (the deploy graph gives it policy_node's realtime_priority:=)."""
    teleport: float = ranged(0.5, 0)
    """rad: a joint this far from where its last position and velocity put it starts the
    filter over: it was moved, not driven (a sim's episode reset: 0.69-1.19 rad over 20
    fallen G1s; driving it would take 2,500 rad/s^2 over 20 ms). 0 = never."""

    def __post_init__(self) -> None:
        """Reject values the node cannot run with, naming the parameter."""
        check_ranges(self)


class StateEstimator:
    """Pair joint_states with the IMU and run each state through the leg odometry."""

    def __init__(self, robot: RobotDescription, config: Optional[LegOdometryConfig] = None,
                 teleport: float = StateEstimatorConfig.teleport) -> None:
        """Build the filter for ``robot``; ``teleport``: `StateEstimatorConfig.teleport`.

        :raises ValueError: a robot without feet or a bad ``config``, naming it.
        """
        self.odometry = LegOdometry(robot, config)
        self.mapper = JointStateMapper(robot, ignore_unknown=True)
        self.dropped = 0
        """joint_states messages dropped because no IMU message had come yet."""
        self.estimates = 0
        """Estimates returned."""
        self.restarts = 0
        """Times the filter started over (a stamp earlier than the last, or a teleport)."""
        self.stand_ins = 0
        """Joint states of one source estimated with another stamp's IMU (theirs late or
        lost)."""
        self._imus: "OrderedDict[int, Dict[str, Any]]" = OrderedDict()
        """IMU fields by stamp (ns), newest last."""
        self._shared = False
        """An IMU stamp has equalled a joint_states stamp: one source stamps both alike."""
        self._held: Deque[_Held] = deque()
        """Joint states (stamp, ns, joint arrays) waiting for the IMUs of their stamps."""
        self._epoch: Optional[int] = None
        self._last_ns: Optional[int] = None
        self._last_joints: Optional[Dict[str, Any]] = None
        self._teleport = teleport

    @property
    def has_imu(self) -> bool:
        """Tell whether an IMU message has come (before it, nothing is estimated)."""
        return bool(self._imus)

    def diagnostics(self) -> Tuple[bool, str, Dict[str, Any]]:
        """Return (healthy, message, figures since the start) for the node's /diagnostics.

        Unhealthy while nothing can be estimated: no IMU yet, or no joint state yet.
        """
        figures = {'estimates': self.estimates, 'dropped_before_imu': self.dropped,
                   'restarts': self.restarts, 'waiting_for_imu': len(self._held),
                   'imu_stand_ins': self.stand_ins,
                   'stamps': 'one source' if self._shared else 'separate clocks'}
        if not self._imus:
            return False, 'waiting for the IMU', figures
        if not self.estimates:
            return False, 'waiting for joint_states', figures
        return True, 'estimating', figures

    @property
    def _newest_ns(self) -> int:
        return next(reversed(self._imus))

    def imu(self, msg: Any) -> List[Estimate]:
        """Take a sensor_msgs/Imu; return the estimates of joint states that waited for it.

        An IMU whose ``linear_acceleration_covariance[0]`` is -1 (no accelerometer, by the
        message's convention) leaves the filter to the legs alone.

        :raises ValueError: no orientation (``orientation_covariance[0]`` -1), or a field
            with the wrong size or non-finite values; the message is then ignored.
        """
        if msg.orientation_covariance[0] == -1.0:
            raise ValueError('imu: no orientation (orientation_covariance[0] is -1); the leg '
                             'odometry needs the IMU\'s orientation')
        fields = imu_fields(msg, with_acceleration=msg.linear_acceleration_covariance[0]
                            != -1.0)
        ns = stamp_ns(msg.header)
        if self._imus and ns < self._newest_ns:
            self._imus.clear()          # its source started over: old stamps mean nothing
        self._imus[ns] = fields     # still newest last: an earlier stamp cleared the rest
        if len(self._imus) > IMU_HISTORY:
            self._imus.popitem(last=False)
        out = []
        while self._held and self._held[0][1] <= ns:   # past its stamp: its own never comes
            out.append(self._estimate(*self._held.popleft()))
        return out

    def joint_states(self, msg: Any) -> List[Estimate]:
        """Take a sensor_msgs/JointState; return the estimates now due (none or more).

        :raises ValueError: naming missing joints or a bad field; the message is then ignored.
        """
        joints = joint_state_fields(self.mapper, msg)
        ns = stamp_ns(msg.header)
        if not self._imus:
            self.dropped += 1
            return []
        if ns in self._imus:
            self._shared = True
        out = []
        if self._shared and ns > self._newest_ns:
            self._held.append((msg.header.stamp, ns, joints))
            while len(self._held) > HOLD:
                out.append(self._estimate(*self._held.popleft()))
            return out
        while self._held:       # later than this one's stamp: its source started over
            out.append(self._estimate(*self._held.popleft()))
        return out + [self._estimate(msg.header.stamp, ns, joints)]

    def _estimate(self, stamp: Any, ns: int, joints: Dict[str, Any]) -> Estimate:
        """Estimate one joint state with the IMU of its stamp, else the newest."""
        imu = self._imus.get(ns)
        if imu is None:
            imu = self._imus[self._newest_ns]
            self.stand_ins += self._shared
        if self._last_ns is not None and (ns < self._last_ns or self._teleported(joints, ns)):
            self.odometry.reset()
            self.restarts += 1
            self._epoch = None
        if self._epoch is None:
            self._epoch = ns          # seconds since it, exact in a float for years
        self._last_ns, self._last_joints = ns, joints
        state = RobotState(stamp=(ns - self._epoch) * 1e-9, **joints).with_imu(imu)
        self.estimates += 1
        return stamp, self.odometry.update(state)

    def _teleported(self, joints: Dict[str, Any], ns: int) -> bool:
        last = self._last_joints
        return self._teleport > 0 and joint_jump(
            last['joint_positions'], last['joint_velocities'], joints['joint_positions'],
            (ns - self._last_ns) * 1e-9) > self._teleport


def odometry_mismatch(train_config: Optional[Dict[str, Any]], odom_topic: Optional[str]
                      ) -> Optional[str]:
    """Say when a policy trained on leg odometry reads odometry from elsewhere (None: fine).

    The estimate lags and errs where the simulator's (or a motion-capture system's) does
    not; a policy that learnt on one meets other inputs on the other. ``odom_topic``: the
    resolved topic the policy reads (None: it reads no odometry).
    """
    if odom_topic is None or odometry_of(train_config) != 'legs':
        return None
    if odom_topic.rstrip('/').endswith('/' + STATE_ESTIMATOR_ODOM):
        return None
    return (f'the policy trained on leg odometry (symphony train --odometry legs) and reads '
            f'odometry from {odom_topic}: deploy it with estimator:=legs, which remaps it onto '
            f'{STATE_ESTIMATOR_ODOM}, unless {odom_topic} is that estimate')


__all__ = ['Estimate', 'StateEstimator', 'StateEstimatorConfig', 'odometry_mismatch']

"""The rules behind state_estimator_node: joint_states and IMU in, one odometry per state out.

The node feeds every joint_states and IMU message in here and publishes each estimate that
comes back as nav_msgs/Odometry; the filter itself is
:class:`symphony_ros.robot.leg_odometry.LegOdometry`. No rclpy, so the rules are tested
without DDS:

* nothing comes out until the first IMU message (the estimate needs its orientation); the
  joint states before it are dropped and counted;
* each joint_states message gives one estimate, stamped with its stamp (so a policy that
  acts on each state finds odometry stamped like its joint states), from the newest IMU;
* when one source stamps both inputs alike (the sim), a joint_states that arrives before
  its IMU waits for it, since DDS does not order messages across topics, but never past the
  next joint_states: separate drivers, whose stamps differ, never wait;
* a stamp earlier than the last one (a restarted sim, a bag played again) starts the filter
  over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from ..core.config import odometry_of
from ..graph.topics import STATE_ESTIMATOR_ODOM
from ..robot.description import RobotDescription
from ..robot.leg_odometry import LegOdometry, LegOdometryConfig
from ..robot.msg_fields import imu_fields, joint_state_fields, stamp_ns
from ..robot.state import JointStateMapper, RobotState
from ..util.fields import check_ranges, ranged

Estimate = Tuple[Any, RobotState]
"""(the joint_states' header stamp, as it came; the state with its base fields filled)."""


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

    def __post_init__(self) -> None:
        """Reject values the node cannot run with, naming the parameter."""
        check_ranges(self)


class StateEstimator:
    """Pair joint_states with the IMU and run each state through the leg odometry."""

    def __init__(self, robot: RobotDescription,
                 config: Optional[LegOdometryConfig] = None) -> None:
        """Build the filter for ``robot``.

        :raises ValueError: a robot without feet or a bad ``config``, naming it.
        """
        self.odometry = LegOdometry(robot, config)
        self.mapper = JointStateMapper(robot, ignore_unknown=True)
        self.dropped = 0
        """joint_states messages dropped because no IMU message had come yet."""
        self.estimates = 0
        """Estimates returned."""
        self.restarts = 0
        """Times the filter started over on a stamp earlier than the last."""
        self._imu: Optional[Dict[str, Any]] = None
        self._imu_ns: Optional[int] = None
        self._shared = False
        """An IMU stamp has equalled a joint_states stamp: one source stamps both alike."""
        self._held: Optional[Tuple[Any, int, Dict[str, Any]]] = None
        """A joint_states (stamp, ns, joint arrays) waiting for the IMU of its stamp."""
        self._epoch: Optional[int] = None
        self._last_ns: Optional[int] = None

    @property
    def has_imu(self) -> bool:
        """Tell whether an IMU message has come (before it, nothing is estimated)."""
        return self._imu is not None

    def imu(self, msg: Any) -> List[Estimate]:
        """Take a sensor_msgs/Imu; return the estimate of a joint state that waited for it.

        An IMU whose ``linear_acceleration_covariance[0]`` is -1 (no accelerometer, by the
        message's convention) leaves the filter to the legs alone.

        :raises ValueError: no orientation (``orientation_covariance[0]`` -1), or a field
            with the wrong size or non-finite values; the message is then ignored.
        """
        if msg.orientation_covariance[0] == -1.0:
            raise ValueError('imu: no orientation (orientation_covariance[0] is -1); the leg '
                             'odometry needs the IMU\'s orientation')
        self._imu = imu_fields(msg, with_acceleration=msg.linear_acceleration_covariance[0]
                               != -1.0)
        self._imu_ns = stamp_ns(msg.header)
        held = self._held
        if held is not None and self._imu_ns >= held[1]:
            self._held = None
            if self._imu_ns == held[1]:
                self._shared = True
            return [self._estimate(*held)]
        return []

    def joint_states(self, msg: Any) -> List[Estimate]:
        """Take a sensor_msgs/JointState; return the estimates now due (none, one or two).

        A joint state still waiting for its IMU is estimated from the newest IMU first.

        :raises ValueError: naming missing joints or a bad field; the message is then ignored.
        """
        joints = joint_state_fields(self.mapper, msg)
        ns = stamp_ns(msg.header)
        out = []
        if self._held is not None:      # its IMU never came: the newest stands in
            out.append(self._estimate(*self._held))
            self._held = None
        if self._imu is None:
            self.dropped += 1
            return out
        if self._imu_ns == ns:
            self._shared = True
        elif self._shared and self._imu_ns < ns:
            self._held = (msg.header.stamp, ns, joints)
            return out
        out.append(self._estimate(msg.header.stamp, ns, joints))
        return out

    def _estimate(self, stamp: Any, ns: int, joints: Dict[str, Any]) -> Estimate:
        if self._last_ns is not None and ns < self._last_ns:
            self.odometry.reset()
            self.restarts += 1
            self._epoch = None
        if self._epoch is None:
            self._epoch = ns          # seconds since it, exact in a float for years
        self._last_ns = ns
        state = RobotState(stamp=(ns - self._epoch) * 1e-9, **joints).with_imu(self._imu)
        self.estimates += 1
        return stamp, self.odometry.update(state)


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

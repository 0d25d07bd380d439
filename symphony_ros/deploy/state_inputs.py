"""The robot's state from its separately published inputs, and when to act on it.

policy_node feeds every joint_states, IMU and odometry message in here and asks for the
assembled :class:`RobotState`; no rclpy, so the rules are tested without DDS.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from ..robot.description import RobotDescription
from ..robot.msg_fields import imu_fields, joint_state_fields, odometry_fields, stamp_ns
from ..robot.state import JointStateMapper, RobotState

INPUTS = ('joint_states', 'imu', 'odom')
"""Every input a policy may need, by the name observation specs use (``spec.needs``)."""


class StateInputs:
    """Latest message of each input, turned into one `RobotState` in the robot's joint order.

    With ``on_state``, a state is due once per joint_states message, when every other
    input the policy needs carries that message's stamp: one source stamps the inputs of a
    state alike, but DDS does not order messages across topics, so any of them may come last.
    """

    def __init__(self, robot: RobotDescription, needs: Sequence[str], on_state: bool) -> None:
        self.mapper = JointStateMapper(robot, ignore_unknown=True)
        self.needs = tuple(needs)
        self.matched = tuple(k for k in ('odom', 'imu') if k in self.needs)
        """Inputs whose stamp must match joint_states' before acting on a state."""
        self.on_state = on_state
        self.latest: Dict[str, Optional[dict]] = {k: None for k in INPUTS}
        self.stamp: Any = None
        """Header stamp of the latest joint_states (the state acted on carries it)."""
        self.stamp_ns: Optional[int] = None
        """The same stamp in integer ns."""
        self.received = 0
        """joint_states messages received."""
        self._stamps: Dict[str, int] = {}
        self._acted_on = 0

    def joint_states(self, msg: Any) -> bool:
        """Take a sensor_msgs/JointState; return whether a state is now due (``on_state``)."""
        self.latest['joint_states'] = joint_state_fields(self.mapper, msg)
        self.stamp = msg.header.stamp
        self.stamp_ns = stamp_ns(msg.header)
        self.received += 1
        return self._arrived('joint_states', msg.header)

    def imu(self, msg: Any) -> bool:
        """Take a sensor_msgs/Imu (orientation, gyro); return whether a state is now due."""
        self.latest['imu'] = imu_fields(msg, with_acceleration=False)
        return self._arrived('imu', msg.header)

    def odom(self, msg: Any) -> bool:
        """Take a nav_msgs/Odometry; return whether a state is now due."""
        self.latest['odom'] = odometry_fields(msg)
        return self._arrived('odom', msg.header)

    def _arrived(self, key: str, header: Any) -> bool:
        if not self.on_state:
            return False
        self._stamps[key] = stamp_ns(header)
        js = self._stamps.get('joint_states')
        if js is None or self.received == self._acted_on or any(
                self._stamps.get(k) != js for k in self.matched):
            return False
        self._acted_on = self.received
        return True

    def state(self) -> Optional[RobotState]:
        """Return the assembled state, or None while an input the policy needs is missing.

        Inputs the policy does not need are included when present, as the robot measured them.
        """
        joints = self.latest['joint_states']
        if joints is None or self.missing():
            return None
        state = RobotState(stamp=0.0, joint_positions=joints['joint_positions'],
                           joint_velocities=joints['joint_velocities'],
                           joint_efforts=joints.get('joint_efforts'))
        if self.latest['odom'] is not None:
            state = state.with_odometry(self.latest['odom'])
        if self.latest['imu'] is not None:
            state = state.with_imu(self.latest['imu'])
        return state

    def missing(self) -> List[str]:
        """Return the needed inputs (joint_states always) that have sent nothing yet."""
        return [k for k in INPUTS if self.latest[k] is None
                and (k == 'joint_states' or k in self.matched)]


class OncePerState:
    """The policy's memory before each stamped state, so a state sent again is acted on anew.

    A lockstep sim republishes a held state with its stamp (on the gantry, while the
    watchdog arms). Acting on each copy from the memory the last copy left (previous
    action, gait clock) would start the episode from wherever the number of copies the
    arming took had carried it; acting on a copy from the memory the state first found
    moves it once per state, as in process, and still takes in a velocity command that
    came after the first copy.
    """

    def __init__(self) -> None:
        self._stamp: Optional[int] = None
        self._memory: Any = None

    def memory(self, stamp: int, current: Any) -> Any:
        """Return the memory to act on the state stamped ``stamp`` (ns) from.

        :param current: the policy's memory now; kept and returned for a new stamp.
        """
        if stamp != self._stamp:
            self._stamp, self._memory = stamp, current
        return self._memory

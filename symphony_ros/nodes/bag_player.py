"""The player behind ``symphony replay``: a bag's sensor topics, republished on their timing.

Messages go out in receive-time order, spaced as they were recorded (divided by ``rate``),
with the QoS their publishers offered (latched stays latched). Header stamps are rewritten
to the time of publishing by default, keeping messages that shared a stamp (one tick's
odom, IMU and joint_states) on one stamp, so a live policy and watchdog accept them as
fresh; ``restamp=False`` sends the recorded bytes untouched. A replay loses nothing to a
reliable subscriber that falls behind for a while: each publisher keeps :data:`HISTORY`
messages for it, and the player waits for them to be acknowledged before it ends.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import rclpy
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message
from rclpy.signals import SignalHandlerOptions
from rosbags.interfaces import QosDurability, QosReliability

from ..bag.reader import Bag
from ..bag.topics import absolute
from ..util.stop_flag import StopFlag
from .acks import wait_for_acks
from .bag_recorder import message_class
from .signals import keep_signals


HISTORY = 1000
"""Messages each publisher keeps for a slow reliable subscriber: seconds of a robot's state
(a loaded machine's subscriber lagging a burst must not lose them)."""

ACK_WAIT_S = 5.0
"""How long the player waits at the end, for all topics together, for reliable subscribers to
acknowledge."""


def publisher_qos(bag: Bag, topic: str) -> QoSProfile:
    """Reliable unless recorded best effort; transient-local when all publishers were."""
    offered = bag.topics[topic].qos
    latched = bool(offered) and all(q.durability == QosDurability.TRANSIENT_LOCAL
                                    for q in offered)
    best_effort = bool(offered) and all(q.reliability == QosReliability.BEST_EFFORT
                                        for q in offered)
    return QoSProfile(depth=HISTORY,
                      reliability=(ReliabilityPolicy.BEST_EFFORT if best_effort
                                   else ReliabilityPolicy.RELIABLE),
                      durability=(DurabilityPolicy.TRANSIENT_LOCAL if latched
                                  else DurabilityPolicy.VOLATILE))


class _Restamper:
    """Maps each recorded stamp to one fresh stamp (the first time it is seen)."""

    def __init__(self, clock) -> None:
        self.clock = clock
        self._last: Dict[tuple, Any] = {}

    def __call__(self, msg: Any) -> Any:
        if not hasattr(msg, 'header'):
            return msg
        key = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        if key != (0, 0):
            fresh = self._last.get(key)
            if fresh is None:
                fresh = self.clock.now().to_msg()
                # A tick's messages arrive together: a few stamps of memory suffice.
                if len(self._last) > 64:
                    self._last.clear()
                self._last[key] = fresh
            msg.header.stamp = fresh
        return msg


def play(bag: Bag, topics: Sequence[str], rate: float = 1.0, restamp: bool = True,
         start_delay: float = 1.0, log: Callable[[str], None] = print) -> int:
    """Publish ``topics`` of ``bag`` with their recorded spacing; return messages sent.

    Starts once every topic has a subscriber, or after ``start_delay`` s. Stops early on
    SIGINT/SIGTERM.
    """
    topics = [absolute(t) for t in topics]
    messages = bag.raw_messages(topics)
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    stop = StopFlag()
    node: Optional[Node] = None
    sent = 0

    keep_signals(lambda _: stop.set())
    try:
        node = Node('symphony_player')
        classes = {t: message_class(bag.topics[t].msgtype) for t in topics}
        pubs = {t: node.create_publisher(classes[t], t, publisher_qos(bag, t)) for t in topics}
        stamp = _Restamper(node.get_clock())
        if not messages:
            return 0
        span = (messages[-1][1] - messages[0][1]) * 1e-9
        log(f'[replay] {len(messages)} messages on {", ".join(topics)}, {span:.1f} s recorded'
            f', rate {rate:g}')
        # Messages sent before a subscriber has matched are lost to it: wait until every
        # topic has one, or start_delay s (there may be none: ros2 bag play has --delay).
        deadline = time.monotonic() + start_delay
        while (time.monotonic() < deadline and not stop.is_set()
               and not all(p.get_subscription_count() for p in pubs.values())):
            time.sleep(0.02)
        t0, log0 = time.monotonic(), messages[0][1]
        for topic, log_ns, data in messages:
            if stop.is_set():
                break
            wait = t0 + (log_ns - log0) * 1e-9 / rate - time.monotonic()
            if wait > 0 and stop.wait(wait):
                break
            if restamp:
                pubs[topic].publish(stamp(deserialize_message(data, classes[topic])))
            else:
                pubs[topic].publish(data)
            sent += 1
        if not stop.is_set():
            wait_for_acks(pubs.values(), ACK_WAIT_S)
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    log(f'[replay] sent {sent} of {len(messages)} messages')
    return sent


def sensor_topics(bag: Bag, names: Dict[str, str]) -> List[str]:
    """Return the recorded sensor topics of ``bag``: joint states, IMU, odometry."""
    return [names[r] for r in ('joint_states', 'imu', 'odom') if names[r] in bag.topics]

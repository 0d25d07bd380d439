"""The recorder behind ``symphony record``: raw (serialized) subscriptions into a BagWriter.

Each requested topic is subscribed once a publisher of it exists, with the publishers' QoS
(reliable unless one of them is best effort; transient-local when all are, so a latched
watchdog state published before the recorder started is still recorded), and messages go
to the bag as the middleware delivered them, CDR bytes with their receive time: nothing is
deserialized. A timer flushes the bag every ``flush_period`` seconds, and SIGINT or SIGTERM
closes it cleanly; after SIGKILL it is readable up to the last flush.
"""

from __future__ import annotations

import importlib
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from rclpy.subscription import Subscription
from rosbags.interfaces import (Qos, QosDurability, QosHistory, QosLiveliness,
                                QosReliability, QosTime)

from ..bag.topics import RECORDER_NODE, absolute
from ..bag.writer import BagWriteError, BagWriter
from ..util.stop_flag import StopFlag
from .signals import SPIN_TIMEOUT, keep_signals, stop_on_signals

DEPTH = 1000
"""Subscription queue: deep, so a slow disk or a busy core delays messages, not drops."""
DISCOVERY_PERIOD = 0.25
"""s between looks for publishers of topics not yet subscribed."""


def message_class(msgtype: str) -> Any:
    """Import and return the Python class of ``msgtype`` ('pkg/msg/Name').

    :raises ImportError: the message package is not installed.
    """
    pkg, kind, name = msgtype.split('/')
    return getattr(importlib.import_module(f'{pkg}.{kind}'), name)


def _qos_time(duration: Any) -> QosTime:
    ns = int(getattr(duration, 'nanoseconds', 0))
    return QosTime(ns // 1_000_000_000, ns % 1_000_000_000)


def offered_qos(profile: QoSProfile) -> Qos:
    """Convert a publisher's QoS to rosbags' (rclpy and rmw share the enum values)."""
    return Qos(QosHistory(int(profile.history)), int(profile.depth),
               QosReliability(int(profile.reliability)),
               QosDurability(int(profile.durability)), _qos_time(profile.deadline),
               _qos_time(profile.lifespan), QosLiveliness(int(profile.liveliness)),
               _qos_time(profile.liveliness_lease_duration),
               bool(profile.avoid_ros_namespace_conventions))


def subscription_qos(publishers: Sequence[QoSProfile]) -> QoSProfile:
    """Return a QoS matching every publisher and keeping what they offer (as ros2 bag)."""
    reliable = all(p.reliability == ReliabilityPolicy.RELIABLE for p in publishers)
    latched = all(p.durability == DurabilityPolicy.TRANSIENT_LOCAL for p in publishers)
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=DEPTH,
                      reliability=(ReliabilityPolicy.RELIABLE if reliable
                                   else ReliabilityPolicy.BEST_EFFORT),
                      durability=(DurabilityPolicy.TRANSIENT_LOCAL if latched
                                  else DurabilityPolicy.VOLATILE))


class BagRecorder(Node):
    """Subscribes the requested topics as their publishers appear and writes the bag."""

    def __init__(self, writer: BagWriter, topics: Sequence[str], flush_period: float,
                 log: Callable[[str], None] = print) -> None:
        super().__init__(RECORDER_NODE)
        self.writer = writer
        self.wanted: List[str] = list(dict.fromkeys(absolute(t) for t in topics))
        self.subscribed: Dict[str, Any] = {}
        self.refused: Dict[str, str] = {}
        self._log = log
        self.create_timer(DISCOVERY_PERIOD, self.discover)
        self.create_timer(flush_period, writer.flush)
        self.discover()

    def discover(self) -> None:
        """Subscribe every wanted topic that now has a publisher."""
        todo = [t for t in self.wanted if t not in self.subscribed and t not in self.refused]
        if not todo:
            return
        types = dict(self.get_topic_names_and_types())
        for topic in todo:
            if topic not in types:
                continue
            pubs = self.get_publishers_info_by_topic(topic)
            if not pubs:
                continue    # only subscribers so far: wait for a publisher's QoS
            msgtype = types[topic][0]
            if len(types[topic]) > 1:
                self._log(f'[record] {topic} has several types {types[topic]}; recording '
                          f'{msgtype}')
            try:
                cls = message_class(msgtype)
                mine = [p for p in pubs if p.topic_type == msgtype] or pubs
                conn = self.writer.add_topic(topic, msgtype,
                                             [offered_qos(p.qos_profile) for p in mine],
                                             str(mine[0].topic_type_hash))
            except (ImportError, AttributeError, ValueError, BagWriteError) as exc:
                self.refused[topic] = str(exc)
                self._log(f'[record] not recording {topic}: {exc}')
                continue
            self.subscribed[topic] = self.create_subscription(
                cls, topic, self._writer_for(conn),
                subscription_qos([p.qos_profile for p in mine]), raw=True)
            self._log(f'[record] recording {topic} ({msgtype})')

    def _writer_for(self, conn) -> Callable[..., None]:
        write = self.writer.write
        if not hasattr(Subscription, 'CallbackType'):
            # rclpy before Jazzy passes no message info: the callback's time it is.
            return lambda data: write(conn, time.time_ns(), data)

        def on_message(data: bytes, info: dict) -> None:
            # Receive time as the middleware stamped it, not when the callback ran.
            write(conn, info.get('received_timestamp') or time.time_ns(), data)
        return on_message


def record(output: str, topics: Sequence[str], storage: str = 'mcap',
           info: Optional[Dict[str, str]] = None, flush_period: float = 0.5,
           duration: float = 0.0, log: Callable[[str], None] = print) -> Dict[str, int]:
    """Record ``topics`` to a new bag at ``output`` until SIGINT/SIGTERM or ``duration`` s.

    :returns: messages per recorded topic.
    :raises BagWriteError: the bag cannot be created.
    """
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    stop = StopFlag()
    keep_signals(lambda _: stop.set())
    node = writer = None
    try:
        writer = BagWriter(output, storage, info)
        node = BagRecorder(writer, topics, flush_period, log)
        stop_on_signals(node, lambda _: stop.set())
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        log(f'[record] writing {output} ({storage}); waiting for {len(node.wanted)} topics')
        end = time.monotonic() + duration if duration > 0 else None
        while not stop.is_set() and (end is None or time.monotonic() < end):
            executor.spin_once(timeout_sec=SPIN_TIMEOUT)
    except ExternalShutdownException:
        pass
    finally:
        if writer is not None:
            writer.close()
        if node is not None:
            missing = [t for t in node.wanted if t not in node.subscribed]
            if missing:
                log(f'[record] never published (not in the bag): {", ".join(missing)}')
            node.destroy_node()
        rclpy.try_shutdown()
    log(f'[record] closed {output}: ' + ', '.join(
        f'{t} {n}' for t, n in writer.counts.items()))
    return dict(writer.counts)

"""Write rosbag2 bags with `rosbags`, flushed often enough to survive the recorder's death.

The file format is rosbags' own: metadata version 9 (what Jazzy and newer read: QoS
profiles as a YAML list) and MCAP with the ``ros2`` profile, schemas as ``ros2msg`` and
channel metadata ``offered_qos_profiles``, or sqlite3. rosbags' MCAP writer keeps messages
in a 1 MiB in-memory chunk and writes the summary and metadata.yaml only on close, so a
SIGKILL would lose everything since the last full chunk: :meth:`BagWriter.flush` closes the
pending chunk and hands it to the kernel (sqlite3: commits). A killed recorder leaves a bag
without metadata.yaml and without an MCAP summary, which :mod:`.reader` reads up to its
last complete chunk.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Dict, Optional, Sequence

from rosbags.interfaces import Connection, Qos
from rosbags.rosbag2 import StoragePlugin, Writer, WriterError
from rosbags.rosbag2.storage_mcap import McapWriter
from rosbags.rosbag2.storage_sqlite3 import Sqlite3Writer
from rosbags.typesys import Stores, get_typestore

from ..util.atomic import atomic_write

STORAGES = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}
SIDECAR = 'symphony_record.json'
"""Written at the start of a recording (metadata.yaml comes only with a clean close), so a
killed recorder's bag still says which policy and robot it recorded."""
CUSTOM_PREFIX = 'symphony_ros.'


class BagWriteError(RuntimeError):
    """The bag cannot be created or a topic cannot be recorded (names which and why)."""


class _FlushingMcapWriter(McapWriter):
    def flush(self) -> None:
        # Only a chunk with messages: an empty one would carry start time > end time.
        if self.chunk.msgs:
            self.close_chunk()
        self.bio.flush()


class _FlushingSqlite3Writer(Sqlite3Writer):
    def flush(self) -> None:
        self.conn.commit()


class _Writer(Writer):
    STORAGE_PLUGINS = {StoragePlugin.SQLITE3: _FlushingSqlite3Writer,
                       StoragePlugin.MCAP: _FlushingMcapWriter}


def default_typestore():
    """Return rosbags' newest ROS 2 message definitions (standard message packages)."""
    return get_typestore(Stores.LATEST)


class BagWriter:
    """One rosbag2 bag being written: add topics, write serialized (CDR) messages, close.

    :param path: bag folder to create; it must not exist yet.
    :param storage: 'mcap' (default) or 'sqlite3'.
    :param info: what the recording is (policy, robot, ...): stored as ``symphony_ros.*``
        custom_data in metadata.yaml and, at once, in :data:`SIDECAR`.
    """

    def __init__(self, path: str, storage: str = 'mcap', info: Optional[Dict[str, str]] = None,
                 typestore=None) -> None:
        if storage not in STORAGES:
            raise BagWriteError(f'storage {storage!r}: expected one of {", ".join(STORAGES)}')
        self.path = Path(path)
        if self.path.exists():
            raise BagWriteError(f'{path} exists already; rosbag2 bags are never overwritten, '
                                'name a new folder')
        self.storage = storage
        self.typestore = typestore or default_typestore()
        self._writer = _Writer(self.path, version=Writer.VERSION_LATEST,
                               storage_plugin=STORAGES[storage])
        self.info = {k: str(v) for k, v in (info or {}).items()}
        for key, value in self.info.items():
            self._writer.set_custom_data(CUSTOM_PREFIX + key, value)
        try:
            self._writer.open()
        except (WriterError, OSError) as exc:
            raise BagWriteError(f'{path}: cannot create the bag: {exc}') from None
        sidecar = dict(self.info, storage=storage,
                       started_at=datetime.datetime.now().astimezone().isoformat())
        text = json.dumps(sidecar, indent=1).encode('utf-8')
        atomic_write(str(self.path / SIDECAR), lambda f: f.write(text))
        self.counts: Dict[str, int] = {}
        self._closed = False

    def add_topic(self, topic: str, msgtype: str, qos: Sequence[Qos] = (),
                  type_hash: str = '') -> Connection:
        """Register ``topic`` of ``msgtype`` (e.g. 'sensor_msgs/msg/JointState').

        :param qos: the publishers' QoS profiles (stored as offered_qos_profiles, which
            ``ros2 bag play`` uses to republish, e.g. latched).
        :param type_hash: the live type's RIHS01 hash, when the middleware reports one; it
            must equal the hash of the definition written to the bag.
        :raises BagWriteError: a type whose definition rosbags does not know, or a hash
            that says the live type differs from that definition.
        """
        if msgtype not in self.typestore.fielddefs:
            raise BagWriteError(f'{topic}: no message definition for type {msgtype!r} in the '
                                'rosbags type store; only standard ROS 2 message packages can '
                                'be recorded')
        rihs01 = self.typestore.hash_rihs01(msgtype)
        if type_hash and type_hash.startswith('RIHS01_') and type_hash != rihs01:
            raise BagWriteError(f'{topic}: the publishers\' {msgtype} has type hash '
                                f'{type_hash[:19]}..., the stored definition {rihs01[:19]}...; '
                                'the live message definition differs from rosbags\'')
        try:
            conn = self._writer.add_connection(topic, msgtype, typestore=self.typestore,
                                               offered_qos_profiles=list(qos))
        except WriterError as exc:
            raise BagWriteError(f'{topic}: {exc}') from None
        self.counts[topic] = 0
        return conn

    def write(self, conn: Connection, log_ns: int, data: bytes) -> None:
        """Append one serialized message received at ``log_ns`` (ns since the epoch)."""
        self._writer.write(conn, int(log_ns), data)
        self.counts[conn.topic] += 1

    def flush(self) -> None:
        """Put every message written so far on disk as complete records (see module doc)."""
        if not self._closed and self._writer.storage is not None:
            self._writer.storage.flush()

    def close(self) -> None:
        """Finish the bag: MCAP summary and metadata.yaml. Safe to call twice."""
        if not self._closed:
            self._closed = True
            self._writer.close()

    def __enter__(self) -> 'BagWriter':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

"""Open a rosbag2 bag with `rosbags`, also one whose recorder died, and read its topics.

Accepts a bag folder (metadata.yaml plus .mcap or .db3 files, as ``ros2 bag record`` or
``symphony record`` write them) or a single .mcap / .db3 file. A folder without
metadata.yaml (the recorder never closed it) is read file by file; an MCAP file without its
summary is read up to its last complete chunk (:mod:`.mcap_recovery`). What was recovered
is said in :attr:`Bag.warnings`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from rosbags.interfaces import Connection, MessageDefinitionFormat, Qos
from rosbags.rosbag2 import Reader, ReaderError
from rosbags.rosbag2.storage_mcap import McapReader
from rosbags.serde import SerdeError
from rosbags.typesys import get_types_from_msg

from . import mcap_recovery
from .writer import CUSTOM_PREFIX, SIDECAR, default_typestore

STORAGE_SUFFIXES = ('.mcap', '.db3')


class BagError(Exception):
    """The bag cannot be read: names the file and what is wrong with it."""


@dataclass
class TopicInfo:
    """One topic of a bag."""

    name: str
    msgtype: str
    count: int
    qos: List[Qos] = field(default_factory=list)


# A source yields (connection, log time ns, CDR bytes) for the given connections.
_Source = Callable[[List[Connection]], Iterator[Tuple[Connection, int, bytes]]]


@dataclass
class Bag:
    """An opened bag: its topics, what the recording says about itself, how it was read."""

    path: str
    storage: str
    topics: Dict[str, TopicInfo]
    info: Dict[str, str]
    """``symphony_ros.*`` custom data (policy, robot, ...) without the prefix."""
    warnings: List[str]
    clean: bool
    """True when the bag was closed by its writer (metadata.yaml and finished files)."""
    _connections: List[Connection] = field(default_factory=list, repr=False)
    _sources: List[_Source] = field(default_factory=list, repr=False)

    def raw_messages(self, topics: Iterable[str]) -> List[Tuple[str, int, bytes]]:
        """Every message of ``topics`` as (topic, log time ns, CDR bytes), in log-time order.

        Log time is when the recorder received the message. Messages of one topic keep
        their recorded order where log times tie.
        """
        wanted = set(topics)
        conns = [c for c in self._connections if c.topic in wanted]
        out: List[Tuple[str, int, bytes]] = []
        if conns:
            for source in self._sources:
                for conn, log_ns, data in source(conns):
                    out.append((conn.topic, int(log_ns), bytes(data)))
        out.sort(key=lambda m: m[1])
        return out

    def messages(self, topics: Iterable[str]) -> Dict[str, List[Tuple[int, Any]]]:
        """Deserialized messages per topic: ``{topic: [(log ns, msg), ...]}``.

        :raises BagError: a message that does not deserialize as its topic's type.
        """
        store = self._typestore()
        out: Dict[str, List[Tuple[int, Any]]] = {t: [] for t in topics if t in self.topics}
        for i, (topic, log_ns, data) in enumerate(self.raw_messages(out)):
            msgtype = self.topics[topic].msgtype
            try:
                msg = store.deserialize_cdr(data, msgtype)
            except (SerdeError, KeyError, ValueError, IndexError, AssertionError) as exc:
                raise BagError(f'{self.path}: message {len(out[topic])} on {topic} does not '
                               f'deserialize as {msgtype}: {exc}') from None
            out[topic].append((log_ns, msg))
        return out

    def _typestore(self):
        store = default_typestore()
        extra = {}
        for conn in self._connections:
            if (conn.msgtype not in store.fielddefs
                    and conn.msgdef.format == MessageDefinitionFormat.MSG and conn.msgdef.data):
                try:
                    extra.update(get_types_from_msg(conn.msgdef.data, conn.msgtype))
                except Exception:  # an unparsable definition: that topic stays unreadable
                    continue
        if extra:
            store.register(extra)
        return store


def _dir_reader_source(path: Path) -> _Source:
    def source(conns: List[Connection]):
        with Reader(path) as reader:
            yield from reader.messages(conns)
    return source


def _file_source(path: Path) -> _Source:
    def source(conns: List[Connection]):
        with Reader(path) as reader:
            mine = {(c.topic, c.msgtype): c for c in reader.connections}
            picked = [mine[(c.topic, c.msgtype)] for c in conns if (c.topic, c.msgtype) in mine]
            yield from reader.messages(picked)
    return source


def _recovered_source(view: mcap_recovery.PatchedPath) -> _Source:
    def source(conns: List[Connection]):
        storage = McapReader(view)
        storage.open()
        try:
            mine = {(c.topic, c.msgtype): c for c in storage.connections}
            picked = [mine[(c.topic, c.msgtype)] for c in conns if (c.topic, c.msgtype) in mine]
            # The linear scan, not messages(): that one insists on log-time order, which a
            # recorder taking callbacks of several topics does not promise.
            yield from storage.messages_scan(picked)
        finally:
            storage.close()
    return source


def _merge_topics(topics: Dict[str, TopicInfo], conns: Iterable[Connection], where: str,
                  warnings: List[str]) -> None:
    for c in conns:
        qos = list(getattr(c.ext, 'offered_qos_profiles', []) or [])
        t = topics.get(c.topic)
        if t is None:
            topics[c.topic] = TopicInfo(c.topic, c.msgtype, c.msgcount, qos)
        elif t.msgtype != c.msgtype:
            warnings.append(f'{where}: topic {c.topic} recorded as {c.msgtype} here and as '
                            f'{t.msgtype} elsewhere; reading it as {t.msgtype}')
        else:
            t.count += c.msgcount


def _open_files(files: List[Path], warnings: List[str]) -> Tuple[
        Dict[str, TopicInfo], List[Connection], List[_Source], bool]:
    topics: Dict[str, TopicInfo] = {}
    conns: List[Connection] = []
    sources: List[_Source] = []
    clean = True
    for path in files:
        try:
            with Reader(path) as reader:
                found = list(reader.connections)
            sources.append(_file_source(path))
        except ReaderError as exc:
            if path.suffix != '.mcap':
                raise BagError(f'{path}: unreadable {path.suffix} file: {exc}') from None
            try:
                view, scan = mcap_recovery.readable_view(str(path))
                storage = McapReader(view)
                storage.open()
                found = list(storage.connections)
                storage.close()
            except (ValueError, ReaderError) as exc2:
                raise BagError(f'{path}: unreadable MCAP file: {exc2}') from None
            clean = False
            lost = scan.size - scan.end
            warnings.append(f'{path.name}: unfinished MCAP file (no summary: the recorder did '
                            f'not close it); read {scan.chunks} complete chunks, dropped the '
                            f'last {lost} bytes')
            sources.append(_recovered_source(view))
        conns.extend(found)
        _merge_topics(topics, found, path.name, warnings)
    return topics, conns, sources, clean


def _sidecar(folder: Path) -> Dict[str, str]:
    path = folder / SIDECAR
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding='utf-8'))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _listed_files(metadata: Path) -> List[str]:
    """Storage files named in a metadata.yaml (empty when it does not parse)."""
    import yaml
    try:
        with open(metadata, encoding='utf-8') as f:
            doc = yaml.safe_load(f) or {}
        info = doc.get('rosbag2_bagfile_information', {})
        return [str(n) for n in info.get('relative_file_paths', [])]
    except (OSError, yaml.YAMLError, AttributeError):
        return []


def open_bag(path: str) -> Bag:
    """Open the bag at ``path`` (a bag folder, or one .mcap / .db3 file).

    :raises BagError: no such path, not a bag, or a storage file that cannot be read at all.
    """
    p = Path(path)
    if not p.exists():
        raise BagError(f'{path}: no such bag folder or file')
    warnings: List[str] = []
    info: Dict[str, str] = {}
    if p.is_dir():
        info = _sidecar(p)
        if (p / 'metadata.yaml').is_file():
            try:
                with Reader(p) as reader:
                    conns = list(reader.connections)
                    storage = reader.storage
                    custom = getattr(storage, 'metadata', None)
                    custom = (custom.custom if custom else None) or {}
                    ident = type(getattr(storage, 'storages', [None])[0]).__name__
                info.update({k[len(CUSTOM_PREFIX):]: v for k, v in custom.items()
                             if k.startswith(CUSTOM_PREFIX)})
                topics: Dict[str, TopicInfo] = {}
                _merge_topics(topics, conns, 'metadata.yaml', warnings)
                return Bag(str(p), 'mcap' if 'Mcap' in ident else 'sqlite3', topics, info,
                           warnings, True, conns, [_dir_reader_source(p)])
            except (ReaderError, KeyError, ValueError) as exc:
                # metadata.yaml itself parsed: what failed is a storage file it lists.
                warnings.append(f'the bag does not open as a closed bag: a storage file is '
                                f'truncated or damaged ({exc}); reading the storage files '
                                'directly')
        else:
            warnings.append('no metadata.yaml (the recorder did not close the bag); reading '
                            'the storage files directly')
        files = sorted(f for f in p.iterdir() if f.suffix in STORAGE_SUFFIXES)
        if not files and (p / 'metadata.yaml').is_file():
            listed = ', '.join(_listed_files(p / 'metadata.yaml')) or 'none listed'
            raise BagError(f'{path}: holds metadata.yaml but none of the storage files it '
                           f'lists ({listed}): copied without them, or removed?')
        if not files:
            raise BagError(f'{path}: not a rosbag2 bag: no metadata.yaml and no .mcap or '
                           '.db3 file in it')
    elif p.suffix in STORAGE_SUFFIXES:
        files = [p]
        info = _sidecar(p.parent)
    else:
        raise BagError(f'{path}: not a rosbag2 bag: expected a bag folder or a .mcap or .db3 '
                       'file')
    topics, conns, sources, clean = _open_files(files, warnings)
    storage = ','.join(sorted({f.suffix.lstrip('.').replace('db3', 'sqlite3') for f in files}))
    return Bag(str(p), storage, topics, info, warnings, clean and p.is_file(), conns, sources)


def bag_custom(bag: Bag, key: str, default: Optional[str] = None) -> Optional[str]:
    """One ``symphony_ros.*`` value the recording stored (None/default when absent)."""
    return bag.info.get(key, default)

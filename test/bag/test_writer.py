"""The bag writer: files other tools read, flushes that survive a kill, clear refusals."""

import os
import shutil

import numpy as np
import pytest
import yaml
from rosbags.typesys import Stores, get_typestore

from symphony_ros.bag.reader import open_bag
from symphony_ros.bag.writer import SIDECAR, BagWriteError, BagWriter

TS = get_typestore(Stores.LATEST)
JS = 'sensor_msgs/msg/JointState'


def _js(i: int) -> bytes:
    T = TS.types
    msg = T[JS](header=T['std_msgs/msg/Header'](
        stamp=T['builtin_interfaces/msg/Time'](sec=1, nanosec=i), frame_id=''),
        name=['a', 'b'], position=np.array([float(i), 0.0]), velocity=np.zeros(2),
        effort=np.zeros(2))
    return TS.serialize_cdr(msg, JS)


def _write(path, n, flush_every=0, close=True, storage='mcap'):
    w = BagWriter(str(path), storage, {'robot': 'humanoid', 'policy': '/x.onnx'})
    conn = w.add_topic('/joint_states', JS)
    for i in range(n):
        w.write(conn, 10**18 + i * 10**7, _js(i))
        if flush_every and i % flush_every == flush_every - 1:
            w.flush()
    if close:
        w.close()
    return w


def test_metadata_is_what_rosbag2_reads(tmp_path):
    _write(tmp_path / 'b', 50)
    info = yaml.safe_load((tmp_path / 'b' / 'metadata.yaml').read_text())
    info = info['rosbag2_bagfile_information']
    # The keys rosbag2's YAML decoder requires for version 9 (Jazzy and newer).
    assert info['version'] == 9 and info['storage_identifier'] == 'mcap'
    for key in ('duration', 'starting_time', 'message_count', 'relative_file_paths', 'files',
                'compression_format', 'compression_mode', 'custom_data', 'ros_distro'):
        assert key in info, key
    topic = info['topics_with_message_count'][0]
    assert topic['message_count'] == 50
    meta = topic['topic_metadata']
    assert meta['type'] == JS and meta['serialization_format'] == 'cdr'
    assert isinstance(meta['offered_qos_profiles'], list)   # v9: a list, not a string
    assert meta['type_description_hash'] == TS.hash_rihs01(JS)
    assert info['custom_data'] == {'symphony_ros.robot': 'humanoid',
                                   'symphony_ros.policy': '/x.onnx'}
    assert info['relative_file_paths'] == ['b.mcap']


def test_mcap_file_reads_with_the_reference_mcap_library(tmp_path):
    reader = pytest.importorskip('mcap.reader')
    decoder = pytest.importorskip('mcap_ros2.decoder')
    _write(tmp_path / 'b', 300, flush_every=100)
    with open(tmp_path / 'b' / 'b.mcap', 'rb') as f:
        r = reader.make_reader(f, decoder_factories=[decoder.DecoderFactory()])
        summary = r.get_summary()
        assert summary.statistics.message_count == 300
        assert len(summary.chunk_indexes) == 3     # one per flush
        assert r.get_header().profile == 'ros2'
        assert [s.encoding for s in summary.schemas.values()] == ['ros2msg']
        channel = next(iter(summary.channels.values()))
        assert 'offered_qos_profiles' in channel.metadata
        got = [m.position[0] for _, _, _, m in r.iter_decoded_messages()]
    assert got == [float(i) for i in range(300)]


def test_flushed_messages_survive_a_writer_that_never_closes(tmp_path):
    w = _write(tmp_path / 'b', 250, flush_every=100, close=False)
    # What a SIGKILL leaves: the files as they are, no metadata.yaml.
    shutil.copytree(tmp_path / 'b', tmp_path / 'killed')
    w.close()
    bag = open_bag(str(tmp_path / 'killed'))
    assert not bag.clean and bag.info['robot'] == 'humanoid'   # from the sidecar
    got = [m.position[0] for _, m in bag.messages(['/joint_states'])['/joint_states']]
    assert got == [float(i) for i in range(200)]
    assert open_bag(str(tmp_path / 'b')).topics['/joint_states'].count == 250
    assert (tmp_path / 'b' / SIDECAR).is_file()


def test_sqlite3_storage_and_refusals(tmp_path):
    _write(tmp_path / 's', 20, flush_every=5, storage='sqlite3')
    bag = open_bag(str(tmp_path / 's'))
    assert bag.storage == 'sqlite3' and bag.topics['/joint_states'].count == 20
    with pytest.raises(BagWriteError, match='exists already'):
        BagWriter(str(tmp_path / 's'))
    w = BagWriter(str(tmp_path / 't'))
    with pytest.raises(BagWriteError, match='no message definition'):
        w.add_topic('/x', 'my_pkg/msg/Unknown')
    with pytest.raises(BagWriteError, match='definition differs'):
        w.add_topic('/y', JS, type_hash='RIHS01_' + '0' * 64)
    w.close()
    assert os.path.isfile(tmp_path / 't' / 'metadata.yaml')

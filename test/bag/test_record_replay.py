"""``symphony record`` and ``symphony replay`` as real processes over DDS."""

import os
import signal
import sys
import time

import pytest
import yaml

from symphony_ros.bag.reader import open_bag

pytestmark = pytest.mark.ros


@pytest.fixture
def ros_node():
    import rclpy
    rclpy.init()
    node = rclpy.create_node('bag_test_probe')
    yield node
    node.destroy_node()
    rclpy.shutdown()


def _recorder(procs, ros_env, out, *topics, flush='0.2'):
    return procs([sys.executable, '-m', 'symphony_ros.cli.record_cmd', '-o', str(out),
                  '--flush-period', flush, *topics], ros_env)


def _wait_until_forgotten(node, topic, timeout=30.0):
    """Spin until no subscriber is matched on topic: a killed peer's lease has run out.

    The probe is then torn down in a settled graph: destroying a writer still matched to a
    SIGKILLed reader races Fast DDS's own clean-up of that reader (a segfault in destroy_node).
    """
    import rclpy
    deadline = time.monotonic() + timeout
    while node.count_subscribers(topic) > 0:
        assert time.monotonic() < deadline, f'the killed recorder stayed on {topic}'
        rclpy.spin_once(node, timeout_sec=0.1)


def _publish(node, pub, msgs, period=0.005):
    import rclpy
    for m in msgs:
        pub.publish(m)
        rclpy.spin_once(node, timeout_sec=0)
        time.sleep(period)


def test_recorder_closes_on_sigint_or_sigterm_and_survives_sigkill(procs, ros_env, ros_node,
                                                                   short_lease_env, tmp_path):
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import JointState
    from std_msgs.msg import String
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
    js = ros_node.create_publisher(JointState, '/t/joint_states', 10)
    state = ros_node.create_publisher(String, '/t/state', latched)
    state.publish(String(data='ACTIVE'))       # before any recorder exists

    def joint_states(start, n):
        return [JointState(name=['a'], position=[float(i)], velocity=[0.0], effort=[0.0])
                for i in range(start, start + n)]

    # Clean stop: every message, the latched one too, and a bag ros2 can index.
    clean = _recorder(procs, ros_env, tmp_path / 'clean', '/t/joint_states', '/t/state',
                      '/t/never')
    clean.wait_for('recording /t/joint_states')
    clean.wait_for('recording /t/state')
    _publish(ros_node, js, joint_states(0, 200))
    time.sleep(0.5)
    clean.proc.send_signal(signal.SIGINT)
    assert clean.finish() == 0, clean.text
    assert 'never published (not in the bag): /t/never' in clean.text
    bag = open_bag(str(tmp_path / 'clean'))
    assert bag.clean and bag.warnings == []
    msgs = bag.messages(['/t/joint_states', '/t/state'])
    assert [m.position[0] for _, m in msgs['/t/joint_states']] == list(range(200))
    assert [m.data for _, m in msgs['/t/state']] == ['ACTIVE']
    meta = yaml.safe_load((tmp_path / 'clean' / 'metadata.yaml').read_text())
    info = meta['rosbag2_bagfile_information']
    assert info['version'] == 9 and info['storage_identifier'] == 'mcap'
    topics = {t['topic_metadata']['name']: t for t in info['topics_with_message_count']}
    assert topics['/t/joint_states']['message_count'] == 200
    assert topics['/t/state']['topic_metadata']['offered_qos_profiles'][0][
        'durability'] == 'transient_local'
    # The hash the middleware reported is the one stored.
    assert topics['/t/joint_states']['topic_metadata']['type_description_hash'].startswith(
        'RIHS01_')

    # SIGTERM (the launcher's second try) closes it just as cleanly.
    term = _recorder(procs, ros_env, tmp_path / 'term', '/t/state')
    term.wait_for('recording /t/state')
    time.sleep(1.0)                             # the latched sample on its way
    term.proc.send_signal(signal.SIGTERM)
    assert term.finish() == 0, term.text
    assert open_bag(str(tmp_path / 'term')).topics['/t/state'].count == 1

    # SIGKILL: what was flushed stays readable, in order, up to the last complete chunk.
    killed = _recorder(procs, short_lease_env, tmp_path / 'killed', '/t/joint_states')
    killed.wait_for('recording /t/joint_states')
    _publish(ros_node, js, joint_states(0, 150))
    time.sleep(0.8)                             # > 2 flush periods: those are on disk
    _publish(ros_node, js, joint_states(150, 20), period=0.0)
    killed.proc.send_signal(signal.SIGKILL)
    killed.finish()
    _wait_until_forgotten(ros_node, '/t/joint_states')
    assert not os.path.exists(tmp_path / 'killed' / 'metadata.yaml')
    bag = open_bag(str(tmp_path / 'killed'))
    assert not bag.clean and any('unfinished MCAP' in w for w in bag.warnings)
    got = [m.position[0] for _, m in bag.messages(['/t/joint_states'])['/t/joint_states']]
    assert got[:150] == list(range(150)) and len(got) <= 170
    assert bag.info['robot'] == 'humanoid'      # the sidecar survives the kill


def test_replay_republishes_sensor_topics_with_their_timing(procs, ros_env, ros_node,
                                                            sim_bag):
    import rclpy
    from nav_msgs.msg import Odometry
    from sensor_msgs.msg import Imu, JointState
    got, others = [], []
    ros_node.create_subscription(JointState, '/joint_states',
                                 lambda m: got.append((time.monotonic(), m)), 1000)
    ros_node.create_subscription(Imu, '/imu/data', others.append, 1000)
    ros_node.create_subscription(Odometry, '/odom', others.append, 1000)
    player = procs([sys.executable, '-m', 'symphony_ros.cli.replay_cmd', sim_bag.path,
                    '--rate', '2', '--delay', '20'], ros_env)
    deadline = time.monotonic() + 60
    while player.proc.poll() is None and time.monotonic() < deadline:
        rclpy.spin_once(ros_node, timeout_sec=0.05)
    deadline = time.monotonic() + 30     # what arrived and waits in the history
    while (len(got) < 307 or len(others) < 614) and time.monotonic() < deadline:
        rclpy.spin_once(ros_node, timeout_sec=0.05)
    assert player.finish() == 0, player.text
    assert 'sent 921 of 921 messages' in player.text    # 307 states x (js, imu, odom)
    # Reliable, and deep enough on both sides that a subscriber spun on a loaded machine
    # loses nothing: every message arrives.
    assert len(got) == 307 and len(others) == 614, (len(got), len(others), player.text)
    positions = [tuple(m.position) for _, m in got]
    assert len(set(positions)) == len(positions)        # distinct recorded states
    # Recorded 10 ms apart, replayed at rate 2: about 5 ms apart (loaded machine: loose).
    span = got[-1][0] - got[0][0]
    assert 1.0 < span < 4.0, span
    # Restamped to now, not the recorded sim time (1 s + ticks).
    now = ros_node.get_clock().now().nanoseconds * 1e-9
    assert abs(got[-1][1].header.stamp.sec - now) < 30


def test_replay_stops_on_sigint_and_says_how_far_it_got(procs, ros_env, sim_bag):
    # At rate 0.02 the 3 s bag would take 150 s: the stop cuts it short.
    player = procs([sys.executable, '-m', 'symphony_ros.cli.replay_cmd', sim_bag.path,
                    '--rate', '0.02', '--delay', '0'], ros_env)
    player.wait_for(r'\[replay\] 921 messages')
    time.sleep(1.0)
    player.proc.send_signal(signal.SIGINT)
    assert player.finish(timeout=30) == 0, player.text
    sent = int(player.wait_for(r'\[replay\] sent \d+ of 921')[0].split()[2])
    assert 0 < sent < 921, player.text
    assert 'Timeout' not in player.text     # no stuck-stop stack dump: it ended at once

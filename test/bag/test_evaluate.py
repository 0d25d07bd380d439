"""Offline evaluation of bags written independently with rosbags (no ROS, no DDS)."""

import json
import os
import shutil

import numpy as np
import pytest
from bag_fixtures import write_sim_bag

from symphony_ros.bag.evaluate import evaluate_bag
from symphony_ros.bag.reader import BagError, open_bag
from symphony_ros.bag.writer import BagWriter
from symphony_ros.cli.evaluate_cmd import main as evaluate_main
from symphony_ros.robot.description import get_robot


def test_sqlite_bag_scores_exactly_as_the_live_sim(sim_bag, policies):
    ev = evaluate_bag(sim_bag.path)
    complete = [e for e in ev.episodes if e.complete]
    assert len(complete) == len(sim_bag.returns) >= 5
    # Same reward code on the same states: equal to float rounding, episode by episode.
    np.testing.assert_allclose([e.ret for e in complete], sim_bag.returns, rtol=1e-9)
    assert [e.length for e in complete] == sim_bag.lengths
    assert [e.fallen for e in complete] == sim_bag.falls
    np.testing.assert_allclose([e.live_return for e in complete], sim_bag.returns)
    o = ev.report['overall']
    assert o['falls'] == sum(sim_bag.falls)
    assert ev.episodes[-1].end == 'end_of_bag' and not ev.episodes[-1].complete
    # The bag named its policy; replayed open-loop it reproduces the recorded commands.
    rec = ev.report['policy']['recorded']
    assert rec['path'] == policies['recorded'] and rec['ticks'] == sim_bag.commands
    assert rec['vs_recorded_actions']['max_abs'] < 1e-6
    assert ev.report['faults'][0]['cause'] == 'tilt'
    assert '0.81 rad' in ev.report['faults'][0]['detail']
    assert o['ticks_missed']['missed'] == 0
    assert o['latency_ms']['source'] == 'receive times'
    assert o['latency_ms']['p50'] == pytest.approx(0.3, abs=0.01)  # 300 us in the fixture
    assert o['saturation_share'] is not None and o['jitter'] > 0
    # What the motors were told, per step, as a share of the ctrl range (stress's figure).
    assert 0 < o['command_step'] < 1
    assert all(0 < e['command_step'] < 1 for e in ev.report['episodes'] if e['complete'])
    assert ev.report['diagnostics']['symphony/policy_node']['inference_p50_us'] == '55.0'


def test_cli_writes_report_and_plots_with_a_candidate(sim_bag, policies, tmp_path, capsys):
    out = tmp_path / 'eval'
    code = evaluate_main([sim_bag.path, '--policy', policies['candidate'], '--out', str(out)])
    assert code == 0, capsys.readouterr().err
    assert 'report: ' in capsys.readouterr().out
    for name in ('report.md', 'report.json', 'joint_torques.png', 'tilt.png', 'return.png',
                 'actions.png'):
        assert (out / name).stat().st_size > 0, name
    report = json.loads((out / 'report.json').read_text())
    cand = report['policy']['candidate']['vs_recorded_actions']
    assert cand['rms'] > 0 and len(cand['per_joint']) == get_robot('humanoid').n_joints
    md = (out / 'report.md').read_text()
    assert '| command step, RMS per control step (share of range) |' in md
    assert 'Candidate policy' in md and '| falls |' in md and '![tilt.png](tilt.png)' in md


def test_candidate_with_another_joint_list_is_refused(sim_bag, policies, tmp_path, capsys):
    code = evaluate_main([sim_bag.path, '--policy', policies['other_joints'],
                          '--out', str(tmp_path / 'x')])
    err = capsys.readouterr().err
    assert code == 2
    assert 'candidate policy refused' in err and 'other_joints.onnx' in err
    assert 'joint' in err
    assert not (tmp_path / 'x').exists()


def test_missing_topic_is_named_and_the_rest_computed(tmp_path, policies, capsys):
    path = str(tmp_path / 'no_odom')
    write_sim_bag(path, policies['recorded'], ticks=60, drop=('/odom',), faults=(10,))
    out = tmp_path / 'eval'
    assert evaluate_main([path, '--out', str(out)]) == 0
    err = capsys.readouterr().err
    assert 'missing topic /odom (nav_msgs/msg/Odometry)' in err and 'return' in err
    report = json.loads((out / 'report.json').read_text())
    assert [m['topic'] for m in report['missing']] == ['/odom']
    o = report['overall']
    assert o['episodes'] == 0 and o['return']['mean'] is None
    # Everything that does not need odometry is still there.
    assert o['faults'] == 1 and o['saturation_share'] is not None and o['jitter'] > 0
    assert o['max_tilt_rad'] > 0          # from the IMU
    assert o['latency_ms']['count'] == o['policy_ticks'] >= 60
    assert 'Missing topics' in (out / 'report.md').read_text()


def test_bag_without_states_or_commands_is_refused(tmp_path, policies, capsys):
    path = str(tmp_path / 'diag_only')
    write_sim_bag(path, policies['recorded'], ticks=5,
                  drop=('/joint_states', '/symphony/command', '/odom', '/imu/data'))
    assert evaluate_main([path, '--out', str(tmp_path / 'x')]) == 2
    err = capsys.readouterr().err
    assert 'nothing to evaluate' in err and '/joint_states' in err and '--topic' in err


def test_reset_without_terminal_state_ends_the_episode(tmp_path, policies):
    path = str(tmp_path / 'no_terminal')
    run = write_sim_bag(path, policies['recorded'], ticks=100, terminal_state=False)
    ev = evaluate_bag(path)
    ended = [e for e in ev.episodes if e.end != 'end_of_bag']
    assert len(ended) == len(run.returns) and all(e.end == 'reset' for e in ended)
    # The step into the unrecorded terminal state is the one missing.
    assert [e.length for e in ended] == [n - 1 for n in run.lengths]
    assert ev.report['overall']['resets_without_terminal_state'] == len(ended)
    assert f'{len(ended)} episodes end in a reset whose terminal state is not in the ' \
           'recording' in ' '.join(ev.report['notes'])


def test_held_states_are_no_steps(tmp_path, policies):
    # The sim's gantry: before each episode the state repeats with fresh stamps until the
    # watchdog is ACTIVE. Scored as steps, 20 held ticks would add ~100 to every return.
    path = str(tmp_path / 'held')
    run = write_sim_bag(path, policies['recorded'], ticks=200, hold=20)
    ev = evaluate_bag(path)
    complete = [e for e in ev.episodes if e.complete]
    assert len(complete) == len(run.returns) >= 2
    assert [e.length for e in complete] == run.lengths
    np.testing.assert_allclose([e.ret for e in complete], run.returns, rtol=1e-9)
    assert not any(e.end == 'hold' for e in ev.episodes)


def _rewrite_with_flushes(src: str, dst: str, every: int) -> int:
    """Copy a bag through BagWriter (MCAP), flushing every ``every`` messages."""
    bag = open_bag(src)
    raw = bag.raw_messages(bag.topics)
    w = BagWriter(dst, 'mcap', {'robot': 'humanoid'})
    conns = {t: w.add_topic(t, i.msgtype) for t, i in bag.topics.items()}
    for k, (topic, log_ns, data) in enumerate(raw):
        w.write(conns[topic], log_ns, data)
        if k % every == every - 1:
            w.flush()
    return len(raw)


def test_truncated_mcap_reads_up_to_its_last_complete_chunk(sim_bag, tmp_path):
    dst = str(tmp_path / 'killed')
    total = _rewrite_with_flushes(sim_bag.path, dst, every=400)  # never closed: like SIGKILL
    mcap = os.path.join(dst, 'killed.mcap')
    assert not os.path.exists(os.path.join(dst, 'metadata.yaml'))
    # Cut into the middle of the last chunk record, as a kill during a write would.
    size = os.path.getsize(mcap)
    with open(mcap, 'r+b') as f:
        f.truncate(size - 1000)
    bag = open_bag(dst)
    assert not bag.clean
    assert any('unfinished MCAP' in w and 'dropped' in w for w in bag.warnings)
    assert any('no metadata.yaml' in w for w in bag.warnings)
    got = bag.raw_messages(bag.topics)
    assert 0 < len(got) < total and len(got) % 400 == 0
    ev = evaluate_bag(dst)
    assert ev.report['bag']['clean'] is False
    assert ev.report['overall']['complete_episodes'] >= 1
    full = evaluate_bag(sim_bag.path)
    for a, b in zip([e.ret for e in ev.episodes if e.complete],
                    [e.ret for e in full.episodes if e.complete]):
        assert a == pytest.approx(b, rel=1e-12)


def test_single_storage_file_and_bad_paths(sim_bag, tmp_path):
    db3 = [f for f in os.listdir(sim_bag.path) if f.endswith('.db3')][0]
    alone = tmp_path / db3
    shutil.copy(os.path.join(sim_bag.path, db3), alone)
    bag = open_bag(str(alone))
    assert bag.storage == 'sqlite3' and '/joint_states' in bag.topics
    empty = tmp_path / 'empty'
    empty.mkdir()
    for bad, words in ((tmp_path / 'nope', 'no such bag'), (empty, 'not a rosbag2 bag')):
        with pytest.raises(BagError) as err:
            open_bag(str(bad))
        assert words in str(err.value) and str(bad) in str(err.value)


def test_mcap_from_another_writer_with_compressed_chunks(sim_bag, tmp_path):
    """A single .mcap as the mcap C++/Python writers (rosbag2's plugin) lay it out.

    zstd-compressed chunks, schemas and channels outside the chunks, no metadata.yaml.
    """
    writer = pytest.importorskip('mcap.writer')
    from mcap.well_known import SchemaEncoding
    from rosbags.typesys import Stores, get_typestore
    ts = get_typestore(Stores.LATEST)
    bag = open_bag(sim_bag.path)
    path = tmp_path / 'other.mcap'
    with open(path, 'wb') as f:
        w = writer.Writer(f, chunk_size=64 * 1024, compression=writer.CompressionType.ZSTD)
        w.start(profile='ros2', library='another writer')
        schemas, channels = {}, {}
        for topic, info in bag.topics.items():
            if info.msgtype not in schemas:
                text = ts.generate_msgdef(info.msgtype, ros_version=2)[0]
                schemas[info.msgtype] = w.register_schema(info.msgtype, SchemaEncoding.ROS2,
                                                          text.encode())
            channels[topic] = w.register_channel(topic, 'cdr', schemas[info.msgtype],
                                                 {'offered_qos_profiles': ''})
        for topic, log_ns, data in bag.raw_messages(bag.topics):
            w.add_message(channels[topic], log_time=log_ns, data=data, publish_time=log_ns)
        w.finish()
    ev = evaluate_bag(str(path))
    ref = evaluate_bag(sim_bag.path)
    assert [e.ret for e in ev.episodes] == pytest.approx([e.ret for e in ref.episodes],
                                                         rel=1e-12)
    assert ev.report['bag']['storage'] == 'mcap' and ev.report['bag']['clean']


def test_recording_that_starts_mid_episode_marks_it_partial(sim_bag, tmp_path):
    bag = open_bag(sim_bag.path)
    raw = bag.raw_messages(bag.topics)
    w = BagWriter(str(tmp_path / 'late'), 'mcap')
    conns = {t: w.add_topic(t, i.msgtype) for t, i in bag.topics.items()}
    start = raw[0][1] + 100_000_000                 # the recorder came up 10 ticks late
    for topic, log_ns, data in raw:
        if log_ns >= start:
            w.write(conns[topic], log_ns, data)
    w.close()
    ev = evaluate_bag(str(tmp_path / 'late'))
    first = ev.episodes[0]
    assert first.partial_start and not first.complete and first.end == 'fall'
    assert first.length == sim_bag.lengths[0] - 10
    assert any('already running' in n for n in ev.report['notes'])
    complete = [e.ret for e in ev.episodes if e.complete]
    assert complete == pytest.approx(sim_bag.returns[1:], rel=1e-9)


def _lockstep_timeline(hardware):
    """Three lockstep states (stamps 1, 2, 3 s; received at 10, 20, 30 ms), a command
    stamped with each, and ``hardware``: (receive ms, torque) of the watchdog's outputs."""
    from symphony_ros.bag.timeline import Command, StateSample, Timeline
    from symphony_ros.robot.state import RobotState
    robot = get_robot('humanoid')
    n = robot.n_joints
    tl = Timeline(robot)
    for k in range(3):
        st = RobotState(stamp=k + 1.0, joint_positions=np.zeros(n), joint_velocities=np.zeros(n))
        tl.states.append(StateSample((k + 1) * 10**9, (k + 1) * 10**7, st, True, True))
        torque = np.full(n, 1.0 * (k + 1))     # within every joint's effort limit
        tl.commands.append(Command((k + 1) * 10**7 + 10**6, (k + 1) * 10**9, torque,
                                   torque / robot.gear))
    tl.hardware_log = np.array([int(ms * 1e6) for ms, _ in hardware], dtype=np.int64)
    tl.hardware = np.array([np.full(n, t) for _, t in hardware])
    return tl


def test_each_step_is_scored_with_the_output_that_answered_its_state():
    # The watchdog's output for the state received at 10 ms reached the recorder after the
    # next state (20 ms): the newest output before that state is the previous command's.
    tl = _lockstep_timeline([(9.0, 0.0), (12.0, 0.0), (20.5, 1.0), (22.0, 2.0)])
    assert tl.torque_before(tl.states[1].log_ns)[0] == 0.0
    assert tl.applied_torque(0)[0] == 1.0
    assert tl.applied_torque(1)[0] == 2.0
    # The soft-limit cut zeroed a joint of the command: that output is the answer.
    tl = _lockstep_timeline([(12.0, 0.0), (20.5, 7.0)])
    cut = np.full(tl.robot.n_joints, 1.0)
    cut[3] = 0.0
    tl.hardware[1] = cut
    np.testing.assert_array_equal(tl.applied_torque(0), cut)
    # Timer-driven commands carry no state's stamp: the newest output before the state.
    tl = _lockstep_timeline([(12.0, 0.0), (20.5, 1.0)])
    for c in tl.commands:
        c.stamp_ns += 1234
    assert tl.applied_torque(0)[0] == 0.0


def test_an_output_logged_ticks_late_is_still_found_by_its_values():
    # A recorder behind on its queues logs each topic's backlog in turn: the output that
    # answered state 0 was logged after state 2, and no watchdog state is known before it.
    tl = _lockstep_timeline([(12.0, 5.0), (31.0, 7.0), (35.0, 1.0)])
    np.testing.assert_array_equal(tl.applied_torque(0), np.full(tl.robot.n_joints, 1.0))
    assert tl.inferred == 0


def test_an_output_the_recorder_missed_is_the_command_as_an_active_watchdog_passes_it():
    # A recorder that falls behind can lose outputs (it did when the watchdog kept one).
    tl = _lockstep_timeline([(12.0, 5.0), (20.5, 7.0)])
    assert tl.applied_torque(0)[0] == 5.0 and tl.inferred == 0    # no watchdog state known
    tl.watchdog = [(0, 'ACTIVE')]
    np.testing.assert_array_equal(tl.applied_torque(0), np.full(tl.robot.n_joints, 1.0))
    assert tl.inferred == 1
    # Clamped to the effort limits, as the watchdog does.
    tl.commands[0].torque = tl.commands[0].torque * 1e6
    tl._by_stamp = None
    np.testing.assert_array_equal(tl.applied_torque(0), tl.robot.effort_limits)
    # In FAULT the watchdog sends its safe output, not the command: the newest output.
    tl.watchdog.append((5 * 10**6, 'FAULT tilt: base tilt 0.9 rad beyond max_tilt 0.8'))
    assert tl.applied_torque(0)[0] == 5.0


def test_a_bag_without_an_estimate_has_no_estimate_section(sim_bag):
    from symphony_ros.bag.report import markdown
    ev = evaluate_bag(sim_bag.path)
    assert ev.report['odometry_estimate'] is None
    assert '## Odometry estimate' not in markdown(ev.report, [])

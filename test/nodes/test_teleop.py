"""``symphony teleop``: keys step cmd_vel within the trained ranges, sent steadily, then zero."""

import os
import pty
import subprocess
import sys
import termios
import time

import pytest
from ros_spin import spin_until

from symphony_ros.deploy.teleop import KeyTeleop
from shipped_models import G1_STUDENT

RANGES = {'lin_vel_x': (0.2, 0.8), 'lin_vel_y': (-0.3, 0.3), 'yaw_rate': (-0.5, 0.5)}


def test_keys_step_the_command_within_the_ranges_and_zero_stays_reachable():
    t = KeyTeleop(RANGES, (0.1, 0.1, 0.2))
    assert [t.press(k) for k in 'ww'] == ['moved', 'moved'] and t.command == (0.2, 0.0, 0.0)
    for _ in range(10):
        t.press('W')                                 # caps lock on: the same key
    assert t.command[0] == 0.8 and t.press('w') == 'limit'
    for _ in range(20):
        t.press('s')
    assert t.command[0] == 0.0                       # below the range's 0.2: standing
    assert [t.press(k) for k in 'aaaa'] == ['moved', 'moved', 'moved', 'limit']
    assert t.command[1] == 0.3
    t.press('e')
    assert t.command == (0.0, 0.3, -0.2) and t.press('?') == ''
    assert 'vy +0.30 m/s  yaw rate -0.20 rad/s' in t.line()
    assert t.press(' ') == 'stop' and t.command == (0.0, 0.0, 0.0)
    t.press('q')
    assert t.press('x') == 'quit' and t.command == (0.0, 0.0, 0.0)   # quitting stops too
    assert 'lin_vel_x 0..0.8' in t.ranges_line()


@pytest.mark.parametrize('ranges, steps, message', [
    ({'lin_vel_x': (0, 1), 'lin_vel_y': (0, 1)}, (0.1, 0.1, 0.1), 'lack yaw_rate'),
    (dict(RANGES, yaw_rate=(1.0, -1.0)), (0.1, 0.1, 0.1), 'yaw_rate: low 1 above high -1'),
    (RANGES, (0.1, 0.0, 0.1), 'steps: expected three numbers > 0'),
])
def test_bad_ranges_and_steps_are_refused(ranges, steps, message):
    with pytest.raises(ValueError, match=message):
        KeyTeleop(ranges, steps)


def _teleop(env, stdin, *args):
    return subprocess.Popen([sys.executable, '-m', 'symphony_ros.cli.teleop_cmd', *args],
                            env=env, stdin=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


@pytest.mark.ros
def test_teleop_publishes_steadily_and_ends_on_a_zero_command(ros_env):
    import rclpy
    from geometry_msgs.msg import Twist
    from rclpy.node import Node

    from symphony_ros.nodes.messages import STATE_LATEST_QOS
    got = []
    rclpy.init()
    node = Node('teleop_listener')
    node.create_subscription(Twist, '/tele_test/cmd_vel',
                             lambda m: got.append((time.monotonic(), m.linear.x, m.linear.y,
                                                   m.angular.z)), STATE_LATEST_QOS)
    proc = _teleop(ros_env, subprocess.PIPE, '--policy', G1_STUDENT, '--namespace', 'tele_test')

    def spin(cond, what, timeout=60.0):
        assert spin_until(node, cond, timeout, [proc]), what
    try:
        spin(lambda: got, 'no command before any key')
        assert got[-1][1:] == (0.0, 0.0, 0.0)
        proc.stdin.write('wwwwq')
        proc.stdin.flush()
        spin(lambda: got[-1][1:] == (0.4, 0.0, 0.2), 'the keys\' command')
        n0 = len(got)
        spin(lambda: len(got) >= n0 + 5, 'a steady stream without keys')
        assert all(g[1:] == (0.4, 0.0, 0.2) for g in got[n0:])
        proc.stdin.write('x')
        proc.stdin.flush()
        out, _ = proc.communicate(timeout=30)
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
        node.destroy_node()
        rclpy.shutdown()
    assert proc.returncode == 0, out
    assert got[-1][1:] == (0.0, 0.0, 0.0), got[-3:]    # told to stand, not left walking
    assert 'publishing on /tele_test/cmd_vel at 20 Hz' in out
    assert 'within lin_vel_x -0.3..0.8, lin_vel_y -0.3..0.3, yaw_rate -0.8..0.8' in out
    assert 'stopped (quit key): sent a zero command' in out


@pytest.mark.ros
def test_a_terminal_gets_keys_as_pressed_and_is_restored(ros_env):
    master, slave = pty.openpty()
    proc = _teleop(ros_env, slave, '--namespace', 'tele_tty')
    try:
        deadline = time.monotonic() + 60
        text = ''
        while 'x: stop and quit' not in text:
            assert time.monotonic() < deadline, text
            text += proc.stdout.readline()
        os.write(master, b'w')                 # no Enter: cbreak mode takes it at once
        while 'vx +0.10' not in text:
            assert time.monotonic() < deadline, text
            text += proc.stdout.readline()
        os.write(master, b'\x03')              # Ctrl-C reaches it as a key: stop and quit
        text += proc.communicate(timeout=30)[0]
        mode = termios.tcgetattr(slave)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
        os.close(slave)
    assert proc.returncode == 0, text
    assert 'stopped (quit key): sent a zero command' in text
    assert mode[3] & termios.ICANON and mode[3] & termios.ISIG    # the terminal as it was


@pytest.mark.ros
def test_the_end_of_input_stops_with_a_zero_command(ros_env):
    proc = _teleop(ros_env, subprocess.DEVNULL, '--namespace', 'tele_eof')
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert 'stopped (end of input): sent a zero command' in out

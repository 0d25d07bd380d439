"""Keyboard velocity commands for a velocity-tracking policy (``symphony teleop``).

A walking policy follows ``cmd_vel``; with ROS 2 from pip there is no ``teleop_twist_keyboard``
to send it, so this is the one that ships. Each key press steps one part of the command by a
fixed amount, within the ranges the policy was trained on (a command beyond them is clipped
by policy_node anyway, and a person should see what the robot is asked, not more). Zero is
always reachable: standing still is a command every velocity policy takes.
"""

from __future__ import annotations

from typing import Dict, Mapping, Sequence, Tuple

FIELDS = ('lin_vel_x', 'lin_vel_y', 'yaw_rate')
"""The command's parts, in Twist order: linear.x (m/s), linear.y (m/s), angular.z (rad/s)."""
KEYS: Dict[str, Tuple[int, int]] = {'w': (0, 1), 's': (0, -1), 'a': (1, 1), 'd': (1, -1),
                                    'q': (2, 1), 'e': (2, -1)}
"""Key -> (part, direction): w/s forward/back, a/d left/right, q/e turn left/right."""
STOP_KEYS = (' ', 'k')
QUIT_KEYS = ('x', '\x03', '\x04')
"""x, Ctrl-C and Ctrl-D (a terminal in cbreak mode passes them as characters)."""
HELP = ('w/s: forward/back   a/d: left/right   q/e: turn left/right   space or k: stop   '
        'x: stop and quit')


class KeyTeleop:
    """A velocity command stepped by key presses within the trained ranges."""

    def __init__(self, ranges: Mapping[str, Sequence[float]],
                 steps: Sequence[float] = (0.1, 0.1, 0.2)) -> None:
        """Take the ranges ({part: (low, high)}) and the step of each part per key press.

        :raises ValueError: a part missing from ``ranges``, an inverted range or a step <= 0.
        """
        missing = [f for f in FIELDS if f not in ranges]
        if missing:
            raise ValueError(f'command ranges lack {", ".join(missing)}; expected '
                             f'{", ".join(FIELDS)}')
        self.limits = []
        for f in FIELDS:
            lo, hi = (float(v) for v in ranges[f])
            if lo > hi:
                raise ValueError(f'command range {f}: low {lo:g} above high {hi:g}')
            self.limits.append((min(lo, 0.0), max(hi, 0.0)))
        if len(steps) != 3 or min(steps) <= 0:
            raise ValueError(f'steps: expected three numbers > 0, got {list(steps)}')
        self.steps = tuple(float(s) for s in steps)
        self.value = [0.0, 0.0, 0.0]

    @property
    def command(self) -> Tuple[float, float, float]:
        """Return (vx m/s, vy m/s, yaw rate rad/s)."""
        return tuple(self.value)

    def press(self, key: str) -> str:
        """Apply one key; return 'quit', 'stop', 'moved', 'limit' (held at a range's end) or ''.

        Quitting also zeroes the command, so the last one sent is a stop.
        """
        if key in QUIT_KEYS or key in STOP_KEYS:
            self.value = [0.0, 0.0, 0.0]
            return 'quit' if key in QUIT_KEYS else 'stop'
        if key.lower() not in KEYS:
            return ''
        part, sign = KEYS[key.lower()]
        lo, hi = self.limits[part]
        before = self.value[part]
        # Rounded: ten steps of 0.1 land on 1.0, not 0.9999999999999999.
        self.value[part] = round(min(max(before + sign * self.steps[part], lo), hi), 9)
        return 'moved' if self.value[part] != before else 'limit'

    def line(self) -> str:
        """Say the command in one line."""
        vx, vy, wz = self.value
        return f'cmd_vel: vx {vx:+.2f} m/s  vy {vy:+.2f} m/s  yaw rate {wz:+.2f} rad/s'

    def ranges_line(self) -> str:
        """Say the ranges the keys move within."""
        return 'within ' + ', '.join(f'{f} {lo:g}..{hi:g}'
                                     for f, (lo, hi) in zip(FIELDS, self.limits))


__all__ = ['FIELDS', 'HELP', 'KEYS', 'KeyTeleop', 'QUIT_KEYS', 'STOP_KEYS']

"""Helpers for launch tests: run ``symphony launch`` as a real process and watch its output."""

import os
import re
from typing import List

from process_helpers import ChildProcess
import yaml

from symphony_ros.robot.description import get_robot
from symphony_ros.safety.params import NODE_KEY

HERE = os.path.dirname(os.path.abspath(__file__))


class Launcher(ChildProcess):
    """A ``symphony launch`` process (test graphs' helper nodes importable)."""

    def __init__(self, argv: List[str], env: dict) -> None:
        super().__init__(argv, dict(env, PYTHONPATH=os.pathsep.join(
            [HERE, env.get('PYTHONPATH', '')])))

    def child_pids(self) -> List[int]:
        """PIDs the launcher reported starting."""
        return [int(m) for m in re.findall(r'\[launch\] started \S+ \(pid (\d+)\)', self.text)]


def parity_watchdog(folder: str, robot: str = 'humanoid') -> str:
    """Write watchdog parameters for ``robot`` with the checks that change a run's physics
    relaxed; return the file's path.

    Soft joint limits far out, no tilt, height, velocity or saturation faults; every other
    check (stamps, staleness, NaN, shape, names, clamp to the effort limits, a PD robot's
    target jump) stays on.
    """
    n = get_robot(robot).n_joints
    params = {'max_tilt': 3.14, 'min_height': 0.0, 'max_saturation_time': 1000.0,
              'position_lower': [-10.0] * n, 'position_upper': [10.0] * n,
              'velocity_limits': [1000.0] * n}
    path = os.path.join(folder, f'watchdog_parity_{robot}.yaml')
    with open(path, 'w', encoding='utf-8') as f:
        yaml.safe_dump({NODE_KEY: {'ros__parameters': params}}, f)
    return path

"""Architecture rules that a refactor could silently break."""

import pkgutil
import subprocess
import sys

import symphony_ros

# Packages that talk to ROS; everything else must stay importable without rclpy.
ROS_PACKAGES = ('symphony_ros.nodes',)
ROS_MODULES = ('symphony_ros.cli.launch_cmd', 'symphony_ros.cli.record_cmd',
               'symphony_ros.cli.replay_cmd', 'symphony_ros.cli.demo_cmd')


def _pure_modules():
    for info in pkgutil.walk_packages(symphony_ros.__path__, 'symphony_ros.'):
        if info.name.startswith(ROS_PACKAGES) or info.name in ROS_MODULES:
            continue
        yield info.name


def test_core_never_imports_rclpy():
    """Import every pure module in a fresh interpreter and check rclpy stayed out."""
    modules = sorted(_pure_modules())
    assert 'symphony_ros.core.agent' in modules
    code = ('import importlib, sys\n'
            f'for m in {modules!r}: importlib.import_module(m)\n'
            "bad = sorted(m for m in sys.modules if m == 'rclpy' or m.startswith('rclpy.'))\n"
            "print(','.join(bad))\n")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == '', f'rclpy imported by the core: {out.stdout}'

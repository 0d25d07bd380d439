"""Architecture rules that a refactor could silently break."""

import os
import pkgutil
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import symphony_ros
import symphony_ros.nodes

# Packages that talk to ROS; everything else must stay importable without rclpy.
ROS_PACKAGES = ('symphony_ros.nodes',)
ROS_MODULES = ('symphony_ros.cli.launch_cmd', 'symphony_ros.cli.record_cmd',
               'symphony_ros.cli.replay_cmd', 'symphony_ros.cli.demo_cmd')


def _pure_modules():
    for info in pkgutil.walk_packages(symphony_ros.__path__, 'symphony_ros.'):
        if info.name.startswith(ROS_PACKAGES) or info.name in ROS_MODULES:
            continue
        yield info.name


def _loaded_after_import(modules, bad_test):
    """Import ``modules`` in a fresh interpreter; return the loaded modules ``bad_test`` names.

    :param bad_test: a Python expression in ``m``, a module name that must not be loaded.
    """
    code = ('import importlib, sys\n'
            f'for m in {modules!r}: importlib.import_module(m)\n'
            f"print(','.join(sorted(m for m in sys.modules if {bad_test})))\n")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_core_never_imports_rclpy():
    """Import every pure module in a fresh interpreter and check rclpy stayed out."""
    modules = sorted(_pure_modules())
    assert 'symphony_ros.core.agent' in modules
    bad = _loaded_after_import(modules, "m == 'rclpy' or m.startswith('rclpy.')")
    assert bad == '', f'rclpy imported by the core: {bad}'


def test_util_needs_neither_the_learning_core_nor_torch():
    """util/ is what nodes, graph and bags share: importing it loads no core module or torch."""
    modules = sorted(m for m in _pure_modules() if m.startswith('symphony_ros.util'))
    assert 'symphony_ros.util.atomic' in modules
    bad = _loaded_after_import(modules, "m == 'torch' or m.startswith('symphony_ros.core')")
    assert bad == '', f'util imported: {bad}'


def test_the_watchdog_node_loads_no_physics_learning_or_inference_library():
    """The safety node's process holds rclpy, numpy and the safety rules, nothing heavier.

    Every library it loads is one more way for the last line of defence to fail or to start
    slowly after a restart; MuJoCo, torch and onnxruntime are the policy's and the sim's.
    """
    heavy = ('mujoco', 'torch', 'onnx', 'onnxruntime', 'gymnasium')
    bad = _loaded_after_import(['symphony_ros.nodes.watchdog_node'],
                               f"m.split('.')[0] in {heavy!r}")
    assert bad == '', f'the watchdog node loads {bad}'


def test_the_policy_node_loads_no_learning_library():
    """The inference node on the robot's computer runs onnxruntime, not the learner.

    MuJoCo stays: it reads the robot's MJCF, the one source of its joints and limits.
    """
    heavy = ('torch', 'gymnasium', 'ray')
    bad = _loaded_after_import(['symphony_ros.nodes.policy_node'],
                               f"m.split('.')[0] in {heavy!r}")
    assert bad == '', f'the policy node loads {bad}'


def test_the_state_estimator_node_loads_no_learning_or_inference_library():
    """The leg odometry runs beside the policy on the robot computer: MuJoCo (the legs'
    kinematics) and numpy, not the learner or the policy's runtime."""
    heavy = ('torch', 'gymnasium', 'ray', 'onnx', 'onnxruntime')
    bad = _loaded_after_import(['symphony_ros.nodes.state_estimator_node'],
                               f"m.split('.')[0] in {heavy!r}")
    assert bad == '', f'the state estimator node loads {bad}'


def test_one_version_in_package_xml_setup_py_and_the_cli():
    """package.xml (colcon, rosdep), setup.py (pip) and `symphony --version` agree."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    xml_version = ET.parse(os.path.join(root, 'package.xml')).getroot().findtext('version')
    with open(os.path.join(root, 'setup.py')) as f:
        setup_version = re.search(r"version='([^']+)'", f.read()).group(1)
    out = subprocess.run([sys.executable, '-m', 'symphony_ros.cli.main', '--version'],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f'symphony_ros {symphony_ros.__version__}'
    assert xml_version == setup_version == symphony_ros.__version__


def _rclpy_init_calls(path):
    import ast
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == 'init' and getattr(node.func.value, 'id', '') == 'rclpy'):
            yield node


def test_every_node_program_handles_its_own_signals():
    """Each node starts rclpy without its signal handlers (``SignalHandlerOptions.NO``).

    rclpy's handler also raises KeyboardInterrupt into the main thread at whatever line it is
    on, inside rclpy's locks included; a lock left held there hangs the node's shutdown past
    SIGTERM. The nodes' own handler (nodes/signals.py) only sets a flag.
    """
    import ast
    nodes = os.path.dirname(symphony_ros.nodes.__file__)
    calls = 0
    for name in sorted(os.listdir(nodes)):
        if not name.endswith('.py'):
            continue
        for call in _rclpy_init_calls(os.path.join(nodes, name)):
            calls += 1
            options = {k.arg: ast.unparse(k.value) for k in call.keywords}
            assert options.get('signal_handler_options') == 'SignalHandlerOptions.NO', (
                f'nodes/{name}:{call.lineno}: rclpy.init without '
                'signal_handler_options=SignalHandlerOptions.NO')
    assert calls >= 5   # sim, policy, watchdog, trainer, recorder, player

"""launch/*.launch.py declare exactly the graph's arguments and build the graph's nodes.

Always: the files run against small stand-ins for launch/launch_ros that record what they
are given. Where launch_ros is installed, also with the real thing.
"""

import importlib.util
import os
import sys
import types

import pytest

from symphony_ros.graph import DEPLOY, TRAIN, NodeSpec

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FILES = {'deploy': (os.path.join(ROOT, 'launch', 'deploy.launch.py'), DEPLOY),
         'train': (os.path.join(ROOT, 'launch', 'train.launch.py'), TRAIN)}


class Recorded:
    """Stand-in for any launch action: keeps its arguments."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class LaunchConfiguration:
    def __init__(self, name):
        self.name = name

    def perform(self, context):
        return context[self.name]


class ParameterValue:
    def __init__(self, value, value_type=None):
        self.value, self.value_type = value, value_type


def fake_launch(monkeypatch):
    """Install recording stand-ins for the launch and launch_ros modules."""
    classes = {
        'launch': {'LaunchDescription': Recorded},
        'launch.actions': {n: type(n, (Recorded,), {}) for n in (
            'DeclareLaunchArgument', 'OpaqueFunction', 'ExecuteProcess', 'LogInfo',
            'Shutdown')},
        'launch.substitutions': {'LaunchConfiguration': LaunchConfiguration},
        'launch_ros': {},
        'launch_ros.actions': {'Node': type('Node', (Recorded,), {})},
        'launch_ros.parameter_descriptions': {'ParameterValue': ParameterValue},
    }
    for name, attrs in classes.items():
        module = types.ModuleType(name)
        module.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, name, module)


def load(path):
    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('which', sorted(FILES))
def test_launch_file_declares_the_graph_args(monkeypatch, which):
    path, gdef = FILES[which]
    fake_launch(monkeypatch)
    description = load(path).generate_launch_description()
    *declared, opaque = description.args[0]
    assert type(opaque).__name__ == 'OpaqueFunction'
    expected = gdef.args()
    assert [d.args[0] for d in declared] == [a.name for a in expected]
    for d, a in zip(declared, expected):
        assert d.kwargs['default_value'] == a.default
        assert d.kwargs['description'] == a.description
        assert d.kwargs.get('choices') == (list(a.choices) if a.choices else None)


def test_deploy_launch_file_builds_the_graph_nodes(monkeypatch):
    path, gdef = FILES['deploy']
    fake_launch(monkeypatch)
    *_, opaque = load(path).generate_launch_description().args[0]
    values = {a.name: a.default for a in gdef.args()}
    values.update(robot='real', imu_topic='/robot/imu', record='true', record_dir='/tmp/b')
    actions = opaque.kwargs['function'](values)
    graph = gdef(values)
    nodes = [a for a in actions if type(a).__name__ == 'Node']
    by_name = {n.kwargs['name']: n for n in nodes}
    ours = [e for e in graph.active() if isinstance(e, NodeSpec) and e.package == 'symphony_ros']
    assert [e.name for e in ours] == ['policy_node', 'watchdog_node']
    for spec in ours:
        node = by_name[spec.name]
        assert (node.kwargs['package'], node.kwargs['executable']) == (
            'symphony_ros', spec.executable)
        assert node.kwargs['remappings'] == list(spec.remappings)
        assert ('imu/data', '/robot/imu') in node.kwargs['remappings']
        *files, inline = node.kwargs['parameters']
        assert files == list(spec.param_files)
        # Strings are wrapped so launch_ros does not reparse them as YAML.
        plain = {k: v.value if isinstance(v, ParameterValue) else v for k, v in inline.items()}
        assert plain == dict(spec.parameters)
        assert type(node.kwargs['on_exit'][0]).__name__ == 'Shutdown'
    recorder, = [a for a in actions if type(a).__name__ == 'ExecuteProcess']
    assert recorder.kwargs['cmd'][2:5] == ['symphony_ros.cli.record_cmd', '-o', '/tmp/b']
    rsp_seen = 'robot_state_publisher' in by_name or any(
        'robot_state_publisher' in a.kwargs.get('msg', '') for a in actions
        if type(a).__name__ == 'LogInfo')
    assert rsp_seen


def _real_launch():
    try:
        from launch import LaunchDescription  # noqa: F401
        from launch_ros.actions import Node  # noqa: F401
    except ImportError:
        pytest.skip('launch_ros is not installed (pip-only rclpy)')


@pytest.mark.parametrize('which', sorted(FILES))
def test_launch_files_with_real_launch_ros(which):
    _real_launch()
    from launch import LaunchContext
    from launch.actions import DeclareLaunchArgument, OpaqueFunction
    from launch_ros.actions import Node
    path, gdef = FILES[which]
    description = load(path).generate_launch_description()
    declared = [e for e in description.entities if isinstance(e, DeclareLaunchArgument)]
    assert [d.name for d in declared] == [a.name for a in gdef.args()]
    context = LaunchContext()
    for d in declared:
        d.visit(context)
    opaque, = [e for e in description.entities if isinstance(e, OpaqueFunction)]
    actions = opaque.visit(context)
    active = {(e.package, e.executable) for e in gdef({}).active() if isinstance(e, NodeSpec)}
    built = {(a.node_package, a.node_executable) for a in actions if isinstance(a, Node)}
    assert ('symphony_ros', 'trainer_node' if which == 'train' else 'policy_node') in built
    assert built <= active

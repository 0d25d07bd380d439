"""Graph -> launch_ros actions, for ``launch/*.launch.py`` under ``ros2 launch``.

Same semantics as ``symphony launch``: optional nodes of packages that are not installed are
skipped with a log line, and the end of a required process shuts the whole launch down.
Uses only APIs present in Humble, Jazzy and Kilted. ``launch`` and ``launch_ros`` are
imported inside the functions, so this module imports anywhere.
"""

from __future__ import annotations

import shutil
from typing import Any, Dict, List, Union

from .spec import Graph, LaunchArg, NodeSpec, ProcessSpec


def package_installed(package: str) -> bool:
    """Whether the ament index knows ``package``."""
    try:
        from ament_index_python.packages import get_package_prefix
        get_package_prefix(package)
        return True
    except (ImportError, LookupError, OSError):
        return False


def declare(args: List[LaunchArg]) -> List[Any]:
    """One DeclareLaunchArgument per graph argument (default, description, choices)."""
    from launch.actions import DeclareLaunchArgument
    out = []
    for a in args:
        kw: Dict[str, Any] = {'choices': list(a.choices)} if a.choices else {}
        out.append(DeclareLaunchArgument(a.name, default_value=a.default,
                                         description=a.description, **kw))
    return out


def _parameters(node: NodeSpec) -> List[Union[str, Dict[str, Any]]]:
    from launch_ros.parameter_descriptions import ParameterValue

    # Strings stay strings: without value_type, launch_ros parses them as YAML, which
    # turns a URDF or a value like 'true' into something else.
    values = {k: ParameterValue(v, value_type=str) if isinstance(v, str) else v
              for k, v in node.parameters.items()}
    return [*node.param_files, values] if values else list(node.param_files)


def to_actions(graph: Graph) -> List[Any]:
    """launch_ros ``Node`` / launch ``ExecuteProcess`` actions for the graph's active entities."""
    from launch.actions import ExecuteProcess, LogInfo, Shutdown
    from launch_ros.actions import Node

    actions: List[Any] = []
    for entity in graph.active():
        on_exit = None if entity.optional else [Shutdown(reason=f'{entity.name} exited')]
        if isinstance(entity, NodeSpec):
            if entity.optional and not package_installed(entity.package):
                actions.append(LogInfo(msg=f'skipping optional {entity.name}: package '
                                       f'{entity.package!r} not found'))
                continue
            # A node's own SIGINT grace becomes launch's SIGTERM escalation delay.
            grace = ({'sigterm_timeout': str(entity.stop_timeout)} if entity.stop_timeout
                     else {})
            actions.append(Node(package=entity.package, executable=entity.executable,
                                name=entity.name, namespace=entity.namespace or None,
                                parameters=_parameters(entity),
                                remappings=list(entity.remappings),
                                arguments=list(entity.arguments), output='screen',
                                on_exit=on_exit, **grace))
        elif isinstance(entity, ProcessSpec):
            if entity.optional and shutil.which(entity.cmd[0]) is None:
                actions.append(LogInfo(msg=f'skipping optional {entity.name}: '
                                       f'{entity.cmd[0]!r} not found'))
                continue
            actions.append(ExecuteProcess(cmd=list(entity.cmd), name=entity.name,
                                          additional_env=dict(entity.env), output='screen',
                                          on_exit=on_exit))
    return actions

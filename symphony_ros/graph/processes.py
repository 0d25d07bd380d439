"""A graph as command lines: how ``symphony launch`` starts each node without ``ros2 run``.

Our nodes run as ``python -m symphony_ros.nodes.<name>`` with the launcher's interpreter, so
they work with pip-installed rclpy; other packages' nodes are found through the ament index
(``<prefix>/lib/<package>/<executable>``), as ``ros2 run`` finds them.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import yaml

from .spec import Entity, Graph, NodeSpec


@dataclass
class Planned:
    """One process to start: its command line, or why it cannot start."""

    name: str
    argv: List[str]
    required: bool
    env: Dict[str, str] = field(default_factory=dict)
    parameters: Dict[str, Any] = field(default_factory=dict)
    params_file: Optional[str] = None
    missing: Optional[str] = None
    """Why the executable or a file is missing; None when it can start."""
    stop_timeout: float = 0.0
    """The node's own SIGINT grace (NodeSpec.stop_timeout); 0 = the runner's."""


class NotFound(Exception):
    """An executable, module or package that is not installed; the message says which."""


def ros_executable(package: str, executable: str) -> str:
    """Path of a ROS package's executable, as ``ros2 run`` resolves it.

    :raises NotFound: naming the package or the executable.
    """
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_prefix
    except ImportError:
        raise NotFound('ament_index_python is not installed') from None
    try:
        prefix = get_package_prefix(package)
    except (PackageNotFoundError, OSError):  # OSError: AMENT_PREFIX_PATH is not set
        raise NotFound(f'package {package!r} not found (no ROS 2 distro sourced, or it is '
                       'not installed)') from None
    path = os.path.join(prefix, 'lib', package, executable)
    if not os.access(path, os.X_OK):
        raise NotFound(f'executable {executable!r} not found in package {package!r}')
    return path


def base_command(entity: Entity) -> List[str]:
    """Return the command line of an entity, before any ROS arguments.

    :raises NotFound: when it is not installed.
    """
    if isinstance(entity, NodeSpec):
        if entity.module:
            try:
                found = importlib.util.find_spec(entity.module)
            except ModuleNotFoundError:
                found = None
            if found is None:
                raise NotFound(f'module {entity.module} not found')
            return [sys.executable, '-m', entity.module, *entity.arguments]
        return [ros_executable(entity.package, entity.executable), *entity.arguments]
    exe = entity.cmd[0]
    resolved = exe if os.path.isabs(exe) else shutil.which(exe)
    if resolved is None or not os.access(resolved, os.X_OK):
        raise NotFound(f'executable {exe!r} not found on PATH')
    return [resolved, *entity.cmd[1:]]


def ros_arguments(node: NodeSpec, params_file: Optional[str]) -> List[str]:
    """``--ros-args`` of a node: its name and namespace, parameter files, then remappings."""
    out = ['--ros-args', '-r', f'__node:={node.name}']
    if node.namespace:
        out += ['-r', f'__ns:=/{node.namespace}']
    for path in node.param_files + ((params_file,) if params_file else ()):
        out += ['--params-file', path]
    for src, dst in node.remappings:
        out += ['-r', f'{src}:={dst}']
    return out


def params_yaml(node: NodeSpec) -> str:
    """Render the launch-argument parameters of a node as a ROS 2 parameter file.

    Keyed by the node's full name, not ``/**``: rclcpp lets a node-specific entry beat a
    wildcard one whatever the file order, so only an exact key reliably overrides a
    ``config/`` file keyed by the node.
    """
    return yaml.safe_dump({node.full_name: {'ros__parameters': dict(node.parameters)}},
                          sort_keys=False, width=1 << 20)


def _fallback_argv(entity: Entity) -> List[str]:
    # What a dry run shows for something that is not installed.
    if isinstance(entity, NodeSpec):
        return [entity.executable, *entity.arguments]
    return list(entity.cmd)


def plan(graph: Graph, params_dir: str, write: bool = True) -> List[Planned]:
    """Command lines of the graph's active entities; parameter files go to ``params_dir``.

    :param write: write the parameter files (False for a dry run).
    """
    out = []
    for entity in graph.active():
        try:
            argv, missing = base_command(entity), None
        except NotFound as exc:
            argv, missing = _fallback_argv(entity), str(exc)
        if not isinstance(entity, NodeSpec):
            out.append(Planned(entity.name, argv, not entity.optional, dict(entity.env),
                               missing=missing))
            continue
        params_file = (os.path.join(params_dir, f'{entity.name}.yaml') if entity.parameters
                       else None)
        argv += ros_arguments(entity, params_file)
        absent = [p for p in entity.param_files if not os.path.isfile(p)]
        if absent and missing is None:
            missing = f'parameter file {absent[0]} not found'
        if params_file and write:
            with open(params_file, 'w', encoding='utf-8') as f:
                f.write(params_yaml(entity))
        out.append(Planned(entity.name, argv, not entity.optional,
                           parameters=dict(entity.parameters), params_file=params_file,
                           missing=missing, stop_timeout=entity.stop_timeout))
    return out

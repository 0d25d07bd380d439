"""WatchdogConfig <-> ROS parameters: type coercion, declaration order, YAML and docs.

``python -m symphony_ros.safety.params > config/watchdog.yaml`` regenerates the shipped
parameter file from the dataclass defaults, so the two cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import sys
import typing
from typing import Any, Callable, Dict, List, Optional

from symphony_ros.util.fields import field_docs as _field_docs
from symphony_ros.safety.config import WatchdogConfig

NODE_NAME = 'watchdog_node'
NODE_KEY = f'/**/{NODE_NAME}'
"""Parameter-file key of the watchdog in any namespace (a bare name matches the root only)."""
Declare = Callable[[str, Any, str], Any]
"""declare(name, default, description) -> value in force (the default or an override)."""


def field_docs() -> Dict[str, str]:
    """Return the one-line docstring of every WatchdogConfig field (parameter descriptions)."""
    return _field_docs(WatchdogConfig)


@functools.lru_cache(maxsize=None)
def _field_types() -> Dict[str, Any]:
    return typing.get_type_hints(WatchdogConfig)


def coerce(name: str, value: Any) -> Any:
    """Convert a ROS parameter value to the field's Python type.

    :raises ValueError: naming the parameter and the expected type.
    """
    kind = _field_types()[name]
    args = typing.get_args(kind)
    if value is None:
        if kind is str or kind is bool or kind is int or kind is float:
            raise ValueError(f'parameter {name} is not set; expected a {kind.__name__}')
        return () if args and args[-1] is Ellipsis else None
    if args and args[-1] is Ellipsis:  # Tuple[X, ...]
        item = args[0]
        if isinstance(value, (str, bytes)) or not hasattr(value, '__iter__'):
            raise ValueError(f'parameter {name} must be a list of {item.__name__}, got {value!r}')
        return tuple(_scalar(name, item, v) for v in value)
    if type(None) in args:  # Optional[float]
        return _scalar(name, args[0], value)
    return _scalar(name, kind, value)


def from_params(params: Dict[str, Any]) -> WatchdogConfig:
    """Build a config from ROS-parameter-like values (lists, ints for floats, None).

    :raises ValueError: naming the parameter, for an unknown name or a wrong type.
    """
    known = {f.name for f in dataclasses.fields(WatchdogConfig)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(f'unknown watchdog parameters: {", ".join(unknown)}')
    return WatchdogConfig(**{k: coerce(k, v) for k, v in params.items()})


def _scalar(name: str, kind: type, value: Any) -> Any:
    ok = {bool: isinstance(value, bool),
          int: isinstance(value, int) and not isinstance(value, bool),
          float: isinstance(value, (int, float)) and not isinstance(value, bool),
          str: isinstance(value, str)}[kind]
    if not ok:
        raise ValueError(f'parameter {name} must be {kind.__name__}, got {value!r} '
                         f'({type(value).__name__})')
    return kind(value)


def declare_all(declare: Declare) -> WatchdogConfig:
    """Declare every field in dataclass order and build the resolved config.

    A field's default is derived from the values in force above it, so an override of e.g.
    ``policy_period`` moves the derived ``command_timeout`` default with it. The derivation
    runs once, and again only after a value that differs from its default (an override).

    :raises ValueError: for a bad value, naming the parameter.
    """
    docs = field_docs()
    values: Dict[str, Any] = {}
    partial: Optional[WatchdogConfig] = None
    for f in dataclasses.fields(WatchdogConfig):
        if partial is None:
            partial = from_params(values).partially_resolved()
        default = to_ros_value(getattr(partial, f.name))
        values[f.name] = declare(f.name, default, docs.get(f.name, ''))
        if coerce(f.name, values[f.name]) != coerce(f.name, default):
            partial = None   # the fields below derive from the override
    return from_params(values).resolved()


def to_ros_value(value: Any) -> Any:
    """Python field value -> ROS parameter value (tuples become lists, () becomes None)."""
    if isinstance(value, tuple):
        return list(value) if value else None
    return value


def to_ros_parameters(cfg: WatchdogConfig) -> Dict[str, Any]:
    """Every field of a config as ROS parameter values."""
    return {f.name: to_ros_value(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}


def _yaml_value(value: Any) -> str:
    if isinstance(value, float) and math.isinf(value):
        return '.inf' if value > 0 else '-.inf'
    if isinstance(value, list):
        return '[' + ', '.join(_yaml_value(v) for v in value) + ']'
    if isinstance(value, float):
        return repr(round(value, 12))
    return json.dumps(value)


def render_yaml(cfg: Optional[WatchdogConfig] = None, node_key: str = NODE_KEY) -> str:
    """ROS 2 parameter file (``node: ros__parameters:``) of a config, each field commented.

    A field left to be derived (robot facts, timeouts from the policy period) is written as
    a comment, not a value: the robot description stays the one source of its limits, and
    the file fits any robot. ``cfg`` is validated first.
    """
    cfg = cfg or WatchdogConfig()
    cfg.resolved()
    docs = field_docs()
    lines = ['# Generated by `python -m symphony_ros.safety.params`; edit WatchdogConfig '
             '(symphony_ros/safety/config.py) and regenerate.',
             '# Commented fields are derived from the robot description (`robot`) and the '
             'policy period;',
             '# set them in a watchdog_config:= file to override.',
             f'{node_key}:', '  ros__parameters:']
    for name, value in to_ros_parameters(cfg).items():
        lines.append(f'    # {docs.get(name, "")}')
        if value is None:
            lines.append(f'    # {name}: (derived)')
        else:
            lines.append(f'    {name}: {_yaml_value(value)}')
    return '\n'.join(lines) + '\n'


def markdown_table() -> str:
    """README table: parameter, default (derived ones with the humanoid's value), meaning."""
    resolved = WatchdogConfig().resolved()
    rows: List[str] = ['| parameter | default | meaning |', '|---|---|---|']
    for f in dataclasses.fields(WatchdogConfig):
        if f.default == ():
            shown = 'derived, per joint'
        elif f.default is None:
            shown = f'derived (humanoid: `{_yaml_value(getattr(resolved, f.name))}`)'
        else:
            shown = f'`{_yaml_value(to_ros_value(f.default))}`'
        rows.append(f'| `{f.name}` | {shown} | {field_docs().get(f.name, "")} |')
    return '\n'.join(rows) + '\n'


def main(argv: Optional[List[str]] = None) -> int:
    """Print the parameter file (default) or, with ``--markdown``, the README table."""
    argv = sys.argv[1:] if argv is None else argv
    sys.stdout.write(markdown_table() if '--markdown' in argv else render_yaml())
    return 0


if __name__ == '__main__':
    sys.exit(main())

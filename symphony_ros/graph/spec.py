"""The vocabulary of a node graph: launch arguments, nodes, processes, and their evaluation.

Plain data, no ROS imports: ``symphony launch`` turns a :class:`Graph` into processes and the
launch files turn the same graph into launch_ros actions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

Values = Mapping[str, Any]
"""Argument values after parsing: name -> bool/int/float/str, or None for an empty optional."""
Condition = Callable[[Values], bool]

BOOL_TEXT = {'true': True, 'false': False}
_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')


class GraphArgError(ValueError):
    """A bad ``name:=value``: unknown name, bad choice or wrong type; the message names it."""


def _always(values: Values) -> bool:
    return True


@dataclass(frozen=True)
class LaunchArg:
    """One launch argument: its text default (as ``ros2 launch`` takes it) and its type."""

    name: str
    default: str
    description: str
    choices: Optional[Tuple[str, ...]] = None
    type: type = str
    """bool, int, float or str; values are parsed into it (bools from 'true'/'false')."""
    allow_empty: bool = False
    """An empty value means "unset" (None): the node keeps its own default."""
    existing_file: bool = False
    """The value names a file that must exist; ``symphony launch`` checks before starting."""

    def parse(self, text: str) -> Any:
        """Parse ``text`` into this argument's type.

        :raises GraphArgError: naming the argument, the expected form and the value.
        """
        if text == '' and self.allow_empty:
            return None
        if self.choices is not None and text not in self.choices:
            raise GraphArgError(f'{self.name}:={text}: expected one of '
                                f'{"|".join(self.choices)}')
        if self.type is bool:
            if text.lower() not in BOOL_TEXT:
                raise GraphArgError(f'{self.name}:={text}: expected true or false')
            return BOOL_TEXT[text.lower()]
        if self.type in (int, float):
            try:
                return self.type(text)
            except ValueError:
                kind = 'an integer' if self.type is int else 'a number'
                raise GraphArgError(f'{self.name}:={text}: expected {kind}') from None
        return text


@dataclass(frozen=True)
class NodeSpec:
    """A ROS node: ``ros2 run <package> <executable>`` with name, parameters and remappings."""

    package: str
    executable: str
    name: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    """Values that come from launch arguments; applied after ``param_files``."""
    param_files: Tuple[str, ...] = ()
    remappings: Tuple[Tuple[str, str], ...] = ()
    arguments: Tuple[str, ...] = ()
    """Command-line arguments before ``--ros-args`` (e.g. a spawner's controller name)."""
    optional: bool = False
    """Skipped with a notice where its package is not installed (e.g. pip-only rclpy)."""
    condition: Condition = _always
    module: Optional[str] = None
    """Python module of one of our nodes: run as ``python -m <module>`` outside ament."""
    stop_timeout: float = 0.0
    """s the node may take after SIGINT before SIGTERM; 0 = the launcher's default. For a
    node that saves state on the way out (the trainer's checkpoint)."""
    namespace: str = ''
    """ROS namespace, without slashes ('' = the root); relative topic names resolve in it."""

    @property
    def full_name(self) -> str:
        """Return the fully qualified node name, e.g. ``/robot1/watchdog_node``."""
        return f'/{self.namespace}/{self.name}' if self.namespace else f'/{self.name}'


@dataclass(frozen=True)
class ProcessSpec:
    """A plain command (not a ROS node), e.g. the bag recorder or the Gazebo server."""

    name: str
    cmd: Tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    """Variables added to the inherited environment."""
    optional: bool = False
    condition: Condition = _always


Entity = Union[NodeSpec, ProcessSpec]


@dataclass(frozen=True)
class Graph:
    """A graph evaluated on argument values: every entity, and the values that built it."""

    name: str
    args: Tuple[LaunchArg, ...]
    values: Values
    entities: Tuple[Entity, ...]

    def active(self) -> List[Entity]:
        """Return the entities whose condition holds for these values, in start order."""
        return [e for e in self.entities if e.condition(self.values)]


@dataclass(frozen=True)
class GraphDef:
    """A named graph: argument declarations plus a builder from parsed values to entities.

    Calling it with raw ``name -> text`` assignments (partial; defaults fill the rest) returns
    the evaluated :class:`Graph`.
    """

    name: str
    description: str
    declare: Callable[[], Tuple[LaunchArg, ...]]
    build: Callable[[Values], Sequence[Entity]]

    def args(self) -> Tuple[LaunchArg, ...]:
        """Return the launch arguments, in declaration order."""
        return self.declare()

    def __call__(self, assignments: Optional[Mapping[str, str]] = None) -> Graph:
        """Evaluate the graph; raises GraphArgError for an unknown or bad argument."""
        args = self.args()
        values = resolve(args, assignments or {})
        return Graph(self.name, args, values, tuple(self.build(values)))


def resolve(args: Iterable[LaunchArg], assignments: Mapping[str, str]) -> Dict[str, Any]:
    """Parse ``assignments`` against ``args``, filling defaults.

    :raises GraphArgError: for an unknown name (listing the known ones) or a bad value.
    """
    by_name = {a.name: a for a in args}
    unknown = sorted(set(assignments) - set(by_name))
    if unknown:
        raise GraphArgError(f'unknown argument {unknown[0]!r}; expected one of: '
                            f'{", ".join(by_name)}')
    return {name: a.parse(str(assignments.get(name, a.default)))
            for name, a in by_name.items()}


def parse_assignments(tokens: Iterable[str]) -> Dict[str, str]:
    """``['robot:=sim', 'record:=true']`` -> ``{'robot': 'sim', 'record': 'true'}``.

    :raises GraphArgError: for a token without ``:=``, a bad name or a repeated name.
    """
    out: Dict[str, str] = {}
    for token in tokens:
        name, sep, value = token.partition(':=')
        if not sep:
            raise GraphArgError(f'expected name:=value, got {token!r}')
        if not _NAME.match(name):
            raise GraphArgError(f'bad argument name {name!r} in {token!r}')
        if name in out:
            raise GraphArgError(f'argument {name!r} given twice')
        out[name] = value
    return out

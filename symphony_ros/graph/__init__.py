"""One definition of each node graph, for both ``ros2 launch`` and ``symphony launch``.

A graph is plain data (:class:`NodeSpec`, :class:`ProcessSpec`) built from launch-argument
values. ``launch/*.launch.py`` turn it into launch_ros actions
(:mod:`symphony_ros.graph.ros_launch`); ``symphony launch`` runs it as processes
(:mod:`symphony_ros.cli.launch_cmd`). Nothing here imports rclpy or launch.

>>> graph = deploy_graph({'robot': 'real'})
>>> [e.name for e in graph.active()]
['policy_node', 'watchdog_node', 'robot_state_publisher']
"""

from __future__ import annotations

import importlib
from typing import Dict, Mapping, Optional

from .deploy import DEPLOY, deploy_args, mode_parameters, robot_description
from .spec import (Entity, Graph, GraphArgError, GraphDef, LaunchArg, NodeSpec, ProcessSpec,
                   parse_assignments, resolve)
from .topics import TOPICS, Topic
from .train import TRAIN, train_args

GRAPHS: Dict[str, GraphDef] = {'train': TRAIN, 'deploy': DEPLOY}


def train_graph(values: Optional[Mapping[str, str]] = None) -> Graph:
    """Return the train graph for ``name -> text`` argument values (defaults fill the rest)."""
    return TRAIN(values)


def deploy_graph(values: Optional[Mapping[str, str]] = None) -> Graph:
    """Return the deploy graph for ``name -> text`` argument values (defaults fill the rest)."""
    return DEPLOY(values)


def get_graph(name: str) -> GraphDef:
    """Find a graph by name (``train``, ``deploy``) or by ``package.module:ATTRIBUTE``.

    The second form runs a graph of your own through ``symphony launch``.

    :raises GraphArgError: for an unknown name or an attribute that is not a GraphDef.
    """
    if name in GRAPHS:
        return GRAPHS[name]
    module, sep, attr = name.partition(':')
    if not sep:
        raise GraphArgError(f'unknown graph {name!r}; expected {", ".join(GRAPHS)} or '
                            'package.module:GRAPH')
    try:
        found = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise GraphArgError(f'graph {name!r}: {exc}') from None
    if not isinstance(found, GraphDef):
        raise GraphArgError(f'graph {name!r} is a {type(found).__name__}, not a GraphDef')
    return found


__all__ = ['DEPLOY', 'Entity', 'GRAPHS', 'Graph', 'GraphArgError', 'GraphDef', 'LaunchArg',
           'NodeSpec', 'ProcessSpec', 'TOPICS', 'TRAIN', 'Topic', 'deploy_args', 'deploy_graph',
           'get_graph', 'mode_parameters', 'parse_assignments', 'resolve', 'robot_description',
           'train_args', 'train_graph']

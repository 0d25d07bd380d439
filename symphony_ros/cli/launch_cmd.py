"""``symphony launch``: run a node graph as processes, the same graph ``ros2 launch`` runs.

``symphony launch deploy robot:=sim record:=true`` evaluates the deploy graph on its
arguments and starts each node with ``--ros-args`` (our nodes as ``python -m``), prefixes
their output with the node name, and stops them all on Ctrl-C or when a required node ends.
Nodes of packages that are not installed (robot_state_publisher with pip-only rclpy) are
skipped if the graph marks them optional. Spawns processes only; never imports rclpy.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import sys
import tempfile
from typing import Any, Callable, Dict, List, Optional

from ..util.fields import number
from ..graph import GRAPHS, Graph, GraphArgError, get_graph, parse_assignments
from ..graph.processes import Planned, plan
from ..graph.spec import NodeSpec
from ..graph.runner import PREFIX, Runner
from .errors import CliError


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Graph name, ``name:=value`` arguments, dry run and stop timeouts."""
    p.add_argument('graph', metavar='GRAPH',
                   help=f'{" or ".join(GRAPHS)}, or package.module:GRAPH for a GraphDef of '
                   'your own')
    p.add_argument('assignments', nargs='*', metavar='name:=value',
                   help='launch arguments, as for ros2 launch (see --show-args)')
    p.add_argument('--show-args', action='store_true',
                   help="list the graph's arguments with defaults and exit")
    p.add_argument('--dry-run', action='store_true',
                   help='print the command line and parameters of every process and exit')
    p.add_argument('--sigint-timeout', type=number(float, 0), default=5.0, metavar='S',
                   help='seconds between SIGINT and SIGTERM when stopping (default: 5; a '
                   'node that declares a longer one keeps it: trainer_node 120)')
    p.add_argument('--sigterm-timeout', type=number(float, 0), default=5.0, metavar='S',
                   help='seconds between SIGTERM and SIGKILL when stopping (default: 5)')


def _show_args(graph_name: str) -> None:
    gdef = get_graph(graph_name)
    print(f'{gdef.name}: {gdef.description}')
    for a in gdef.args():
        choices = f' [{"|".join(a.choices)}]' if a.choices else ''
        print(f"  {a.name}:={a.default!r}{choices}\n      {a.description}")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 100 else f'<{len(str(value))} characters>'


PARAMS_DIR = '$PARAMS'
"""How a dry run writes the temporary parameter folder: it exists only while a graph runs."""


def _print_plan(planned: List[Planned], tmp: str) -> None:
    print(f'# {PARAMS_DIR}: a temporary folder made when the graph starts and removed when it '
          'ends; its files hold the parameters listed under each node')
    for p in planned:
        kind = 'required' if p.required else 'optional'
        state = f': SKIPPED, {p.missing}' if p.missing else ''
        print(f'# {p.name} ({kind}){state}')
        env = ' '.join(f'{k}={shlex.quote(v)}' for k, v in p.env.items())
        argv = [a.replace(tmp, PARAMS_DIR) for a in p.argv]
        print((env + ' ' if env else '') + shlex.join(argv))
        for name, value in p.parameters.items():
            print(f'#   {name}: {_short(value)}')


def _check_files(graph: Graph) -> None:
    for a in graph.args:
        value = graph.values[a.name]
        if not (a.existing_file and value):
            continue
        if os.path.isdir(value):
            raise CliError(f'{a.name}:={value}: is a folder, expected a file')
        if not os.path.isfile(value):
            raise CliError(f'{a.name}:={value}: file not found')


def _node_parameters(node: NodeSpec) -> Dict[str, Any]:
    """Return the parameters a node will start with: its files in order, then the graph's."""
    import yaml

    from ..util.strict_yaml import load_yaml, yaml_error_line
    merged: Dict[str, Any] = {}
    for path in node.param_files:
        try:
            with open(path, encoding='utf-8') as f:
                doc = load_yaml(f) or {}
        except OSError as exc:
            raise CliError(f'{path}: not a readable parameter file ({exc})') from None
        except yaml.YAMLError as exc:
            raise CliError(f'{path}: not a readable parameter file ({yaml_error_line(exc)})'
                           ) from None
        if not isinstance(doc, dict):
            raise CliError(f'{path}: expected node_name: ros__parameters: mappings')
        for key in ('/**', '**', node.name, '/' + node.name):
            entry = doc.get(key)
            if isinstance(entry, dict) and isinstance(entry.get('ros__parameters'), dict):
                merged.update(entry['ros__parameters'])
    merged.update(node.parameters)
    return merged


def _known(cls: type, params: Dict[str, Any]) -> Dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in params.items() if k in names}


def _check_policy_node(params: Dict[str, Any]) -> None:
    # The node's start-up: its config, then the policy file loaded against the robot.
    from ..deploy.config import PolicyNodeConfig
    from ..deploy.policy_loop import DeployError, PolicyLoop
    from ..policy.errors import PolicyError
    from ..robot import get_robot
    cfg = PolicyNodeConfig(**_known(PolicyNodeConfig, params))
    try:
        PolicyLoop(cfg.resolved_policy_path(), get_robot(cfg.robot))
    except (DeployError, PolicyError) as exc:
        raise ValueError(str(exc)) from None


def _check_sim_node(params: Dict[str, Any]) -> None:
    from ..sim.config import SimConfig
    SimConfig(**_known(SimConfig, params)).validate()


def _check_state_estimator_node(params: Dict[str, Any]) -> None:
    from ..deploy.state_estimator import StateEstimatorConfig
    from ..robot.description import get_robot, no_feet
    from ..robot.leg_odometry import LegOdometryConfig
    cfg = StateEstimatorConfig(**_known(StateEstimatorConfig, params))
    LegOdometryConfig(**_known(LegOdometryConfig, params)).validate()
    refusal = no_feet(get_robot(cfg.robot))
    if refusal:
        raise ValueError(refusal)


def _check_watchdog_node(params: Dict[str, Any]) -> None:
    from ..safety.params import declare_all
    declare_all(lambda name, default, doc: params.get(name, default))


def _check_trainer_node(params: Dict[str, Any]) -> None:
    from ..core.config import TrainConfig
    from ..core.envs import check_env_name
    from ..train.params import TrainerNodeConfig, override_fields, train_config
    TrainerNodeConfig(**_known(TrainerNodeConfig, params))
    declared = TrainConfig(**{k: ('' if v is None else v) for k, v in
                              _known(TrainConfig, params).items() if k != 'overrides'})
    cfg = train_config(declared, {n: params.get(n, 0) for n, _, _ in override_fields()})
    cfg.symphony()
    check_env_name(cfg.env)


NODE_RULES: Dict[str, Callable[[Dict[str, Any]], None]] = {
    'policy_node': _check_policy_node, 'mujoco_sim_node': _check_sim_node,
    'watchdog_node': _check_watchdog_node, 'trainer_node': _check_trainer_node,
    'state_estimator_node': _check_state_estimator_node}
"""Per executable of ours, the rules its node applies to its parameters (its own config
classes), run before any process starts."""


def check_node_parameters(graph: Graph) -> None:
    """Apply each node's own parameter rules to the values it would start with.

    A value a node refuses is then a one-line error before anything starts (also for
    ``--dry-run``), not a traceback inside a running graph.

    :raises CliError: naming the node, the parameter and what was expected.
    """
    for entity in graph.active():
        rule = NODE_RULES.get(getattr(entity, 'executable', ''))
        if rule is None:
            continue
        try:
            rule(_node_parameters(entity))
        except (ValueError, TypeError, KeyError) as exc:
            raise CliError(f'{entity.name}: {exc} (the node would refuse to start)') from None


def run(args: argparse.Namespace) -> int:
    """Evaluate the graph and run it (or print it); bad arguments raise CliError."""
    try:
        if args.show_args:
            _show_args(args.graph)
            return 0
        graph = get_graph(args.graph)(parse_assignments(args.assignments))
    except GraphArgError as exc:
        raise CliError(str(exc)) from None
    _check_files(graph)
    check_node_parameters(graph)
    with tempfile.TemporaryDirectory(prefix='symphony_launch_') as tmp:
        planned = plan(graph, tmp, write=not args.dry_run)
        if args.dry_run:
            _print_plan(planned, tmp)
            return 0
        for p in planned:
            if p.missing and p.required:
                raise CliError(f'{p.name}: {p.missing}')
            if p.missing:
                print(f'{PREFIX} skipping optional {p.name}: {p.missing}', flush=True)
        return Runner(planned, args.sigint_timeout, args.sigterm_timeout, sys.stdout).run()


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``symphony launch`` alone: ``python -m symphony_ros.cli.launch_cmd deploy ...``."""
    from .errors import standalone
    return standalone('launch', __doc__, add_arguments, run, argv)


if __name__ == '__main__':
    sys.exit(main())

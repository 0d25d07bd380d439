"""The train graph: trainer_node alone, its parameters the scalar fields of TrainConfig.

The algorithm overrides (hidden_dim, batch_size, ...) follow, 0 meaning the named config's,
then DistributedConfig's fields (collectors, ray_address, ...), trainer_node's own settings
(resume, tensorboard, ...), and three that the graph resolves into ``env`` and the rest, as
``symphony train`` does its flags: ``robot``, ``task`` and ``recipe``.

Launch arguments mirror TrainConfig one to one (name, default, one-line docstring), so
``symphony launch train steps:=5000``, ``ros2 launch symphony_ros train.launch.py
steps:=5000`` and ``symphony train --steps 5000`` all mean the same thing.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Tuple

from .spec import Entity, GraphArgError, GraphDef, LaunchArg, NodeSpec, Values

DEVICES = ('auto', 'cpu', 'cuda')
RESOLVED = ('robot', 'task', 'recipe')
"""Arguments the graph turns into the node's parameters; not parameters themselves."""
STOP_TIMEOUT = 120.0
"""s trainer_node gets after Ctrl-C to write its checkpoint (Humanoid ED: networks plus a
1.2 GB replay buffer) before the launcher escalates to SIGTERM."""


def _text(default: object) -> str:
    # The launch-argument text of a dataclass default: launch takes strings, bools as
    # 'true'/'false', and an empty string stands for None.
    if default is None:
        return ''
    if isinstance(default, bool):
        return 'true' if default else 'false'
    return str(default)


def train_args() -> Tuple[LaunchArg, ...]:
    """One argument per scalar TrainConfig field, with its default and docstring."""
    from ..core.config import CONFIGS, TrainConfig
    from ..util.fields import field_docs, scalar_fields
    docs = field_docs(TrainConfig)
    choices = {'config': tuple(CONFIGS), 'device': DEVICES}
    out = []
    for name, kind, default in scalar_fields(TrainConfig):
        if kind is bool:
            choices[name] = ('true', 'false')
        out.append(LaunchArg(name, _text(default), docs.get(name, ''), choices.get(name), kind,
                             allow_empty=default is None))
    from ..train.params import override_fields
    for name, kind, doc in override_fields():
        out.append(LaunchArg(name, '0', doc, None, kind))
    # Then the Ray settings of `symphony train --collectors N` (collectors 0: no Ray).
    from ..distributed.config import DistributedConfig
    ddocs = field_docs(DistributedConfig)
    for name, kind, default in scalar_fields(DistributedConfig):
        out.append(LaunchArg(name, _text(default), ddocs.get(name, ''), None, kind))
    from ..train.params import TrainerNodeConfig
    ndocs = field_docs(TrainerNodeConfig)
    for name, kind, default in scalar_fields(TrainerNodeConfig):
        out.append(LaunchArg(name, _text(default), ndocs.get(name, ''),
                             ('true', 'false') if kind is bool else None, kind))
    return tuple(out) + _resolved_args()


def _resolved_args() -> Tuple[LaunchArg, ...]:
    # symphony train's --robot, --task and --recipe, with the same meaning.
    return (
        LaunchArg('robot', '', 'Robot to train, by shipped name (g1) or robot-file path; sets '
                  'env to <task>:<robot>', allow_empty=True),
        LaunchArg('task', '', 'Task for robot (velocity when empty)', allow_empty=True),
        LaunchArg('recipe', '', 'A training recipe: a YAML file of train settings, or the name '
                  'of a shipped one (g1_velocity: config/recipes/). Every argument left at '
                  'its default takes the recipe\'s value', allow_empty=True))


def resolve_train_values(values: Values) -> Dict[str, Any]:
    """Return trainer_node's parameter values: ``recipe``, ``robot`` and ``task`` resolved.

    As ``symphony train`` does its flags: an argument left at its default takes the recipe's
    value, and an environment named on the command line (env, or robot and task) wins whole
    over the recipe's.

    :raises GraphArgError: a recipe that cannot be used, or env beside robot/task.
    """
    out = {k: v for k, v in values.items() if k not in RESOLVED}
    defaults = {a.name: a.parse(a.default) for a in train_args()}
    robot, task = values.get('robot'), values.get('task')
    if (robot is not None or task is not None) and out.get('env') != defaults['env']:
        raise GraphArgError('env and robot/task both name the environment; give one')
    if values.get('recipe'):
        from ..cli.recipe import recipe_updates
        updates = recipe_updates(_load_recipe(str(values['recipe'])), lambda k: (
            values.get(k) is not None if k in RESOLVED else values.get(k) != defaults[k]))
        robot, task = updates.pop('robot', robot), updates.pop('task', task)
        if 'stages' in updates:   # the node's parameter is text: the list as YAML flow
            updates['stages'] = json.dumps(updates['stages'])
        out.update(updates)
    if task is not None and robot is None:
        raise GraphArgError('task:= needs robot:= (a shipped robot name or a robot file)')
    if robot is not None:
        from ..robot.envs import task_env_id
        out['env'] = task_env_id(task or 'velocity', robot)
    return out


def _load_recipe(given: str) -> Dict[str, Any]:
    from ..cli.errors import CliError
    from ..cli.recipe import load_recipe, resolve_recipe
    label = f'recipe:={given}'
    try:
        return load_recipe(resolve_recipe(given, label), label)
    except CliError as exc:
        raise GraphArgError(str(exc)) from None


def train_entities(values: Values) -> List[Entity]:
    """trainer_node with every set argument as a parameter (None = the node's default)."""
    params = {k: v for k, v in resolve_train_values(values).items() if v is not None}
    return [NodeSpec('symphony_ros', 'trainer_node', 'trainer_node', parameters=params,
                     module='symphony_ros.nodes.trainer_node', stop_timeout=STOP_TIMEOUT)]


TRAIN = GraphDef('train', 'train a Symphony policy in MuJoCo (trainer_node)', train_args,
                 train_entities)

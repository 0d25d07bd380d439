"""The train graph: trainer_node alone, its parameters the scalar fields of TrainConfig.

The algorithm overrides (hidden_dim, batch_size, ...) follow, 0 meaning the named config's,
then DistributedConfig's fields (collectors, ray_address, ...).

Launch arguments mirror TrainConfig one to one (name, default, one-line docstring), so
``symphony launch train steps:=5000``, ``ros2 launch symphony_ros train.launch.py
steps:=5000`` and ``symphony train --steps 5000`` all mean the same thing.
"""

from __future__ import annotations

from typing import List, Tuple

from .spec import Entity, GraphDef, LaunchArg, NodeSpec, Values

DEVICES = ('auto', 'cpu', 'cuda')
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
    return tuple(out)


def train_entities(values: Values) -> List[Entity]:
    """trainer_node with every set argument as a parameter (None = the node's default)."""
    params = {k: v for k, v in values.items() if v is not None}
    return [NodeSpec('symphony_ros', 'trainer_node', 'trainer_node', parameters=params,
                     module='symphony_ros.nodes.trainer_node', stop_timeout=STOP_TIMEOUT)]


TRAIN = GraphDef('train', 'train a Symphony policy in MuJoCo (trainer_node)', train_args,
                 train_entities)

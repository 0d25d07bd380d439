"""trainer_node's parameters: TrainConfig's fields, the CLI's overrides, and node settings.

The node declares TrainConfig's scalar fields (one source of truth with ``symphony train``),
the algorithm overrides the CLI offers (``--hidden-dim``...), and :class:`TrainerNodeConfig`.
ROS parameters cannot be unset, so 0 / '' stand for None: :func:`train_config` maps them back.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Tuple

from ..core.config import OVERRIDABLE, SymphonyConfig, TrainConfig
from ..core.stages import load_stages, parse_stages
from ..util.fields import check_ranges, field_docs, ranged, scalar_fields


UNSET_NOTE = ' (0: the named config\'s)'


@dataclass(frozen=True)
class TrainerNodeConfig:
    """Settings of trainer_node that ``symphony train`` has as flags or does not need."""

    resume: bool = False
    """Continue the run in run_dir from its last checkpoint (symphony train --resume)."""
    tensorboard: bool = True
    """Write TensorBoard scalars to run_dir/tb."""
    policy_file: str = 'policy.onnx'
    """ONNX export of the best actor; relative paths are inside run_dir."""
    diagnostics_period: float = ranged(1.0, 0, above=True)
    """s between /diagnostics reports."""
    stages: str = ''
    """The run's stages (symphony train --stages): a stages file, or the stages themselves as
    YAML text (what a recipe's stages become); '' for none."""

    def __post_init__(self) -> None:
        """Refuse a field outside its declared range (ValueError naming it)."""
        check_ranges(self)


def override_fields() -> List[Tuple[str, type, str]]:
    """(name, type, description) of each overridable Symphony field, as node parameters."""
    types = {n: t for n, t, _ in scalar_fields(SymphonyConfig)}
    docs = field_docs(SymphonyConfig)
    return [(n, types[n], docs.get(n, '') + UNSET_NOTE) for n in OVERRIDABLE]


def overrides_from(values: Mapping[str, Any]) -> Dict[str, Any]:
    """Keep the overrides that are set (non-zero); a negative one is a ValueError naming it."""
    out = {}
    for name, typ, _ in override_fields():
        value = values.get(name, 0)
        if value is None or value == 0:
            continue
        if value < 0:
            raise ValueError(f'{name} must be positive (or 0 for the named config\'s), '
                             f'got {value}')
        out[name] = typ(value)
    return out


def train_config(declared: TrainConfig, overrides: Mapping[str, Any]) -> TrainConfig:
    """Build the TrainConfig of declared parameters: 0/'' back to None where that is the default.

    So a run started by the node writes the same config.json as ``symphony train`` (a resume
    compares them), and ``episode_limit``/``obs_spec`` keep their "env's own" meaning.
    """
    unset = {name: None for name, typ, default in scalar_fields(TrainConfig)
             if default is None and getattr(declared, name) == typ()}
    return dataclasses.replace(declared, overrides=overrides_from(overrides), **unset)


def stages_param(text: str) -> List[Dict[str, Any]]:
    """Return the stages the ``stages`` parameter gives: a file, YAML text, or '' for none.

    :raises ValueError: naming the parameter, the file, the stage and the key.
    """
    text = text.strip()
    if not text:
        return []
    if text.startswith(('[', '-', '{')):
        from ..util.strict_yaml import parse_yaml
        return parse_stages(parse_yaml(text, 'stages'), 'stages')
    return load_stages(text)


def policy_path(run_dir: str, policy_file: str) -> str:
    """Where the node exports the policy: ``policy_file``, relative to ``run_dir``."""
    return os.path.join(run_dir, policy_file)


_FLAG = re.compile(r'--([a-z][a-z0-9-]*)')


def ros_wording(message: str) -> str:
    """Rewrite CLI flags in an error message as parameter names (``--run-dir`` -> run_dir).

    ``--resume`` becomes ``resume:=true``: that is what a node user has to set.
    """
    def name(match: 're.Match[str]') -> str:
        param = match.group(1).replace('-', '_')
        return 'resume:=true' if param == 'resume' else param
    return _FLAG.sub(name, message)

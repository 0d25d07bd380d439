"""``symphony train --recipe FILE``: a training command kept in a YAML file.

``FILE`` is a path, or the name of a recipe shipped under ``config/recipes/`` (``--recipe
g1_velocity``). A recipe maps train flags, written without their dashes (``hidden-dim`` or
``hidden_dim``), to values, plus ``robot`` and ``task``: the long command a robot needs
(widths, critic, reward weights, randomisation) becomes a file that can be read, diffed and
shared, as ROS parameter files are; ``stages`` (a list, or a stages file beside the recipe)
makes a run's whole curriculum part of it (`core.stages`), and ``recipe`` names one it builds
on (a shipped name or a file beside it), taking its settings where it gives none. Each value
is checked as its flag's is (type, range, choices), and a key that is not a flag is refused
with the flags there are. A flag given on the command line wins over the recipe, so one
recipe serves many seeds and run folders; and as with flags, ``--resume`` with the same
recipe continues the run (its values agree with the run's config.json, a curriculum setting
may change).
"""

from __future__ import annotations

import argparse
import os
from typing import Any, Callable, Dict, List, Tuple

from ..core.config import (CONFIGS, ODOMETRY_SOURCES, OVERRIDABLE, STAND_GAITS, SymphonyConfig,
                           TrainConfig)
from ..core.stages import load_stages, parse_stages
from ..distributed.config import DistributedConfig
from ..paths import share_path
from ..util.fields import flag_text, flag_type, scalar_fields
from ..util.strict_yaml import load_yaml_file
from .errors import CliError

CHOICES = {'config': tuple(sorted(CONFIGS)), 'device': ('auto', 'cpu', 'cuda'),
           'odometry': ODOMETRY_SOURCES, 'stand_gait': STAND_GAITS}
"""Flags whose value is one of a list (as their argparse ``choices``)."""
ENV_KEYS = ('env',)
ROBOT_KEYS = ('robot', 'task')
"""Two ways to name the environment: the one given on the command line drops the other."""


def recipe_types() -> Dict[str, Callable[[str], Any]]:
    """Return each key a recipe may set and the checked converter of its flag."""
    types: Dict[str, Callable[[str], Any]] = {
        n: flag_type(TrainConfig, n, t) for n, t, _ in scalar_fields(TrainConfig)}
    sym = {n: t for n, t, _ in scalar_fields(SymphonyConfig)}
    types.update({n: flag_type(SymphonyConfig, n, sym[n]) for n in OVERRIDABLE})
    types.update({n: flag_type(DistributedConfig, n, t)
                  for n, t, _ in scalar_fields(DistributedConfig)})
    types.update(robot=str, task=str)
    types.pop('run_dir', None)  # where a run goes is the command's, not the recipe's
    return types


def shipped_recipes() -> Dict[str, str]:
    """Return {name: path} of the recipes shipped under ``config/recipes/``."""
    try:
        folder = share_path('config', 'recipes')
    except FileNotFoundError:
        return {}
    return {f[:-len('.yaml')]: os.path.join(folder, f) for f in sorted(os.listdir(folder))
            if f.endswith('.yaml')}


def resolve_recipe(given: str, label: str = '') -> str:
    """Return the file ``--recipe`` names: a shipped recipe's name (g1_velocity) or a path.

    :param label: how errors name the setting (default ``--recipe GIVEN``).
    :raises CliError: a bare name that is neither a file nor a shipped recipe.
    """
    if os.path.exists(given) or os.sep in given or given.endswith(('.yaml', '.yml')):
        return given
    shipped = shipped_recipes()
    if given not in shipped:
        where = label or f'--recipe {given}'
        raise CliError(f'{where}: no such file, nor a shipped recipe (shipped: '
                       f'{", ".join(shipped) or "none"})')
    return shipped[given]


def load_recipe(path: str, label: str = '', seen: Tuple[str, ...] = ()) -> Dict[str, Any]:
    """Return {field name: checked value} of recipe ``path``.

    ``label`` is how errors name the setting (default ``--recipe PATH``). A recipe may build
    on another (``recipe: g1_velocity``), whose settings it takes where it gives none;
    ``seen``: the recipes being read, outermost first.

    :raises CliError: naming the file (and the key): unreadable, not YAML, not a mapping, a
        key that is not a train flag, or a value its flag refuses.
    """
    where = label or f'--recipe {path}'
    seen = (*seen, os.path.abspath(path))
    try:
        doc = load_yaml_file(path, where)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if not isinstance(doc, dict):
        raise CliError(f'{where}: expected a mapping of train flags to values, found '
                       f'{type(doc).__name__}')
    types = recipe_types()
    out: Dict[str, Any] = {}
    base: Dict[str, Any] = {}
    for key, value in doc.items():
        name = str(key).replace('-', '_')
        if name == 'stages':
            out[name] = _recipe_stages(value, path, where)
            continue
        if name == 'recipe':
            base = _base_recipe(value, path, where, seen)
            continue
        if name not in types:
            raise CliError(f'{where}: {key!r} is not a train flag; expected one of '
                           f'{", ".join(sorted(types))}')
        if value is None or isinstance(value, (dict, list)):
            raise CliError(f'{where}: {key}: expected one value, got {value!r}')
        try:
            out[name] = types[name](flag_text(value))
        except (argparse.ArgumentTypeError, ValueError) as exc:
            raise CliError(f'{where}: {key}: {exc}') from None
        if name in CHOICES and out[name] not in CHOICES[name]:
            raise CliError(f'{where}: {key}: expected one of '
                           f'{", ".join(CHOICES[name])}, got {out[name]!r}')
    if 'env' in out and set(ROBOT_KEYS) & set(out):
        raise CliError(f'{where}: env and robot/task both name the environment; '
                       'give one')
    return {**recipe_updates(base, lambda k: k in out), **out}


def _base_recipe(value: Any, path: str, where: str, seen: Tuple[str, ...]) -> Dict[str, Any]:
    """Return the recipe a recipe builds on (``recipe: NAME``): shipped, or a path beside it."""
    if not isinstance(value, str):
        raise CliError(f'{where}: recipe: expected a recipe name or file, got {value!r}')
    given = value if os.path.isabs(value) else os.path.join(os.path.dirname(path), value)
    found = resolve_recipe(given if os.path.exists(given) else value, f'{where}: recipe')
    if os.path.abspath(found) in seen:
        raise CliError(f'{where}: recipe: {value} builds on itself')
    return load_recipe(found, f'{where}: recipe {value}', seen)


def _recipe_stages(value: Any, path: str, where: str) -> List[Dict[str, Any]]:
    """Return a recipe's stages: written in it (a list), or a file beside it (a path)."""
    try:
        if isinstance(value, str):
            return load_stages(os.path.join(os.path.dirname(path), value))
        return parse_stages(value, 'stages')
    except ValueError as exc:
        raise CliError(f'{where}: {exc}') from None


def recipe_updates(recipe: Dict[str, Any], given: Callable[[str], bool]) -> Dict[str, Any]:
    """Return the settings of ``recipe`` a command takes: those it did not give itself.

    The environment goes whole: a command that names the robot (robot or task) drops the
    recipe's env, and one that names the env drops its robot and task.

    :param given: whether the command gave a setting, by name.
    """
    skip = {k for k in recipe if given(k)}
    if any(given(k) for k in ROBOT_KEYS):
        skip |= set(ENV_KEYS)
    if any(given(k) for k in ENV_KEYS):
        skip |= set(ROBOT_KEYS)
    return {k: v for k, v in recipe.items() if k not in skip}


def apply_recipe(args: argparse.Namespace) -> Tuple[int, int]:
    """Fill the flags not given in ``args`` from its ``--recipe``; return (taken, overridden).

    See :func:`recipe_updates`.

    :raises CliError: see :func:`load_recipe`.
    """
    path = getattr(args, 'recipe', None)
    if not path:
        return 0, 0
    recipe = load_recipe(resolve_recipe(path))
    updates = recipe_updates(recipe, lambda k: getattr(args, k, None) is not None)
    for key, value in updates.items():
        setattr(args, key, value)
    return len(updates), len(recipe) - len(updates)


__all__ = ['apply_recipe', 'load_recipe', 'recipe_types', 'recipe_updates', 'resolve_recipe',
           'shipped_recipes']

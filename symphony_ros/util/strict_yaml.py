"""YAML for files a person writes: safe types only, and a key given twice is an error.

PyYAML keeps the last of two equal keys in a mapping without a word, so a robot file with
two ``tasks:`` blocks (an edit pasted below the old one) would silently train on the block
the user did not mean. Here the second occurrence raises a ``yaml.YAMLError`` naming the key
and both lines, which every caller already reports with the file's name.
"""

from __future__ import annotations

from typing import IO, Any, Union

import yaml


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader whose mappings refuse duplicate keys."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict:
    seen = {}
    for key_node, _ in node.value:
        if key_node.tag == 'tag:yaml.org,2002:merge':
            continue  # keys merged in (<<) may be overridden: only the mapping's own count
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:  # an unhashable key: construct_mapping reports it
            break
        if first is not None:
            raise yaml.constructor.ConstructorError(
                'while constructing a mapping', node.start_mark,
                f'key {key!r} is given twice (first on line {first.line + 1})',
                key_node.start_mark)
        seen[key] = key_node.start_mark
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_yaml(stream: Union[str, bytes, IO[Any]]) -> Any:
    """Parse one YAML document with safe types, refusing a mapping key given twice.

    :raises yaml.YAMLError: bad YAML, or a duplicate key (naming it and both lines).
    """
    return yaml.load(stream, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)


def parse_yaml(stream: Union[str, bytes, IO[Any]], where: str) -> Any:
    """Return the one YAML document of ``stream`` (`load_yaml`).

    :raises ValueError: ``where`` first, then that it is not YAML and on which line.
    """
    try:
        return load_yaml(stream)
    except yaml.YAMLError as exc:
        raise ValueError(f'{where}: not YAML ({yaml_error_line(exc)})') from None


def load_yaml_file(path: str, where: str) -> Any:
    """Return the one YAML document of file ``path`` (`parse_yaml`).

    :raises ValueError: ``where`` first, then that the file cannot be read or is not YAML.
    """
    try:
        with open(path, encoding='utf-8') as fh:
            return parse_yaml(fh, where)
    except OSError as exc:
        raise ValueError(f'{where}: cannot be read ({exc.strerror})') from None


def yaml_error_line(exc: yaml.YAMLError) -> str:
    """Return a one-line account of a YAML error: what is wrong and on which line."""
    problem = getattr(exc, 'problem', None)
    mark = getattr(exc, 'problem_mark', None)
    if problem and mark is not None:
        return f'{problem} (line {mark.line + 1}, column {mark.column + 1})'
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__

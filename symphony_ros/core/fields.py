"""Dataclass fields as user-facing settings.

Their one-line docstrings become CLI help and ROS parameter descriptions, so defaults and
their explanations live in one place.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import textwrap
import typing
from typing import Any, Dict, List, Tuple


@functools.lru_cache(maxsize=None)
def field_docs(cls: type) -> Dict[str, str]:
    """Map each dataclass field of ``cls`` to the string literal written under it."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):
        return {}
    body = tree.body[0].body
    docs = {}
    for node, nxt in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)):
            docs[node.target.id] = ' '.join(nxt.value.value.split())
    return docs


def scalar_fields(cls: type) -> List[Tuple[str, type, Any]]:
    """(name, type, default) of the fields of ``cls`` whose type is bool/int/float/str.

    ``Optional[X]`` counts as X (its default may be None).
    """
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        t = hints[f.name]
        args = [a for a in typing.get_args(t) if a is not type(None)]
        if typing.get_origin(t) is typing.Union and len(args) == 1:
            t = args[0]
        if t in (bool, int, float, str) and f.default is not dataclasses.MISSING:
            out.append((f.name, t, f.default))
    return out


def settings_table(cls: type) -> str:
    """Markdown table of the scalar settings of ``cls``: name, default, meaning (for READMEs).

    The README's node parameter tables are this output; a test keeps them in step.
    """
    docs = field_docs(cls)
    rows = ['| parameter | default | meaning |', '|---|---|---|']
    for name, _, default in scalar_fields(cls):
        rows.append(f'| `{name}` | `{_as_ros_text(default)}` | {docs.get(name, "")} |')
    return '\n'.join(rows) + '\n'


def _as_ros_text(value: Any) -> str:
    """Write a default as it goes on a ``-p name:=value`` command line."""
    if isinstance(value, bool):
        return str(value).lower()
    return "''" if value == '' else str(value)

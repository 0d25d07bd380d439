"""Dataclass fields as user-facing settings.

Their one-line docstrings become CLI help and ROS parameter descriptions, and a numeric
field's declared :class:`Range` becomes the CLI flag's check, the ROS parameter's range and
the README table's "range" text, so a default, its meaning and its limits live in one place.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import textwrap
import math
import typing
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple


@dataclass(frozen=True)
class Range:
    """Allowed values of a numeric setting: finite, within [low, high] (bounds optional).

    ``above`` makes the low bound exclusive (``> low``); ``none_ok`` admits None (a field
    whose default None means "derived elsewhere").
    """

    low: Optional[float] = None
    high: Optional[float] = None
    above: bool = False
    none_ok: bool = False

    def text(self) -> str:
        """Say the range in words, e.g. ``>= 1``, ``> 0``, ``0 to 1``."""
        low = None if self.low is None else _number_text(self.low)
        high = None if self.high is None else _number_text(self.high)
        if low is not None and high is not None and not self.above:
            return f'{low} to {high}'
        parts = []
        if low is not None:
            parts.append(f'{">" if self.above else ">="} {low}')
        if high is not None:
            parts.append(f'<= {high}')
        return ' and '.join(parts) or 'finite'

    def problem(self, value: Any) -> Optional[str]:
        """Return what is wrong with ``value`` ("expected ... got ..."), or None if it is fine."""
        if value is None and self.none_ok:
            return None
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
              and math.isfinite(value)
              and (self.low is None or (value > self.low if self.above else value >= self.low))
              and (self.high is None or value <= self.high))
        return None if ok else f'expected a number {self.text()}, got {value!r}'


def _number_text(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(x)


def ranged(default: Any, low: Optional[float] = None, high: Optional[float] = None,
           above: bool = False) -> Any:
    """Return a dataclass field with a default and a declared :class:`Range`.

    Written in place of a plain default (``batch_size: int = ranged(384, 1)``), so the range
    sits beside the field's type, default and docstring.
    """
    rng = Range(low, high, above, none_ok=default is None)
    return dataclasses.field(default=default, metadata={'range': rng})


def field_range(cls: type, name: str) -> Optional[Range]:
    """Return the declared range of field ``name`` of dataclass ``cls``, or None."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            return f.metadata.get('range')
    return None


def check_ranges(obj: Any) -> None:
    """Raise ValueError naming the first field of dataclass ``obj`` outside its declared range.

    Called from ``__post_init__``, so a config out of range cannot be built by any path
    (flags, ROS parameters, a stored config.json, Python).
    """
    for f in dataclasses.fields(obj):
        rng = f.metadata.get('range')
        if rng is not None:
            problem = rng.problem(getattr(obj, f.name))
            if problem:
                raise ValueError(f'{f.name}: {problem}')


def parse_checked(typ: Callable[[str], Any], rng: Optional[Range],
                  flag: str = '') -> Callable[[str], Any]:
    """Return an argparse ``type=`` that converts with ``typ`` and checks ``rng`` at parse time.

    The ArgumentTypeError's text becomes argparse's one-line ``argument --flag: ...`` error.
    """
    import argparse

    def convert(text: str) -> Any:
        if typ is bool:
            if text.lower() not in _BOOL:
                raise argparse.ArgumentTypeError(f'expected true or false, got {text!r}')
            return _BOOL[text.lower()]
        try:
            value = typ(text)
        except ValueError:
            kind = {int: 'an integer', float: 'a number'}.get(typ, typ.__name__)
            raise argparse.ArgumentTypeError(f'expected {kind}, got {text!r}') from None
        problem = rng.problem(value) if rng is not None else None
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value
    convert.__name__ = getattr(typ, '__name__', 'value')
    convert.range = rng  # type: ignore[attr-defined]  # read by tests and help texts
    return convert


def number(typ: Callable[[str], Any], low: Optional[float] = None,
           high: Optional[float] = None, above: bool = False) -> Callable[[str], Any]:
    """Return an argparse ``type=`` for a numeric flag that is not a config field."""
    return parse_checked(typ, Range(low, high, above))


_BOOL = {'true': True, 'false': False, '1': True, '0': False, 'yes': True, 'no': False}


def flag(name: str) -> str:
    """Return the command-line flag of a config field (``run_dir`` -> ``--run-dir``)."""
    return '--' + name.replace('_', '-')


def flag_text(value: Any) -> str:
    """Return a value from a YAML file as its flag would be written (true/false for booleans)."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


def flag_type(cls: type, name: str, typ: Callable[[str], Any]) -> Callable[[str], Any]:
    """:func:`parse_checked` with the declared range of field ``name`` of ``cls``."""
    return parse_checked(typ, field_range(cls, name))


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
        rng = field_range(cls, name)
        meaning = docs.get(name, '') + (f' Range: {rng.text()}.' if rng else '')
        rows.append(f'| `{name}` | `{_as_ros_text(default)}` | {meaning} |')
    return '\n'.join(rows) + '\n'


def _as_ros_text(value: Any) -> str:
    """Write a default as it goes on a ``-p name:=value`` command line."""
    if isinstance(value, bool):
        return str(value).lower()
    return "''" if value == '' else str(value)

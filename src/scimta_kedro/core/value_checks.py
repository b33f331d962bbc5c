"""Type and range checks of a config's values, so that a bad parameter fails before any node
runs with a message naming the key, the value and what it must be.

:func:`type_problem` compares a value with its field's annotation (``int``, ``float | None``,
``tuple[int, ...]``, ...); :func:`check_ranges` is what configs call in ``__post_init__``.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any


def type_problem(value: Any, hint: Any) -> str | None:
    """``None`` when ``value`` fits the annotation ``hint``, else what it must be."""
    return None if _fits(value, hint) else _describe(hint)


# What a plain annotation accepts (bool is an int to Python, but not a count to a user).
_SIMPLE = {
    bool: lambda value: isinstance(value, bool),
    int: lambda value: isinstance(value, int) and not isinstance(value, bool),
    float: lambda value: isinstance(value, int | float) and not isinstance(value, bool),
    str: lambda value: isinstance(value, str),
    dict: lambda value: isinstance(value, dict),
    type(None): lambda value: value is None,
}


def _fits(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    arguments = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        fits = any(_fits(value, argument) for argument in arguments)
    elif origin is typing.Literal:
        fits = value in arguments
    elif origin in (tuple, list):
        element = arguments[0] if arguments else Any
        fits = isinstance(value, tuple | list) and all(_fits(item, element) for item in value)
    elif origin is dict:
        fits = isinstance(value, dict)
    else:
        # Any, or a type this checker does not know: the config's own checks decide.
        fits = _SIMPLE.get(hint, lambda _: True)(value)
    return fits


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    arguments = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(argument) for argument in arguments)
    if hint is type(None):
        return "empty (null)"
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(argument) for argument in arguments)
    if origin in (tuple, list):
        plural = {bool: "booleans", int: "integers", float: "numbers", str: "strings"}
        return f"a list of {plural.get(arguments[0], 'values') if arguments else 'values'}"
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def check_ranges(
    config: Any,
    *,
    at_least: Mapping[str, float] | None = None,
    above: Mapping[str, float] | None = None,
    within: Mapping[str, tuple[float, float]] | None = None,
    between: Mapping[str, tuple[float, float]] | None = None,
    choices: Mapping[str, tuple] | None = None,
) -> None:
    """Raise ``ValueError`` naming the first field of ``config`` out of its range.

    ``at_least``: field -> inclusive minimum; ``above``: field -> exclusive minimum;
    ``within``: field -> ``(low, high)``, low inclusive, high exclusive; ``between``: both
    inclusive; ``choices``: field
    -> allowed values. ``None`` values are skipped (optional settings), as are values of the
    wrong type (the parameter check reports those first).
    """
    for name, minimum in (at_least or {}).items():
        value = _number(config, name)
        if value is not None and value < minimum:
            raise ValueError(f"{name} must be at least {minimum}, got {value!r}.")
    for name, minimum in (above or {}).items():
        value = _number(config, name)
        if value is not None and value <= minimum:
            raise ValueError(f"{name} must be greater than {minimum}, got {value!r}.")
    for name, (low, high) in (within or {}).items():
        value = _number(config, name)
        if value is not None and not low <= value < high:
            raise ValueError(f"{name} must lie in [{low}, {high}), got {value!r}.")
    for name, (low, high) in (between or {}).items():
        value = _number(config, name)
        if value is not None and not low <= value <= high:
            raise ValueError(f"{name} must lie in [{low}, {high}], got {value!r}.")
    for name, allowed in (choices or {}).items():
        value = getattr(config, name)
        if value not in allowed:
            raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}.")


def _number(config: Any, name: str) -> float | None:
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value

"""Typed plugin options: one parser for every ``--task-opt``, ``--verifier-opt`` and
``--backend-opt``.

A task, verifier or backend declares its options as a frozen dataclass whose fields
carry a default and a help text (``option(...)``). ``build`` turns what the user typed
(``KEY=VALUE`` strings, or values from the Python API) into an instance: unknown keys,
values of the wrong type, values outside ``choices`` or below ``min`` are one-line
``UsageError`` messages that name the plugin, and a ``check`` method on the dataclass
can add its own rules. ``describe`` lists the options for ``harness tasks`` and the help.

    @dataclass(frozen=True)
    class MyOptions:
        timeout: float = option(5.0, "seconds per sample", min=0, exclusive=True)
        mode: str = option("fast", "how hard to look", choices=("fast", "slow"))
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from harness.core.errors import UsageError

T = TypeVar("T")

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})


def option(
    default: Any,
    help: str = "",
    *,
    choices: Iterable[Any] | None = None,
    min: float | None = None,
    max: float | None = None,
    exclusive: bool = False,
) -> Any:
    """A dataclass field for an option: its default, help text and allowed values.

    Args:
        default: The value when the user gives none (``None``: unset, the plugin decides).
        help: One line for ``harness tasks`` / ``harness verifiers`` / ``harness backends``.
        choices: The only values allowed.
        min: Smallest allowed value (``exclusive``: the value must be above it).
        max: Largest allowed value.
        exclusive: ``min`` itself is not allowed.
    """
    meta = {
        "help": help,
        "choices": tuple(choices) if choices is not None else None,
        "min": min,
        "max": max,
        "exclusive": exclusive,
    }
    return dataclasses.field(default=default, metadata=meta)


@dataclass(frozen=True)
class NoOptions:
    """The options of a plugin that takes none."""


@dataclass(frozen=True)
class OptionInfo:
    """One option as ``describe`` lists it."""

    name: str
    type: str
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None


def parse_bool(value: Any) -> bool:
    """``true/false``, ``yes/no``, ``on/off``, ``1/0`` (any case) or a bool.

    Raises:
        ValueError: anything else.
    """
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError(value)


def parse_pairs(pairs: Iterable[str] | None, flag: str) -> dict[str, str]:
    """``["a=1", "b=x"]`` -> ``{"a": "1", "b": "x"}``; a pair without ``=`` is a UsageError."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{flag} expects KEY=VALUE, got {pair!r}")
        out[key.strip()] = value
    return out


def _base_type(hint: Any) -> tuple[Any, bool]:
    """(the type behind ``X | None``, whether None is allowed)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return hint, False


def _type_name(kind: Any) -> str:
    if typing.get_origin(kind) is typing.Literal:
        return "one of " + ", ".join(map(str, typing.get_args(kind)))
    if typing.get_origin(kind) is tuple:
        return "list"
    return getattr(kind, "__name__", str(kind))


def _coerce(value: Any, hint: Any) -> Any:
    kind, optional = _base_type(hint)
    if value is None or (optional and isinstance(value, str) and value.strip() == ""):
        if optional:
            return None
        raise ValueError(value)
    if typing.get_origin(kind) is typing.Literal:
        allowed = typing.get_args(kind)
        if value not in allowed:
            raise ValueError(value)
        return value
    if typing.get_origin(kind) is tuple:
        items = value.split(",") if isinstance(value, str) else list(value)
        return tuple(str(x).strip() for x in items if str(x).strip())
    if kind is bool:
        return parse_bool(value)
    if kind is int:
        if isinstance(value, bool):
            raise ValueError(value)
        if isinstance(value, float):
            if value != int(value):
                raise ValueError(value)
            return int(value)
        return int(str(value).strip()) if isinstance(value, str) else int(value)
    if kind is float:
        if isinstance(value, bool):
            raise ValueError(value)
        return float(value)
    if kind is str:
        return str(value)
    return value


def _check_bounds(owner: str, f: dataclasses.Field[Any], value: Any) -> None:
    if value is None:
        return
    meta = f.metadata
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        raise UsageError(
            f"{owner} option {f.name} must be one of {', '.join(map(str, choices))}, got {value!r}"
        )
    low, high = meta.get("min"), meta.get("max")
    if low is not None and isinstance(value, int | float):
        if meta.get("exclusive") and value <= low:
            raise UsageError(f"{owner} option {f.name} must be above {low:g}, got {value:g}")
        if value < low:
            raise UsageError(f"{owner} option {f.name} must be at least {low:g}, got {value:g}")
    if high is not None and isinstance(value, int | float) and value > high:
        raise UsageError(f"{owner} option {f.name} must be at most {high:g}, got {value:g}")


def build(cls: type[T], given: Mapping[str, Any] | None, owner: str) -> T:
    """An instance of the options dataclass ``cls`` from what the user gave.

    Args:
        cls: The plugin's options dataclass.
        given: KEY -> value; strings are converted to each field's type.
        owner: Who the options belong to, for messages (``"verifier 'math'"``).

    Raises:
        UsageError: an unknown key, a value of the wrong type or out of range, or a
            rule of the dataclass's own ``check`` method (which raises ``ValueError``).
    """
    if isinstance(given, cls):  # already built
        return given
    given = dict(given or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = [k for k in given if k not in fields]
    if unknown:
        known = ", ".join(sorted(fields)) or "none"
        raise UsageError(
            f"{owner} has no option {', '.join(repr(k) for k in unknown)} (known: {known})"
        )
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for key, raw in given.items():
        try:
            values[key] = _coerce(raw, hints[key])
        except (TypeError, ValueError):
            kind = _type_name(_base_type(hints[key])[0])
            raise UsageError(f"{owner} option {key}={raw!r} is not a valid {kind}") from None
        _check_bounds(owner, fields[key], values[key])
    instance = cls(**values)
    check = getattr(instance, "check", None)
    if callable(check):
        try:
            check()
        except ValueError as e:
            raise UsageError(f"{owner}: {e}") from None
    return instance


def as_dict(options: Any) -> dict[str, Any]:
    """The options as plain JSON-ready data (for manifests and verdict metadata)."""
    out = {}
    for f in dataclasses.fields(options):
        value = getattr(options, f.name)
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def given_only(options: Any) -> dict[str, Any]:
    """The options that differ from their defaults."""
    return {
        f.name: v
        for f in dataclasses.fields(options)
        if (v := getattr(options, f.name)) != f.default
    }


def describe(cls: type) -> list[OptionInfo]:
    """Name, type, default and help of every option of ``cls``."""
    hints = typing.get_type_hints(cls)
    return [
        OptionInfo(
            f.name,
            _type_name(_base_type(hints[f.name])[0]),
            f.default,
            str(f.metadata.get("help", "")),
            f.metadata.get("choices"),
        )
        for f in dataclasses.fields(cls)
    ]


def summary(cls: type) -> str:
    """``name=default`` for every option, comma-separated (for tables)."""
    return ", ".join(f"{o.name}={'' if o.default is None else o.default}" for o in describe(cls))

"""Strict conversion of plain mappings (YAML) into frozen dataclasses, with clear errors.

``from_mapping(Cls, data, path)`` checks every key against the dataclass fields (unknown
keys get a close-match suggestion), every value against the field's type (``int``,
``float``, ``bool``, ``str``, ``Literal``, ``Optional``, ``list``, ``dict``, nested
dataclasses) and each field's ``metadata["check"]`` (a predicate with a description),
raising ``ConfigError`` that names the key's full path.
"""
from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any, Callable, Literal, Mapping, TypeVar, Union

from evonas.errors import ConfigError

__all__ = ["from_mapping", "to_mapping", "check", "suggest"]

T = TypeVar("T")


def check(predicate: Callable[[Any], bool], allowed: str) -> dict[str, Any]:
    """Field metadata: ``field(default=1, metadata=check(lambda v: v > 0, "> 0"))``."""
    return {"check": (predicate, allowed)}


def suggest(name: str, choices: typing.Iterable[str]) -> str:
    """' (did you mean 'x'?)' when a close match exists, else ''."""
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    if origin is not None:
        return getattr(origin, "__name__", str(origin))
    return getattr(tp, "__name__", str(tp))


def _convert(tp: Any, value: Any, path: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _convert(arg, value, path)
            except ConfigError as err:
                errors.append(err)
        if len(errors) == 1:
            raise errors[0]
        raise ConfigError(f"{path}: expected {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{path}: {value!r} is not allowed; choose from {list(args)}{suggest(str(value), map(str, args))}")
        return value
    if dataclasses.is_dataclass(tp):
        return from_mapping(tp, value, path)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        return tuple(_convert(args[0], v, f"{path}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path}: expected a mapping, got {value!r}")
        return {str(k): _convert(args[1], v, f"{path}.{k}") for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
        return value
    raise TypeError(f"schema type {tp!r} at {path} is not supported")


def from_mapping(cls: type[T], data: Any, path: str = "") -> T:
    """Build dataclass ``cls`` from ``data``, rejecting unknown keys and bad values."""
    where = path or "config"
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping of keys to values, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = str(unknown[0])
        full = f"{path}.{key}" if path else key
        raise ConfigError(f"{full}: unknown key{suggest(key, fields)}; allowed keys: {sorted(fields)}")
    values = {}
    for name, f in fields.items():
        full = f"{path}.{name}" if path else name
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{full}: missing required key")
            continue
        value = _convert(hints[name], data[name], full)
        if "check" in f.metadata and value is not None:
            predicate, allowed = f.metadata["check"]
            if not predicate(value):
                raise ConfigError(f"{full}: {value!r} is out of range; allowed: {allowed}")
        values[name] = value
    try:
        return cls(**values)
    except ConfigError as err:
        if not path:
            raise
        raise ConfigError(f"{path}: {err}") from None


def to_mapping(obj: Any) -> Any:
    """The plain (YAML-ready) form of a dataclass tree."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_mapping(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_mapping(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_mapping(v) for k, v in obj.items()}
    return obj

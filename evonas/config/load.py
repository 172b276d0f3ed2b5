"""Read a run configuration: YAML in, ``--set`` overrides applied, a validated ``Config`` out (and back to YAML).

``--set a.b=value`` overrides apply to the YAML before validation, so they are checked the
same way as the file's own keys.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping

import yaml

from evonas.config.schema import Config
from evonas.config.strict import from_mapping, to_mapping
from evonas.errors import ConfigError

__all__ = ["load_config", "config_from_mapping", "apply_overrides", "dump_config"]


def _set_path(tree: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = tree
    for depth, key in enumerate(keys[:-1]):
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set {dotted}: {'.'.join(keys[:depth + 1])} is not a mapping")
        node = child
    node[keys[-1]] = value


def apply_overrides(data: Mapping[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.path=value`` strings (values parsed as YAML) to a copy of ``data``."""
    tree = copy.deepcopy(dict(data))
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY.PATH=VALUE, e.g. search.pop_size=20")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as err:
            raise ConfigError(f"--set {item!r}: the value is not valid YAML ({err})") from None
        _set_path(tree, key.strip(), value)
    return tree


def config_from_mapping(data: Mapping[str, Any] | None) -> Config:
    return from_mapping(Config, data or {})


def load_config(path: str | Path, overrides: list[str] | None = None) -> Config:
    """Read, override and validate a YAML config; every problem is one ``ConfigError``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, got {type(data).__name__}")
    data.setdefault("name", path.stem)
    try:
        return config_from_mapping(apply_overrides(data, overrides or []))
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def dump_config(config: Config) -> str:
    """The resolved config as YAML (every default written out)."""
    return yaml.safe_dump(to_mapping(config), sort_keys=False)

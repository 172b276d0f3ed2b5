"""The run configuration: its schema (``Config`` and its sections) and how it is read from YAML; no torch.

The names below are loaded on first use, so that ``evonas.config.strict`` (the mapping to
dataclass conversion the score registry also uses) imports without the schema.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    **dict.fromkeys(("Config", "DataConfig", "NetworkConfig", "ObjectiveConfig", "SearchConfig", "RayConfig",
                     "OutputConfig", "CacheConfig", "BenchmarkConfig", "TrainConfig", "TrainSettings",
                     "minimise_sign"), "evonas.config.schema"),
    **dict.fromkeys(("load_config", "config_from_mapping", "apply_overrides", "dump_config"), "evonas.config.load"),
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

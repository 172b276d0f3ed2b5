"""The run configuration: its schema (``Config`` and its sections) and how it is read from YAML; no torch."""
from __future__ import annotations

from evonas.config.load import apply_overrides, config_from_mapping, dump_config, load_config
from evonas.config.schema import (BenchmarkConfig, CacheConfig, Config, DataConfig, NetworkConfig, ObjectiveConfig,
                                  OutputConfig, RayConfig, SearchConfig, TrainConfig, TrainSettings, minimise_sign)

__all__ = ["BenchmarkConfig", "CacheConfig", "Config", "DataConfig", "NetworkConfig", "ObjectiveConfig",
           "OutputConfig", "RayConfig", "SearchConfig", "TrainConfig", "TrainSettings", "apply_overrides",
           "config_from_mapping", "dump_config", "load_config", "minimise_sign"]

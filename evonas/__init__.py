"""evonas: evolutionary multi-objective NAS over NAS-Bench-201 with training-free scores.

Public API (imported lazily, so ``import evonas`` stays light):
``Cell``, ``load_table``, ``build_network``, ``load_config``, ``run_search``, ``load_model``,
``SCORES``, ``register_score``, ``EvonasError``.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Cell": "evonas.space.cell", "load_table": "evonas.space.table", "build_network": "evonas.nn.network",
    "load_config": "evonas.config.load", "run_search": "evonas.search.nsga2", "load_model": "evonas.train.stage",
    "SCORES": "evonas.scores", "register_score": "evonas.scores", "EvonasError": "evonas.errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'evonas' has no attribute {name!r}")

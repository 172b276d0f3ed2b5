"""The shipped NB201 latency table: measured ms per cell for each device setting (HELP, HW-NAS-Bench).

``evonas/data/nb201_latency.npz`` holds one column per device setting (e.g. ``2080ti_bs1``:
an RTX 2080 Ti at batch 1), each the latency in ms of the cells 0..15624 in NB201 index order.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from evonas.data import DATA_DIR
from evonas.errors import DataError

__all__ = ["LATENCY_TABLE", "DEFAULT_TABLE_DEVICE", "latency_columns"]

LATENCY_TABLE = DATA_DIR / "nb201_latency.npz"
DEFAULT_TABLE_DEVICE = "2080ti_bs1"


@lru_cache(maxsize=1)
def latency_columns() -> dict[str, np.ndarray]:
    """The shipped latency table: device setting -> ms for indices 0..15624."""
    if not LATENCY_TABLE.exists():
        raise DataError(f"the latency table {LATENCY_TABLE} is missing; reinstall evonas "
                        f"or rebuild it with python -m evonas.builders.package_data")
    with np.load(LATENCY_TABLE) as table:
        return {name: table[name] for name in table.files}

"""NAS-Bench-201's numbering of the cells: index <-> encoding, read from the shipped table."""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np

from evonas.data import DATA_DIR
from evonas.errors import ArchError, DataError

__all__ = ["TABLE_PATH", "table_ops", "ops_at", "index_of", "indices_of"]

TABLE_PATH = DATA_DIR / "nb201_table.npz"


@lru_cache(maxsize=1)
def _numbering() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ops (15625, 6) in index order, the dense-key weights, index of each dense key), loaded once."""
    if not TABLE_PATH.exists():
        raise DataError(f"the packaged table {TABLE_PATH} is missing; reinstall evonas "
                        f"or run `python -m evonas.builders.package_data`")
    with np.load(TABLE_PATH) as data:
        ops = data["ops"]
    base = int(ops.max()) + 1  # every op occurs in the table: the number of op choices
    weights = base ** np.arange(ops.shape[1] - 1, -1, -1, dtype=np.int64)
    index_of_key = np.empty(len(ops), dtype=np.int64)
    index_of_key[ops.astype(np.int64) @ weights] = np.arange(len(ops))
    return ops, weights, index_of_key


def table_ops() -> np.ndarray:
    """Every cell's encoding in NB201 index order, shape (15625, 6) uint8."""
    return _numbering()[0]


def ops_at(index: int) -> tuple[int, ...]:
    """The encoding of the cell NB201 numbers ``index``; ``ArchError`` when out of range."""
    ops = table_ops()
    if not 0 <= index < len(ops):
        raise ArchError(f"NB201 index {index} is out of range 0..{len(ops) - 1}")
    return tuple(int(o) for o in ops[index])


def indices_of(ops: np.ndarray | Sequence[Sequence[int]]) -> np.ndarray:
    """NB201 indices of many encodings at once (an (n, 6) int array)."""
    _, weights, index_of_key = _numbering()
    return index_of_key[np.asarray(ops).astype(np.int64) @ weights]


def index_of(ops: Sequence[int]) -> int:
    """NB201's index of one encoding."""
    return int(indices_of([ops])[0])

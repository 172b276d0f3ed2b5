"""The shipped NAS-Bench-201 table: index <-> cell, accuracies, isomorphism classes, cost."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from evonas.data import DATA_DIR
from evonas.errors import ArchError, DataError
from evonas.space.cell import N_ARCHS, N_OPS, Cell

__all__ = ["BenchmarkTable", "load_table", "sample_connected", "ACCURACY_COLUMNS", "DATASET_ACCURACY"]

ACCURACY_COLUMNS = (
    "cifar10_test_200ep", "cifar100_test_200ep", "imagenet16_test_200ep",
    "cifar10_valid_12ep", "cifar10_test_12ep", "cifar100_valid_12ep",
    "cifar100_test_12ep", "imagenet16_valid_12ep", "imagenet16_test_12ep",
)
#: the 200-epoch test-accuracy column of each dataset name evonas accepts
DATASET_ACCURACY = {"cifar10": "cifar10_test_200ep", "cifar100": "cifar100_test_200ep",
                    "imagenet16-120": "imagenet16_test_200ep"}


def _code(ops: np.ndarray) -> np.ndarray:
    """Base-5 integer of each row of encodings (a dense key for lookups)."""
    return (ops.astype(np.int64) * (N_OPS ** np.arange(ops.shape[1] - 1, -1, -1))).sum(axis=1)


@dataclass(frozen=True)
class BenchmarkTable:
    """All 15,625 cells in NB201 index order with their ground-truth columns."""

    ops: np.ndarray                          # (15625, 6) uint8
    isomorph_class: np.ndarray               # (15625,) int32, equal for isomorphic cells
    columns: dict[str, np.ndarray]           # accuracy (and, when built, cost) columns
    _index_of_code: np.ndarray = field(repr=False)

    def cell(self, index: int) -> Cell:
        if not 0 <= index < N_ARCHS:
            raise ArchError(f"NB201 index {index} is out of range 0..{N_ARCHS - 1}")
        return Cell(tuple(int(o) for o in self.ops[index]))

    def index(self, cell: Cell) -> int:
        return int(self._index_of_code[_code(np.asarray([cell.ops]))[0]])

    def indices(self, ops: np.ndarray) -> np.ndarray:
        """NB201 indices of many encodings at once (an (n, 6) int array)."""
        return self._index_of_code[_code(np.asarray(ops))]

    def row(self, index: int) -> dict[str, float]:
        """Every column of one architecture as plain floats."""
        self.cell(index)  # range check
        return {name: float(values[index]) for name, values in self.columns.items()}

    def column(self, name: str) -> np.ndarray:
        if name not in self.columns:
            raise DataError(f"unknown table column {name!r}; choose from {sorted(self.columns)}")
        return self.columns[name]


@lru_cache(maxsize=1)
def load_table() -> BenchmarkTable:
    """Load the shipped table once per process (about 1 MB)."""
    path = DATA_DIR / "nb201_table.npz"
    if not path.exists():
        raise DataError(f"the packaged table {path} is missing; reinstall evonas or run `python -m evonas.data.build`")
    with np.load(path) as data:
        ops = data["ops"]
        columns = {c: data[c] for c in ACCURACY_COLUMNS}
        iso = data["isomorph_class"]
    cost = DATA_DIR / "nb201_cost.npz"
    if cost.exists():
        with np.load(cost) as data:
            columns.update({k: data[k] for k in data.files})
    index_of_code = np.empty(N_ARCHS, dtype=np.int64)
    index_of_code[_code(ops)] = np.arange(N_ARCHS)
    return BenchmarkTable(ops=ops, isomorph_class=iso, columns=columns, _index_of_code=index_of_code)


def sample_connected(n: int | str, seed: int) -> list[Cell]:
    """``n`` distinct connected cells in a seeded random order of the benchmark's indices (``"all"``: every one)."""
    table = load_table()
    order = np.random.default_rng(seed).permutation(len(table.ops))
    cells = [c for c in (table.cell(int(i)) for i in order) if c.is_connected]
    if n == "all":
        return cells
    if int(n) > len(cells):
        raise ValueError(f"asked for {n} connected cells; the space has {len(cells)}")
    return cells[: int(n)]

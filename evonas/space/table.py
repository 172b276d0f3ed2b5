"""The shipped NAS-Bench-201 table: every cell in index order with its accuracy, isomorphism and cost columns."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from evonas.data import DATA_DIR
from evonas.errors import DataError
from evonas.space.cell import N_ARCHS, Cell
from evonas.space.numbering import TABLE_PATH, index_of, indices_of, ops_at, table_ops

__all__ = ["BenchmarkTable", "load_table", "sample_connected", "sample_uniform", "ACCURACY_COLUMNS"]

ACCURACY_COLUMNS = (
    "cifar10_test_200ep", "cifar100_test_200ep", "imagenet16_test_200ep",
    "cifar10_valid_12ep", "cifar10_test_12ep", "cifar100_valid_12ep",
    "cifar100_test_12ep", "imagenet16_valid_12ep", "imagenet16_test_12ep",
)


@dataclass(frozen=True)
class BenchmarkTable:
    """All 15,625 cells in NB201 index order with their ground-truth columns."""

    ops: np.ndarray                          # (15625, 6) uint8
    isomorph_class: np.ndarray               # (15625,) int32, equal for isomorphic cells
    columns: dict[str, np.ndarray]           # accuracy (and, when built, cost) columns

    def cell(self, index: int) -> Cell:
        return Cell(ops_at(index))

    def index(self, cell: Cell) -> int:
        return index_of(cell.ops)

    def indices(self, ops: np.ndarray) -> np.ndarray:
        """NB201 indices of many encodings at once (an (n, 6) int array)."""
        return indices_of(ops)

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
    ops = table_ops()
    with np.load(TABLE_PATH) as data:
        columns = {c: data[c] for c in ACCURACY_COLUMNS}
        iso = data["isomorph_class"]
    cost = DATA_DIR / "nb201_cost.npz"
    if cost.exists():
        with np.load(cost) as data:
            columns.update({k: data[k] for k in data.files})
    return BenchmarkTable(ops=ops, isomorph_class=iso, columns=columns)


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


def sample_uniform(n: int, seed: int, *, connected_only: bool = True) -> list[Cell]:
    """``n`` distinct cells drawn uniformly (``rng.choice``) over the benchmark's indices, in draw order
    (connected ones only by default); ``DataError`` when fewer are eligible."""
    table = load_table()
    pool = [i for i in range(N_ARCHS) if not connected_only or table.cell(i).is_connected]
    if n > len(pool):
        raise DataError(f"cannot sample {n} architectures: only {len(pool)} are eligible")
    picks = np.random.default_rng(seed).choice(len(pool), size=n, replace=False)
    return [table.cell(pool[int(i)]) for i in picks]

"""Benchmark views of a run: the true NB201 front and KNAS-style selection.

- ``true_front``: the non-dominated (accuracy max, cost min) cells of a table: the reference a
  found front is compared with.
- ``reference_cost``: the table column that measures the same cost as a search objective
  (``flops`` -> ``flops_<dataset>``, ``params`` -> ``params_<dataset>``, ``latency_table`` ->
  the latency table's device column).
- ``select_by_benchmark``: KNAS's second stage: the top-k by the training-free score, then the
  best by the table's (low-fidelity) validation accuracy.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from evonas.scores.registry import minimise_sign
from evonas.errors import ConfigError, EvonasError
from evonas.search.dominance import non_dominated
from evonas.space.latency_table import DEFAULT_TABLE_DEVICE, latency_columns
from evonas.space.table import ACCURACY_COLUMNS, BenchmarkTable, load_table

__all__ = ["TrueFront", "true_front", "table_columns", "true_front_of_table", "reference_cost",
           "REFERENCE_COST", "front_gap", "with_table_columns", "select_by_benchmark"]


@dataclass(frozen=True)
class TrueFront:
    """The table's non-dominated cells in (accuracy, cost), ordered by increasing cost."""

    cost_column: str
    accuracy_column: str
    indices: np.ndarray   # NB201 indices of the front's cells
    cost: np.ndarray
    accuracy: np.ndarray


def true_front(accuracy: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Positions of the cells no other cell beats on both accuracy (max) and cost (min), by cost.

    Cells with equal (accuracy, cost) are kept once (the lowest position).
    """
    accuracy, cost = np.asarray(accuracy, float), np.asarray(cost, float)
    if accuracy.shape != cost.shape:
        raise EvonasError(f"accuracy and cost differ in length ({accuracy.shape} vs {cost.shape})")
    F = np.column_stack([-accuracy, cost])
    front = non_dominated(F, np.isfinite(F).all(axis=1))
    return front[np.lexsort((-accuracy[front], cost[front]))]


def _latency_column(config: Any) -> str:
    return dict(getattr(config, "scores", {}) or {}).get("latency_table", {}).get("device", DEFAULT_TABLE_DEVICE)


#: objective -> the table column holding the same cost for every cell
REFERENCE_COST: dict[str, Callable[[Any], str]] = {
    "flops": lambda config: f"flops_{config.dataset}",
    "params": lambda config: f"params_{config.dataset}",
    "latency_table": _latency_column,
}


def table_columns(table: BenchmarkTable) -> Mapping[str, np.ndarray]:
    """Every per-cell column: the table's (accuracies, cost when built) and the latency table's."""
    return {**latency_columns(), **table.columns}


def reference_cost(column: str, config: Any, table: BenchmarkTable) -> tuple[str | None, str]:
    """(table column, note) for an x axis: the column itself, its cost counterpart, or None and why."""
    columns = table_columns(table)
    if column in columns:
        return column, ""
    if column not in REFERENCE_COST:
        return None, f"the table has no column measuring {column!r}"
    name = REFERENCE_COST[column](config)
    if name not in columns:
        return None, f"the table has no {name!r} yet (python -m evonas.builders.cost writes it)"
    return name, ""


def true_front_of_table(table: BenchmarkTable, cost_column: str, accuracy_column: str) -> TrueFront:
    columns = table_columns(table)
    cost, acc = np.asarray(columns[cost_column], float), np.asarray(columns[accuracy_column], float)
    idx = true_front(acc, cost)
    return TrueFront(cost_column, accuracy_column, idx, cost[idx], acc[idx])


def front_gap(reference: TrueFront, cost: float, accuracy: float) -> float:
    """Accuracy points between the best cell of the table at this cost or less and ``accuracy``."""
    within = reference.accuracy[reference.cost <= cost + 1e-12]
    return float(within.max() - accuracy) if len(within) else 0.0


def with_table_columns(rows: Sequence[Mapping[str, Any]], table: BenchmarkTable,
                       columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Rows with the table's columns (accuracies, cost, latency) added by NB201 ``index`` where missing."""
    every = table_columns(table)
    names = list(columns) if columns is not None else list(every)
    out = []
    for row in rows:
        new = dict(row)
        if str(row.get("index", "")).lstrip("-").isdigit():
            i = int(row["index"])
            new.update({c: float(every[c][i]) for c in names if new.get(c) in (None, "")})
        out.append(new)
    return out


def select_by_benchmark(rows: Sequence[Mapping[str, Any]], *, score: str, direction: str = "max",
                        top_k: int = 40, by: str = "cifar10_valid_12ep",
                        table: BenchmarkTable | None = None) -> dict[str, Any]:
    """KNAS's selection: of the ``top_k`` rows best by ``score``, the one with the highest ``by``.

    Rows without ``by`` get it from the table by NB201 ``index``. Failed rows are ignored.
    """
    if top_k < 1:
        raise ConfigError(f"--top-k {top_k}: must be >= 1 (KNAS uses 40)")
    if by not in ACCURACY_COLUMNS:
        raise ConfigError(f"--by {by!r}: not a table accuracy column; choose from {list(ACCURACY_COLUMNS)}")
    ok = [r for r in rows if r.get("status", "ok") == "ok" and r.get(score) not in (None, "")]
    if not ok:
        raise EvonasError(f"no scored row has a {score!r} value to rank by")
    if any(r.get(by) in (None, "") for r in ok):
        if table is None:
            table = load_table()
        ok = with_table_columns(ok, table, [by])
    sign = minimise_sign(direction)
    top = sorted(ok, key=lambda r: sign * float(r[score]))[:top_k]
    return dict(max(top, key=lambda r: float(r[by])))


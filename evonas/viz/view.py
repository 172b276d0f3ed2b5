"""The view model of a run's front: candidates, front, table columns and trained accuracies, joined once.

``build_view`` makes a ``FrontView`` from rows (``viz.report.load_view`` reads them from a
run directory); ``viz.png`` and ``viz.html`` draw the same view. Axis labels, the log-scale
rule and the right panel's cost column (the first of x, y and the minimised objectives that
the table measures, with its true front) are decided here, so both drawings agree. No
matplotlib, no file access.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from evonas.analysis.views import (TrueFront, front_gap, reference_cost, table_columns, true_front_of_table,
                                   with_table_columns)
from evonas.errors import EvonasError
from evonas.space.datasets import dataset_spec
from evonas.space.latency_table import latency_columns
from evonas.space.table import BenchmarkTable

__all__ = ["AXIS_LABELS", "NON_AXIS_COLUMNS", "FrontView", "axis_label", "build_view", "number", "numeric_columns",
           "use_log"]

AXIS_LABELS = {
    "flops": "FLOPs (M, fvcore, searched network)", "params": "parameters (M, searched network)",
    "knas": "KNAS score (higher is better)",
    "latency": "latency (ms per batch, measured)", "latency_table": "latency (ms, shipped table)",
    "cifar10_test_200ep": "CIFAR-10 test accuracy, 200 epochs (%)",
    "cifar100_test_200ep": "CIFAR-100 test accuracy, 200 epochs (%)",
    "imagenet16_test_200ep": "ImageNet16-120 test accuracy, 200 epochs (%)",
    "cifar10_valid_12ep": "CIFAR-10 validation accuracy, 12 epochs (%)",
    "cifar100_valid_12ep": "CIFAR-100 validation accuracy, 12 epochs (%)",
    "imagenet16_valid_12ep": "ImageNet16-120 validation accuracy, 12 epochs (%)",
    "generation": "generation", "wall_time_s": "scoring time (s)",
}
#: columns that are never plotted (identifiers and bookkeeping)
NON_AXIS_COLUMNS = ("id", "index", "attempts", "remeasured")


def axis_label(column: str) -> str:
    """A label with units: known names, the table's cost columns, latency-table devices."""
    if column in AXIS_LABELS:
        return AXIS_LABELS[column]
    for prefix, what in (("flops_", "FLOPs (M, fvcore, NB201 network C=16 N=5"),
                         ("params_", "parameters (M, NB201 network C=16 N=5")):
        if column.startswith(prefix):
            return f"{what}, {column[len(prefix):]} input)"
    if column.startswith("nats"):
        return f"{column} (NATS-Bench)"
    if column in latency_columns():
        return f"latency on {column} (ms, shipped table)"
    return column


def number(value: Any) -> float | None:
    """``value`` as a finite float, or None (empty, not a number, inf or nan)."""
    if value is None or value == "":
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None


def numeric_columns(*row_sets: Sequence[Mapping[str, Any]]) -> list[str]:
    """Columns (in order of first appearance) whose every non-empty value is a number."""
    seen: dict[str, bool] = {}
    for rows in row_sets:
        for row in rows:
            for k, v in row.items():
                if k in NON_AXIS_COLUMNS or v in (None, ""):
                    continue
                seen[k] = seen.get(k, True) and number(v) is not None
    return [k for k, ok in seen.items() if ok]


def use_log(values: Sequence[float]) -> bool:
    """Log scale when the values are positive and span more than a factor of 20."""
    vals = [v for v in values if v is not None]
    return bool(vals) and min(vals) > 0 and max(vals) / min(vals) > 20


@dataclass(frozen=True)
class FrontView:
    """Everything both drawings need; rows are plain dicts with numbers where numbers belong."""

    candidates: list[dict[str, Any]]   # scored (status ok) rows with table columns added
    front: list[dict[str, Any]]        # pareto.csv rows (+ trained_test_acc, trained_epochs)
    x: str
    y: str
    accuracy: str                      # the run's data set's 200-epoch test accuracy column
    cost: str                          # the right panel's x column
    reference: TrueFront | None
    note: str                          # why there is no reference line
    title: str
    run_path: str
    objectives: tuple[str, ...] = ()   # the search's scores, shown on hover
    front_axes: bool = True            # x and y are both objectives: join the front with a line
    all_cells: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)  # (cost, acc) of all

    @property
    def gaps(self) -> dict[int, float]:
        """Front id -> accuracy points below the true front at its cost (needs the reference)."""
        if self.reference is None:
            return {}
        out = {}
        for r in self.front:
            c, a = number(r.get(self.cost)), number(r.get(self.accuracy))
            if c is not None and a is not None:
                out[int(r["id"])] = front_gap(self.reference, c, a)
        return out

    def trained(self) -> list[dict[str, Any]]:
        return [r for r in self.front if number(r.get("trained_test_acc")) is not None]


def _default_cost(x: str, y: str, config: Any, table: BenchmarkTable) -> tuple[str, TrueFront | None, str]:
    """The right panel's cost column: the first of x, y and the minimised objectives the table has."""
    mins = [o.score for o in config.objectives if o.direction == "min"]
    notes = []
    for column in dict.fromkeys([x, y, *mins]):
        name, note = reference_cost(column, config, table)
        if name is not None and not name.startswith(("cifar", "imagenet")):
            return name, true_front_of_table(table, name, dataset_spec(config.dataset).test_column), ""
        if note and column in mins:
            notes.append(note)
    fallback = mins[0] if mins else x
    return fallback, None, "; ".join(dict.fromkeys(notes)) or f"no table column measures {fallback!r}"


def build_view(config: Any, candidates: Sequence[Mapping[str, Any]], front: Sequence[Mapping[str, Any]],
               table: BenchmarkTable, *, x: str, y: str, trained: Sequence[Mapping[str, Any]] = (),
               run_path: str = "RUN_DIR", title: str = "") -> FrontView:
    """Join candidates, front, table and trained.csv; check that ``x`` and ``y`` are columns."""
    ok = with_table_columns([r for r in candidates if r.get("status", "ok") == "ok"], table)
    rows = with_table_columns(front, table)
    by_id = {int(t["id"]): t for t in trained if t.get("status", "ok") == "ok" and number(t.get("test_acc"))}
    for r in rows:
        t = by_id.get(int(r["id"]))
        if t is not None:
            r["trained_test_acc"], r["trained_epochs"] = float(t["test_acc"]), t.get("epochs", "")
    choices = numeric_columns(ok, rows)
    for flag, column in (("--x", x), ("--y", y)):
        if column not in choices:
            raise EvonasError(f"{flag} {column!r}: not a numeric column of candidates.csv/pareto.csv; "
                              f"choose from {choices}")
    cost, reference, note = _default_cost(x, y, config, table)
    accuracy = dataset_spec(config.dataset).test_column
    all_cells = None
    if reference is not None:
        cols = table_columns(table)
        all_cells = (np.asarray(cols[cost], float), np.asarray(cols[accuracy], float))
    return FrontView(ok, rows, x, y, accuracy, cost, reference, note,
                     title or f"{config.name}: {len(rows)} non-dominated of {len(ok)} scored", str(run_path),
                     tuple(dict.fromkeys([*config.score_names, x, y])),
                     x in config.score_names and y in config.score_names, all_cells)

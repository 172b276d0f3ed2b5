"""The front, drawn so a user can pick: ``pareto.png`` (two panels) from a ``FrontView``.

Left: the search's own axes (e.g. KNAS score vs FLOPs): every scored candidate in grey, the
front in red with its ids. Right: the same candidates at their NB201 200-epoch test accuracy
vs the table's cost, with the table's true (accuracy, cost) front as a reference step line and
trained accuracies (``trained.csv``) as blue diamonds, so the distance to optimal is visible.
``build_view`` gathers the data once; ``plot_html`` draws the same view interactively.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from evonas.errors import EvonasError  # noqa: E402
from evonas.analysis.views import (TrueFront, front_gap, reference_cost, table_columns,  # noqa: E402
                           true_front_of_table, with_table_columns)
from evonas.space.table import DATASET_ACCURACY, BenchmarkTable  # noqa: E402

__all__ = ["AXIS_LABELS", "FrontView", "build_view", "plot_front", "axis_label", "numeric_columns",
           "use_log", "NON_AXIS_COLUMNS"]

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
    from evonas.scores.latency import latency_columns

    if column in latency_columns():
        return f"latency on {column} (ms, shipped table)"
    return column


def _float(value: Any) -> float | None:
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
                seen[k] = seen.get(k, True) and _float(v) is not None
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
            c, a = _float(r.get(self.cost)), _float(r.get(self.accuracy))
            if c is not None and a is not None:
                out[int(r["id"])] = front_gap(self.reference, c, a)
        return out

    def trained(self) -> list[dict[str, Any]]:
        return [r for r in self.front if _float(r.get("trained_test_acc")) is not None]


def _default_cost(x: str, y: str, config: Any, table: BenchmarkTable) -> tuple[str, TrueFront | None, str]:
    """The right panel's cost column: the first of x, y and the minimised objectives the table has."""
    mins = [o.score for o in config.objectives if o.direction == "min"]
    notes = []
    for column in dict.fromkeys([x, y, *mins]):
        name, note = reference_cost(column, config, table)
        if name is not None and not name.startswith(("cifar", "imagenet")):
            return name, true_front_of_table(table, name, DATASET_ACCURACY[config.dataset]), ""
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
    by_id = {int(t["id"]): t for t in trained if t.get("status", "ok") == "ok" and _float(t.get("test_acc"))}
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
    accuracy = DATASET_ACCURACY[config.dataset]
    all_cells = None
    if reference is not None:
        cols = table_columns(table)
        all_cells = (np.asarray(cols[cost], float), np.asarray(cols[accuracy], float))
    return FrontView(ok, rows, x, y, accuracy, cost, reference, note,
                     title or f"{config.name}: {len(rows)} non-dominated of {len(ok)} scored", str(run_path),
                     tuple(dict.fromkeys([*config.score_names, x, y])),
                     x in config.score_names and y in config.score_names, all_cells)


def _xy(rows: Sequence[Mapping[str, Any]], x: str, y: str) -> tuple[list[float], list[float], list[dict]]:
    kept = [r for r in rows if _float(r.get(x)) is not None and _float(r.get(y)) is not None]
    return [float(r[x]) for r in kept], [float(r[y]) for r in kept], kept


def _label_ids(ax: Any, xs: Sequence[float], ys: Sequence[float], rows: Sequence[Mapping[str, Any]]) -> None:
    for xi, yi, r in zip(xs, ys, rows):
        ax.annotate(str(r["id"]), (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=7,
                    color="tab:red", weight="bold")


def _finish_axis(ax: Any, x: str, y: str, xs: Sequence[float], ys: Sequence[float]) -> None:
    if use_log(xs):
        ax.set_xscale("log")
    if use_log(ys):
        ax.set_yscale("log")
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(axis_label(y))
    ax.grid(alpha=0.3, which="both", lw=0.5)
    ax.legend(loc="best", fontsize=7, framealpha=0.9)


def _search_panel(ax: Any, view: FrontView) -> None:
    cx, cy, _ = _xy(view.candidates, view.x, view.y)
    ax.scatter(cx, cy, s=9, c="0.65", lw=0, label=f"scored candidates ({len(cx)})", zorder=1)
    fx, fy, rows = _xy(view.front, view.x, view.y)
    if view.front_axes:
        order = np.argsort(fx)
        ax.plot(np.asarray(fx)[order], np.asarray(fy)[order], "-", c="tab:red", lw=1, alpha=0.5, zorder=2)
    ax.scatter(fx, fy, s=30, c="tab:red", edgecolors="k", linewidths=0.5, label=f"Pareto front ({len(fx)})",
               zorder=3)
    _label_ids(ax, fx, fy, rows)
    ax.set_title("search objectives", fontsize=10)
    _finish_axis(ax, view.x, view.y, cx + fx, cy + fy)


def _truth_panel(ax: Any, view: FrontView) -> None:
    if view.all_cells is not None:
        n = int(np.isfinite(view.all_cells[0] + view.all_cells[1]).sum())
        ax.scatter(*view.all_cells, s=1, c="0.85", lw=0, label=f"all NB201 cells ({n})", zorder=0, rasterized=True)
    cx, cy, _ = _xy(view.candidates, view.cost, view.accuracy)
    ax.scatter(cx, cy, s=9, c="0.6", lw=0, label=f"scored candidates ({len(cx)})", zorder=1)
    if view.reference is not None:
        ref = view.reference
        end = np.nanmax(view.all_cells[0]) if view.all_cells is not None else ref.cost[-1]
        ax.step([*ref.cost, end], [*ref.accuracy, ref.accuracy[-1]], where="post", c="k", lw=1.2, zorder=2,
                label=f"true NB201 front ({len(ref.indices)} cells)")
    else:
        ax.plot([], [], " ", label=textwrap.fill(f"no true front: {view.note}", 48))
    fx, fy, rows = _xy(view.front, view.cost, view.accuracy)
    ax.scatter(fx, fy, s=30, c="tab:red", edgecolors="k", linewidths=0.5, label="found front", zorder=3)
    _label_ids(ax, fx, fy, rows)
    tx, ty, trows = _xy(view.trained(), view.cost, "trained_test_acc")
    if tx:
        epochs = sorted({str(r.get("trained_epochs", "")) for r in trows})
        ax.scatter(tx, ty, s=36, marker="D", c="tab:blue", edgecolors="k", linewidths=0.5, zorder=4,
                   label=f"trained here ({'/'.join(epochs)} epochs, test acc)")
        for r, xi, yi in zip(trows, tx, ty):
            ax.plot([xi, xi], [float(r[view.accuracy]), yi], ":", c="tab:blue", lw=0.8, zorder=2)
    gaps = view.gaps
    title = "found front at NB201's 200-epoch accuracy"
    if gaps:
        g = np.array(list(gaps.values()))
        title += f"\ngap to the true front: median {np.median(g):.2f}, min {g.min():.2f} points"
    ax.set_title(title, fontsize=10)
    ys = cy + fy + ty + ([] if view.reference is None else list(view.reference.accuracy))
    _finish_axis(ax, view.cost, view.accuracy, cx + fx + tx, [max(v, 1e-9) for v in ys])
    ax.set_yscale("linear")
    lo = np.percentile(cy + fy, 2) if cy + fy else 0.0
    ax.set_ylim(max(0.0, min([lo - 5, *ty]) if ty else lo - 5), None)


def plot_front(view: FrontView, path: Path | str) -> Path:
    """Write the two-panel figure (PNG, 150 dpi) and return its path."""
    path = Path(path)
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.4), dpi=150)
    _search_panel(left, view)
    _truth_panel(right, view)
    fig.suptitle(view.title, fontsize=11)
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
    return path

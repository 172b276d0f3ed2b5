"""``pareto.png``: a ``FrontView`` drawn with matplotlib, two panels.

Left: the search's own axes (e.g. KNAS score vs FLOPs): every scored candidate in grey, the
front in red with its ids. Right: the same candidates at their NB201 200-epoch test accuracy
vs the table's cost, with the table's true (accuracy, cost) front as a reference step line and
trained accuracies (``trained.csv``) as blue diamonds, so the distance to optimal is visible.
"""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, Mapping, Sequence

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from evonas.files import atomic_write  # noqa: E402
from evonas.viz.view import FrontView, axis_label, number, use_log  # noqa: E402

__all__ = ["plot_front"]


def _xy(rows: Sequence[Mapping[str, Any]], x: str, y: str) -> tuple[list[float], list[float], list[dict]]:
    kept = [r for r in rows if number(r.get(x)) is not None and number(r.get(y)) is not None]
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
    try:
        return atomic_write(path, fig.savefig, suffix=".tmp.png")
    finally:
        plt.close(fig)

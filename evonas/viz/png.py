"""``pareto.png``: a ``FrontView`` drawn with matplotlib, three panels.

Left: the search's own axes (e.g. KNAS score vs FLOPs): every scored candidate in grey, the
front in red with its ids, joined by a line when the run has two objectives; with three or
more it is a projection, drawn without a line and coloured by the first objective off the
axes (with a colour bar). Middle: the same candidates at their NB201 200-epoch test accuracy
vs the table's cost, with the table's true (accuracy, cost) front as a reference step line, so
the distance to optimal is visible; on a user's data set, which no table measures, the found
front at its trained accuracy (before training, ``FrontView.accuracy_note`` instead). Right,
"after training": every trained candidate (``trained.csv``) at its trained test accuracy vs the
same cost, with its id and its 95 % interval as an error bar, and the front after training as a
step line; "not trained yet" before the training stage.
"""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, Mapping, Sequence

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from evonas.files import atomic_write  # noqa: E402
from evonas.viz.view import FrontView, axis_label, number, trained_label, use_log  # noqa: E402

__all__ = ["draw_front", "plot_front"]


def _xy(rows: Sequence[Mapping[str, Any]], x: str, y: str) -> tuple[list[float], list[float], list[dict]]:
    kept = [r for r in rows if number(r.get(x)) is not None and number(r.get(y)) is not None]
    return [float(r[x]) for r in kept], [float(r[y]) for r in kept], kept


def _label_ids(ax: Any, xs: Sequence[float], ys: Sequence[float], rows: Sequence[Mapping[str, Any]],
               color: str = "tab:red") -> None:
    for xi, yi, r in zip(xs, ys, rows):
        ax.annotate(str(r["id"]), (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=7,
                    color=color, weight="bold")


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
    if view.front_line:
        order = np.argsort(fx)
        ax.plot(np.asarray(fx)[order], np.asarray(fy)[order], "-", c="tab:red", lw=1, alpha=0.5, zorder=2)
    label = f"Pareto front ({len(fx)})"
    if len(view.directions) > 2:
        label += f",\nprojected: {len(view.directions)} objectives"
    shade = view.colour_by
    values = [number(r.get(shade)) for r in rows] if shade else []
    if shade and any(v is not None for v in values):
        known = [i for i, v in enumerate(values) if v is not None]
        vals = [values[i] for i in known]
        norm = LogNorm() if use_log(vals) else None
        dots = ax.scatter([fx[i] for i in known], [fy[i] for i in known], s=34, c=vals, cmap="viridis", norm=norm,
                          edgecolors="k", linewidths=0.5, label=label, zorder=3)
        rest = [i for i, v in enumerate(values) if v is None]
        if rest:
            ax.scatter([fx[i] for i in rest], [fy[i] for i in rest], s=34, c="tab:red", edgecolors="k",
                       linewidths=0.5, label=f"{shade} unknown", zorder=3)
        bar = ax.figure.colorbar(dots, ax=ax, pad=0.01, fraction=0.05)
        bar.set_label(f"{axis_label(shade)} ({view.directions.get(shade, '')}, off the axes)", fontsize=8)
    else:
        ax.scatter(fx, fy, s=30, c="tab:red", edgecolors="k", linewidths=0.5, label=label, zorder=3)
    _label_ids(ax, fx, fy, rows)
    ax.set_title("search objectives", fontsize=10)
    _finish_axis(ax, view.x, view.y, cx + fx, cy + fy)


def _note_panel(ax: Any, title: str, note: str) -> None:
    """A panel with nothing to draw: its title and a note in the middle (what follows a colon on a line of its
    own, e.g. the command that fills the panel), no axes."""
    ax.set_title(title, fontsize=10)
    ax.text(0.5, 0.5, note.replace(": ", ":\n", 1), transform=ax.transAxes, ha="center", va="center",
            fontsize=12 if len(note) < 40 else 9, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _truth_panel(ax: Any, view: FrontView) -> None:
    if view.accuracy_note:  # a user's data set before training: no accuracy to draw
        _note_panel(ax, "found front at its trained accuracy", view.accuracy_note)
        return
    if view.all_cells is not None:
        n = int(np.isfinite(view.all_cells[0] + view.all_cells[1]).sum())
        ax.scatter(*view.all_cells, s=1, c="0.85", lw=0, label=f"all NB201 cells ({n})", zorder=0, rasterized=True)
    cx, cy, _ = _xy(view.candidates, view.cost, view.accuracy)
    if view.benchmark:  # a user's data set: only trained members have an accuracy
        ax.scatter(cx, cy, s=9, c="0.6", lw=0, label=f"scored candidates ({len(cx)})", zorder=1)
    if view.reference is not None:
        ref = view.reference
        end = np.nanmax(view.all_cells[0]) if view.all_cells is not None else ref.cost[-1]
        ax.step([*ref.cost, end], [*ref.accuracy, ref.accuracy[-1]], where="post", c="k", lw=1.2, zorder=2,
                label=f"true NB201 front ({len(ref.indices)} cells)")
    else:
        ax.plot([], [], " ", label=textwrap.fill(f"no true front: {view.note}" if view.benchmark else view.note, 48))
    fx, fy, rows = _xy(view.front, view.cost, view.accuracy)
    ax.scatter(fx, fy, s=30, c="tab:red", edgecolors="k", linewidths=0.5,
               label="found front" if view.benchmark else f"found front, trained ({len(fx)})", zorder=3)
    _label_ids(ax, fx, fy, rows)
    gaps = view.gaps
    title = "found front at NB201's 200-epoch accuracy" if view.benchmark else "found front at its trained accuracy"
    if gaps:
        g = np.array(list(gaps.values()))
        title += f"\ngap to the true front: median {np.median(g):.2f}, min {g.min():.2f} points"
    ax.set_title(title, fontsize=10)
    ys = cy + fy + ([] if view.reference is None else list(view.reference.accuracy))
    _finish_axis(ax, view.cost, view.accuracy, cx + fx, [max(v, 1e-9) for v in ys])
    if not view.benchmark:
        ax.set_ylabel(trained_label(view.accuracy, view.trained_epochs))
    ax.set_yscale("linear")
    lo = np.percentile(cy + fy, 2) if cy + fy else 0.0
    ax.set_ylim(max(0.0, lo - 5), None)


def _trained_panel(ax: Any, view: FrontView) -> None:
    tx, ty, rows = _xy(view.trained(), view.trained_cost, "trained_test_acc")
    if not tx:
        _note_panel(ax, "after training", "not trained yet")
        return
    off = [i for i, r in enumerate(rows) if not r.get("trained_front")]
    if off:
        ox, oy = [tx[i] for i in off], [ty[i] for i in off]
        ax.scatter(ox, oy, s=30, c="lightsteelblue", edgecolors="k", linewidths=0.5,
                   label=f"trained, dominated ({len(off)})", zorder=2)
        _label_ids(ax, ox, oy, [rows[i] for i in off], color="0.35")
    fx, fy, front = _xy(view.trained_front(), view.trained_cost, "trained_test_acc")
    if fx:
        ax.step([*fx, max(tx)], [*fy, fy[-1]], where="post", c="tab:blue", lw=2, zorder=3)
    how = "trained.csv" if view.trained_front_from == "trained.csv" else "computed here"
    ax.scatter(fx, fy, s=40, c="tab:blue", edgecolors="k", linewidths=0.6, zorder=4,
               label=f"front after training ({len(fx)}, {how})")
    _label_ids(ax, fx, fy, front, color="tab:blue")
    ends = _error_bars(ax, view, tx, ty, rows)
    ax.set_title(f"after training: {len(tx)} trained, {view.trained_epochs} epochs", fontsize=10)
    _finish_axis(ax, view.trained_cost, "trained_test_acc", tx, ty)
    ax.set_yscale("linear")
    ax.set_ylabel(trained_label(view.accuracy, view.trained_epochs))
    low, high = min(ty + ends), max(ty + ends)
    pad = max(1.0, 0.08 * (high - low))
    ax.set_ylim(low - pad, high + pad)


def _error_bars(ax: Any, view: FrontView, xs: Sequence[float], ys: Sequence[float],
                rows: Sequence[Mapping[str, Any]]) -> list[float]:
    """Each trained accuracy's 95 % interval as an error bar (``FrontView.trained_intervals``): members whose bars
    overlap are within noise of each other, and the front after training keeps them together. The ends drawn."""
    bars = view.trained_intervals()
    drawn = [(x, y, *bars[int(r["id"])]) for x, y, r in zip(xs, ys, rows) if int(r["id"]) in bars]
    if not drawn:
        return []
    bx, by, low, high = (np.array(c, dtype=float) for c in zip(*drawn))
    ax.errorbar(bx, by, yerr=[by - low, high - by], fmt="none", ecolor="0.45", elinewidth=0.9, capsize=2.5, zorder=1,
                label=f"95 % interval ({view.trained_test_n} test images)")
    return [*low.tolist(), *high.tolist()]


def draw_front(view: FrontView) -> Figure:
    """The three-panel figure: search objectives, 200-epoch accuracy, after training (``fig.axes[:3]``).

    The caller closes it (``plt.close(fig)``).
    """
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(19, 5.4), dpi=150)
    _search_panel(left, view)
    _truth_panel(middle, view)
    _trained_panel(right, view)
    fig.suptitle(view.title, fontsize=11)
    fig.tight_layout()
    return fig


def plot_front(view: FrontView, path: Path | str) -> Path:
    """Write the three-panel figure (PNG, 150 dpi) and return its path."""
    path = Path(path)
    fig = draw_front(view)
    try:
        return atomic_write(path, fig.savefig, suffix=".tmp.png")
    finally:
        plt.close(fig)

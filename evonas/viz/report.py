"""A run's report: its front view read from the run directory, drawn (PNG, HTML) and summarised in text.

What the CLI draws and prints at the end of a search (``finish_run``), after training
(``finish_training``), and on ``evonas plot`` (``plot_summary``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from evonas.config.schema import Config
from evonas.run.rundir import PLOT, PLOT_HTML, RunDir
from evonas.viz.html import plot_html
from evonas.viz.png import plot_front
from evonas.viz.view import FrontView, build_view
from evonas.space.table import BenchmarkTable, load_table

__all__ = ["finish_run", "finish_training", "plot_summary", "front_table", "default_axes", "load_view",
           "write_plots"]


def default_axes(config: Config) -> tuple[str, str]:
    """x: the run's cost (``Config.cost_objective``); y: the first other objective. With every
    objective maximised: the second objective against the first."""
    names, cost = config.score_names, config.cost_objective
    if cost is None:
        return names[1], names[0]
    return cost.score, next(n for n in names if n != cost.score)


def front_table(config: Config, front: Sequence[dict[str, Any]], limit: int = 20) -> str:
    accuracy = [] if config.custom_data else [config.dataset_spec.test_column]
    cols = ["id", *config.score_names, *accuracy, "index"]
    lines = ["  ".join(f"{c:>14}" for c in cols)]
    for row in front[:limit]:
        lines.append("  ".join(f"{float(row[c]):>14.5g}" if c not in ("id", "index") else f"{row[c]:>14}"
                               for c in cols))
    if len(front) > limit:
        lines.append(f"... {len(front) - limit} more in pareto.csv")
    return "\n".join(lines)


def load_view(run: RunDir, config: Config, *, x: str | None = None, y: str | None = None,
              table: BenchmarkTable | None = None) -> FrontView:
    """The run's candidates, front, shortlist and trained accuracies, ready to draw on ``x`` against ``y``."""
    dx, dy = default_axes(config)
    return build_view(config, run.candidates(), run.pareto(), table or load_table(), x=x or dx, y=y or dy,
                      members=run.shortlist(), trained=run.trained(), run_path=str(run.path))


def write_plots(view: FrontView, run: RunDir, *, png: Path | None = None,
                html: Path | None = None) -> tuple[Path, Path]:
    """Draw ``pareto.png`` and ``pareto.html`` (or the given paths) from one view."""
    return (plot_front(view, png or run.file(PLOT)), plot_html(view, html or run.file(PLOT_HTML)))


def finish_run(config: Config, run: RunDir, front: Sequence[dict[str, Any]]) -> str:
    """Draw pareto.png and pareto.html, and return the summary printed after a search."""
    png, html = write_plots(load_view(run, config), run)
    limited = [o.score for o in config.objectives if o.score in ("flops", "params")]  # pick has --max-flops/params
    cost = next((c for c in [getattr(config.cost_objective, "score", None), *limited] if c in limited), None)
    limit = f"   or   --max-{cost} {float(front[len(front) // 2][cost]):.3g}" if cost and front else ""
    about = ("your data: no benchmark table, train the front for its accuracy" if config.custom_data else
             f"{config.dataset_spec.test_column} from the shipped table, for reference only")
    return (f"\nPareto front ({len(front)} architectures; {about}):\n{front_table(config, front)}\n\nrun directory: {run.path}\n"
            f"plots: {png}  {html} (open in a browser: hover for details, click for the pick command)\n"
            f"pick one:  python -m evonas pick {run.path} --id 0{limit}")


def finish_training(config: Config, run: RunDir, rows: Sequence[dict[str, Any]], *, after_search: bool) -> str:
    """Redraw pareto.png and pareto.html with the trained accuracies; return the summary printed after
    training (``rows``: trained.csv's, ``train_front``'s): after the search, where the models are and the
    front after training; after ``evonas train``, each candidate's result."""
    png, html = write_plots(load_view(run, config), run)
    answer = [r for r in rows if r.get("trained_front")]
    if after_search:
        text = (f"trained models in {run.path / 'models'}; metrics in {run.file('trained.csv')}; "
                f"{png.name} and {html.name} redrawn with the trained accuracies")
        if answer:
            text += ("\nfront after training (test accuracy vs cost): "
                     + ", ".join(f"id {r['id']} {float(r['test_acc']):.2f}%" for r in answer)
                     + f"\npick one:  python -m evonas pick {run.path} --trained [--id N | --max-flops M]")
        return text
    lines = []
    for r in rows:
        acc = f"{float(r['test_acc']):.2f}%" if r.get("status") == "ok" else r.get("error", "")
        lines.append(f"id {r['id']}: {r.get('status')}  test acc {acc}"
                     + ("  (front after training)" if r.get("trained_front") else ""))
    if answer:
        lines.append(f"pick from the front after training: python -m evonas pick {run.path} --trained")
    lines.append(f"redrew {png} and {html} with the trained accuracies")
    return "\n".join(lines)


def plot_summary(view: FrontView, png: Path, html: Path) -> str:
    """What ``evonas plot`` prints after drawing ``view``: the panels' axes, and each member's gap to the true front."""
    if not view.benchmark:
        return (f"wrote {png} and {html} ({view.y} vs {view.x}; middle panel: the front at its trained accuracy vs "
                f"{view.cost}: {view.note})")
    lines = [f"wrote {png} and {html} ({view.y} vs {view.x}; right panel: {view.accuracy} vs {view.cost}"
             + (f", true front of {len(view.reference.indices)} table cells)" if view.reference is not None
                else f"; no true front: {view.note})")]
    gaps = view.gaps
    if gaps:
        lines.append("gap to the true front (accuracy points below the best cell of the table at that cost or less):")
        lines.append("  " + "  ".join(f"id {i}: {g:.2f}" for i, g in sorted(gaps.items())))
    return "\n".join(lines)

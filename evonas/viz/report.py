"""A run's report: its front view read from the run directory, drawn (PNG, HTML) and summarised in text.

What the CLI draws and prints at the end of a search, after training, and on ``evonas plot``.
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
from evonas.space.datasets import dataset_spec

__all__ = ["finish_run", "front_table", "default_axes", "load_view", "write_plots"]


def default_axes(config: Config) -> tuple[str, str]:
    """x: the last cost-like (minimised) objective; y: the first objective."""
    names = config.score_names
    return names[-1] if config.objectives[-1].direction == "min" else names[1], names[0]


def front_table(config: Config, front: Sequence[dict[str, Any]], limit: int = 20) -> str:
    accuracy = [] if config.custom_data else [dataset_spec(config.dataset).test_column]
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
    cost = next((o.score for o in config.objectives if o.score in ("flops", "params")), None)
    limit = f"   or   --max-{cost} {float(front[len(front) // 2][cost]):.3g}" if cost and front else ""
    about = ("your data: no benchmark table, train the front for its accuracy" if config.custom_data else
             f"{dataset_spec(config.dataset).test_column} from the shipped table, for reference only")
    return (f"\nPareto front ({len(front)} architectures; {about}):\n{front_table(config, front)}\n\nrun directory: {run.path}\n"
            f"plots: {png}  {html} (open in a browser: hover for details, click for the pick command)\n"
            f"pick one:  python -m evonas pick {run.path} --id 0{limit}")

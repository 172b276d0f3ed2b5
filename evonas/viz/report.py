"""What the CLI prints and draws at the end of a run, and for a picked architecture."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from evonas.config.schema import Config
from evonas.viz.png import FrontView, build_view, plot_front
from evonas.viz.html import plot_html
from evonas.run.rundir import PLOT, RunDir, read_csv
from evonas.space.table import ACCURACY_COLUMNS, DATASET_ACCURACY, BenchmarkTable, load_table

__all__ = ["finish_run", "describe_pick", "front_table", "default_axes", "load_view", "write_plots",
           "PLOT_HTML", "TRAINED_CSV"]

PLOT_HTML = "pareto.html"
TRAINED_CSV = "trained.csv"


def default_axes(config: Config) -> tuple[str, str]:
    """x: the last cost-like (minimised) objective; y: the first objective."""
    names = config.score_names
    return names[-1] if config.objectives[-1].direction == "min" else names[1], names[0]


def front_table(config: Config, front: Sequence[dict[str, Any]], limit: int = 20) -> str:
    acc = DATASET_ACCURACY[config.dataset]
    cols = ["id", *config.score_names, acc, "index"]
    lines = ["  ".join(f"{c:>14}" for c in cols)]
    for row in front[:limit]:
        lines.append("  ".join(f"{float(row[c]):>14.5g}" if c not in ("id", "index") else f"{row[c]:>14}"
                               for c in cols))
    if len(front) > limit:
        lines.append(f"... {len(front) - limit} more in pareto.csv")
    return "\n".join(lines)


def trained_rows(run: RunDir) -> list[dict[str, str]]:
    return read_csv(run.file(TRAINED_CSV)) if run.file(TRAINED_CSV).exists() else []


def load_view(run: RunDir, config: Config, *, x: str | None = None, y: str | None = None,
              table: BenchmarkTable | None = None) -> FrontView:
    """The run's candidates, front and trained accuracies, ready to draw on ``x`` against ``y``."""
    dx, dy = default_axes(config)
    return build_view(config, run.candidates(), run.pareto(), table or load_table(), x=x or dx, y=y or dy,
                      trained=trained_rows(run), run_path=str(run.path))


def write_plots(view: FrontView, run: RunDir, *, png: Path | None = None,
                html: Path | None = None) -> tuple[Path, Path]:
    """Draw ``pareto.png`` and ``pareto.html`` (or the given paths) from one view."""
    return (plot_front(view, png or run.file(PLOT)), plot_html(view, html or run.file(PLOT_HTML)))


def finish_run(config: Config, run: RunDir, front: Sequence[dict[str, Any]]) -> str:
    """Draw pareto.png and pareto.html, and return the summary printed after a search."""
    png, html = write_plots(load_view(run, config), run)
    cost = next((o.score for o in config.objectives if o.score in ("flops", "params")), None)
    limit = f"   or   --max-{cost} {float(front[len(front) // 2][cost]):.3g}" if cost and front else ""
    return (f"\nPareto front ({len(front)} architectures; {DATASET_ACCURACY[config.dataset]} from the shipped "
            f"table, for reference only):\n{front_table(config, front)}\n\nrun directory: {run.path}\n"
            f"plots: {png}  {html} (open in a browser: hover for details, click for the pick command)\n"
            f"pick one:  python -m evonas pick {run.path} --id 0{limit}")


def describe_pick(config: Config, row: dict[str, Any], run_path: str | Path = "RUN_DIR",
                  why: str = "") -> str:
    """The chosen architecture, its objectives and benchmark numbers, and the export command."""
    on_front = row.get("id") not in (None, "")
    lines = [f"id          {row['id'] if on_front else '- (not on the front)'}", f"arch        {row['arch']}",
             f"index       {row['index']}"]
    if row.get("dead_edges"):
        lines.append(f"dead edges  {row['dead_edges']} (input always zero; NB201 counts the cell without them "
                     f"as another cell)")
    if why:
        lines.insert(0, f"chosen      {why}")
    lines += [f"{o.score:<11} {float(row[o.score]):.6g}  ({o.direction})" for o in config.objectives
              if row.get(o.score) not in (None, "")]
    lines += ["benchmark accuracies (shipped NB201 table, %):"]
    lines += [f"  {c:<24} {float(row[c]):.2f}" for c in ACCURACY_COLUMNS if row.get(c) not in (None, "")]
    extra = [c for c in row if c.startswith("nats") and row[c] not in (None, "")]
    if extra:
        lines += ["NATS-Bench:"] + [f"  {c:<24} {float(row[c]):.4g}" for c in extra]
    if row.get("trained_test_acc") not in (None, ""):
        lines += [f"trained     test acc {float(row['trained_test_acc']):.2f}% after {row.get('trained_epochs')} "
                  f"epoch(s) (trained.csv)"]
    target = f"--id {row['id']}" if on_front else f"--arch '{row['arch']}'"
    lines += ["", f"export it:  python -m evonas export {run_path} {target} --out model.pt"]
    return "\n".join(lines)

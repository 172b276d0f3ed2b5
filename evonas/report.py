"""What the CLI prints and draws at the end of a run, and for a picked architecture."""
from __future__ import annotations

from typing import Any, Sequence

from evonas.config import Config
from evonas.plot import plot_front
from evonas.results import PLOT, RunDir
from evonas.table import DATASET_ACCURACY

__all__ = ["finish_run", "describe_pick", "front_table"]


def _axes(config: Config) -> tuple[str, str]:
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


def finish_run(config: Config, run: RunDir, front: Sequence[dict[str, Any]]) -> str:
    """Draw pareto.png and return the summary printed after a search."""
    x, y = _axes(config)
    plot_front(run.candidates(), front, x, y, run.file(PLOT),
               title=f"{config.name}: {len(front)} non-dominated of {len(run.candidates())} scored")
    return (f"\nPareto front ({len(front)} architectures; {DATASET_ACCURACY[config.dataset]} from the shipped "
            f"table, for reference only):\n{front_table(config, front)}\n\nrun directory: {run.path}\n"
            f"pick one:  python -m evonas pick {run.path} --id 0   or   --max-flops 50")


def describe_pick(config: Config, row: dict[str, Any]) -> str:
    from evonas.table import ACCURACY_COLUMNS

    lines = [f"id          {row['id']}", f"arch        {row['arch']}", f"index       {row['index']}"]
    lines += [f"{o.score:<11} {float(row[o.score]):.6g}  ({o.direction})" for o in config.objectives]
    lines += ["benchmark accuracies (shipped NB201 table, %):"]
    lines += [f"  {c:<24} {float(row[c]):.2f}" for c in ACCURACY_COLUMNS if c in row]
    return "\n".join(lines)

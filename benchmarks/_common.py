"""Helpers shared by the benchmark scripts: sampling cells, rank correlations, one table, JSON."""
from __future__ import annotations

import json
import math
import platform
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from scipy.stats import kendalltau, spearmanr

from evonas.space.cell import Cell
from evonas.space.table import DATASET_ACCURACY, load_table, sample_connected

__all__ = ["sample_connected", "accuracy", "rank_correlations", "print_table", "write_json", "machine",
           "parse_score_settings"]


def accuracy(cells: Sequence[Cell], dataset: str) -> np.ndarray:
    """200-epoch test accuracy (%) of each cell on ``dataset`` from the shipped table."""
    table = load_table()
    column = table.column(DATASET_ACCURACY[dataset])
    return np.array([column[table.index(c)] for c in cells])


def rank_correlations(scores: Sequence[float], targets: Sequence[float]) -> tuple[float, float]:
    """Kendall tau-b and Spearman rho over the pairs where the score is finite."""
    x, y = np.asarray(scores, dtype=float), np.asarray(targets, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 3 or np.ptp(x[keep]) == 0 or np.ptp(y[keep]) == 0:
        return float("nan"), float("nan")
    return float(kendalltau(x[keep], y[keep])[0]), float(spearmanr(x[keep], y[keep])[0])


def parse_score_settings(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``score.key=value`` strings -> {score: {key: value}} (values parsed as YAML)."""
    from evonas.config.schema import apply_overrides

    tree = apply_overrides({}, list(items))
    return {k: v for k, v in tree.items() if isinstance(v, dict)}


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.3f}" if abs(value) < 1e4 else f"{value:.3g}"
    return str(value)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """One markdown table on stdout."""
    print("| " + " | ".join(headers) + " |")
    print("|" + "|".join("---" for _ in headers) + "|")
    for row in rows:
        print("| " + " | ".join(_cell(v) for v in row) + " |")


def write_json(path: str | Path | None, obj: Any) -> None:
    if path is None:
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(obj, indent=2, sort_keys=True, default=float) + "\n")


def machine() -> str:
    from evonas.nn.devices import device_name

    return f"{device_name('cpu')} ({platform.machine()})"

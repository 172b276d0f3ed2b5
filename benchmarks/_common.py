"""Helpers shared by the benchmark scripts: rank correlations, score settings, one markdown table, JSON."""
from __future__ import annotations

import json
import math
import platform
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from scipy.stats import kendalltau, spearmanr

__all__ = ["SHORT", "rank_correlations", "print_table", "write_json", "machine", "parse_score_settings"]

#: the short name of each data set in table headers
SHORT = {"cifar10": "C10", "cifar100": "C100", "imagenet16-120": "IN16"}


def rank_correlations(scores: Sequence[float], targets: Sequence[float]) -> tuple[float, float]:
    """Kendall tau-b and Spearman rho over the pairs where the score is finite."""
    x, y = np.asarray(scores, dtype=float), np.asarray(targets, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 3 or np.ptp(x[keep]) == 0 or np.ptp(y[keep]) == 0:
        return float("nan"), float("nan")
    return float(kendalltau(x[keep], y[keep])[0]), float(spearmanr(x[keep], y[keep])[0])


def parse_score_settings(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``score.key=value`` strings -> {score: {key: value}} (values parsed as YAML)."""
    from evonas.config.load import apply_overrides

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
    """``obj`` as indented JSON at ``path`` (nothing when ``path`` is None)."""
    if path is None:
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(obj, indent=2, sort_keys=True, default=float) + "\n")


def machine() -> str:
    """The CPU's name and architecture, for the tables' captions."""
    from evonas.nn.devices import device_name

    return f"{device_name('cpu')} ({platform.machine()})"

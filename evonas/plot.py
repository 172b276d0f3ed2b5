"""The Pareto-front plot: every scored candidate in grey, the front labelled with its ids."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["plot_front", "AXIS_LABELS"]

AXIS_LABELS = {
    "flops": "FLOPs (M, fvcore)", "params": "parameters (M)", "knas": "KNAS score (higher is better)",
    "latency": "latency (ms, measured)", "latency_table": "latency (ms, table)",
    "cifar10_test_200ep": "CIFAR-10 test accuracy, 200 epochs (%)",
    "cifar100_test_200ep": "CIFAR-100 test accuracy, 200 epochs (%)",
    "imagenet16_test_200ep": "ImageNet16-120 test accuracy, 200 epochs (%)",
}


def _floats(rows: Sequence[dict], key: str) -> list[float]:
    return [float(r[key]) for r in rows if r.get(key) not in (None, "")]


def plot_front(candidates: Sequence[dict], front: Sequence[dict], x: str, y: str, path: Path,
               *, title: str = "", log_x: bool | None = None) -> Path:
    """Scatter ``y`` against ``x``; front points (with an ``id``) labelled and joined in order of ``x``."""
    ok = [r for r in candidates if r.get("status", "ok") == "ok" and r.get(x) not in (None, "")
          and r.get(y) not in (None, "")]
    fig, ax = plt.subplots(figsize=(7.5, 5.2), dpi=150)
    ax.scatter(_floats(ok, x), _floats(ok, y), s=10, c="0.7", label=f"scored candidates ({len(ok)})", zorder=1)
    pts = sorted(((float(r[x]), float(r[y]), r["id"]) for r in front), key=lambda t: t[0])
    if pts:
        xs, ys, ids = zip(*pts)
        ax.plot(xs, ys, "-", c="tab:red", lw=1, alpha=0.6, zorder=2)
        ax.scatter(xs, ys, s=28, c="tab:red", edgecolors="k", linewidths=0.5,
                   label=f"Pareto front ({len(pts)})", zorder=3)
        for xi, yi, i in pts:
            ax.annotate(str(i), (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=7)
    values = _floats(ok, x)
    if log_x is None:
        log_x = bool(values) and min(values) > 0 and max(values) / min(values) > 20
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(AXIS_LABELS.get(x, x))
    ax.set_ylabel(AXIS_LABELS.get(y, y))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path

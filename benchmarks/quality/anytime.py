"""The anytime plot: HV ratio against cells evaluated, mean over seeds, for the evaluated and returned fronts."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.quality.runs import RunRecord
from evonas.analysis.quality import indicators, prefix_front


def anytime_plot(path: Path, records: dict[str, list[RunRecord]], truth: np.ndarray, front: np.ndarray,
                 step: int, budget: int, dataset: str) -> dict[str, dict[str, list[float]]]:
    """HV ratio vs evaluations, mean over seeds, one line per setting: evaluated and returned fronts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = list(range(step, budget + 1, step))

    def hv_at(r: RunRecord, x: int, kind: str) -> float:
        F = truth[np.asarray(r.indices[:x])]
        rows = prefix_front(F, x) if kind == "evaluated" else prefix_front(np.asarray(r.search_F), x)
        return indicators(F[rows], front)["hv_ratio"]

    curves: dict[str, dict[str, list[float]]] = {}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, kind in zip(axes, ("evaluated", "returned")):
        for name, recs in records.items():
            ys = [float(np.mean([hv_at(r, x, kind) for r in recs])) for x in xs]
            curves.setdefault(name, {})[kind] = ys
            ax.plot(xs, ys, label=name)
        ax.set_title(f"{kind} front")
        ax.set_xlabel("cells evaluated")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"HV ratio on {dataset} (test error, FLOPs)")
    axes[1].legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return curves

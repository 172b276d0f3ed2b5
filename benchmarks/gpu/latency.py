"""The ``latency`` section: many cells timed twice at each batch size on the device this process has to itself."""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from _common import rank_correlations
from evonas.nn.devices import device_name
from evonas.nn.timing import measure_latency
from evonas.scores import ScoreContext
from evonas.datasets import dataset_spec
from evonas.space.latency_table import latency_columns
from evonas.space.table import load_table, sample_connected
from gpu.plan import Budget, Context, Plan

GPU_COLUMN_PREFIXES = ("1080ti", "2080ti", "titan_rtx", "titanx", "titanxp")


def _spearman(x: Any, y: Any) -> float:
    return rank_correlations(x, y)[1]


def latency_repeats(plan: Plan, batch: int) -> tuple[int, int]:
    """(warm-up, repeats) at ``batch``: half as many at batch >= 32, where a pass varies far less."""
    if batch >= 32:
        return max(1, plan.latency_warmup // 2), max(2, plan.latency_repeats // 2)
    return plan.latency_warmup, plan.latency_repeats


def _two_passes(ctx: Context, cells: list, batch: int, share: Budget, row: dict[str, Any]) -> list[list[float]]:
    """Median ms of each cell in two passes; the second stops with the first's cells or the budget."""
    spec = dataset_spec(ctx.dataset)
    runs: list[list[float]] = [[], []]
    for p in range(2):
        for i, cell in enumerate(cells):
            if p == 1 and i >= len(runs[0]):
                break
            if (p == 0 and share.used > 0.5 * share.seconds) or share.spent:
                row["stopped_early"] = True
                break
            net = ScoreContext(cell, ctx.device, spec, seed=ctx.seed, C=ctx.plan.C, N=ctx.plan.N).network()
            stats = measure_latency(net, resolution=spec.resolution, batch_size=batch, warmup=row["warmup"],
                                    repeats=row["repeats"], device=ctx.device)
            runs[p].append(stats.median_ms)
            ctx.report.save()
    return runs


def section_latency(ctx: Context, out: dict[str, Any], budget: Budget) -> None:
    """Latency of many cells, twice, at each batch size, on the device this process has to itself."""
    cells = sample_connected(ctx.plan.latency_n, ctx.seed + 1)
    flops = load_table().column(f"flops_{ctx.dataset}")
    columns = latency_columns()
    out.update({"device_name": device_name(ctx.device), "n_target": len(cells), "statistic": "median",
                "batches": {}})
    batches = ctx.plan.latency_batches
    for k, batch in enumerate(batches):
        share = Budget(budget.left / (len(batches) - k))
        warmup, repeats = latency_repeats(ctx.plan, batch)
        row: dict[str, Any] = {"stopped_early": False, "warmup": warmup, "repeats": repeats}
        out["batches"][str(batch)] = row
        start = time.perf_counter()
        runs = _two_passes(ctx, cells, batch, share, row)
        n = min(len(runs[0]), len(runs[1]))
        first, second = np.array(runs[0][:n]), np.array(runs[1][:n])
        mean = (first + second) / 2
        idx = np.array([c.index for c in cells[:n]], dtype=int)
        same_batch = {name: col for name, col in columns.items()
                      if name.startswith(GPU_COLUMN_PREFIXES) and name.endswith(f"_bs{batch}")}
        row.update({
            "n": n, "seconds": time.perf_counter() - start,
            "median_ms": float(np.median(mean)) if n else float("nan"),
            "run_to_run_spearman": _spearman(first, second),
            "median_rel_run_to_run": float(np.median(np.abs(first - second) / mean)) if n else float("nan"),
            "spearman_flops": _spearman(mean, flops[idx]) if n else float("nan"),
            "spearman_columns": {name: _spearman(mean, col[idx]) for name, col in sorted(same_batch.items())},
            "index": idx.tolist(), "run1_ms": first.tolist(), "run2_ms": second.tolist(),
        })
        ctx.report.save(force=True)

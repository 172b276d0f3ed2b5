"""The ``objective`` section: the gradient-kernel objective (and aggregates) over many cells on the device."""
from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from _common import rank_correlations
from evonas.analysis.quality import within_bin_tau
from evonas.scores import SCORES
from evonas.datasets import dataset_spec
from evonas.space.table import load_table, sample_connected
from gpu.actors import make_plan_pool, ray_available, start_local_ray, stop_ray
from gpu.plan import Budget, Context, Skip, error_text


def objective_scores() -> list[str]:
    """The gradient-kernel objective and any aggregate score registered now."""
    return [n for n in sorted(SCORES) if n.startswith("gradient_kernel") or "aggregate" in n]


def _judge(row: dict[str, Any], index: list[int], values: list[float], seconds: float, n_cells: int,
           accuracy: np.ndarray, flops: np.ndarray) -> None:
    """Rates and rank correlations with 200-epoch accuracy of the cells one score got through."""
    idx = np.array(index, dtype=int)
    v = np.array(values, dtype=float)
    tau, rho = rank_correlations(v, accuracy[idx]) if len(idx) else (float("nan"), float("nan"))
    row.update({
        "seconds": seconds, "cells_per_s": row["done"] / seconds if seconds > 0 else float("nan"),
        "projected_s_all": n_cells / (row["done"] / seconds) if row["done"] and seconds > 0 else float("nan"),
        "kendall_tau": tau, "spearman": rho,
        "within_flops_tau": float(within_bin_tau(v, accuracy[idx], flops[idx], 5)) if len(idx) else float("nan"),
        "index": idx.tolist(), "value": v.tolist(),
    })


def section_objective(ctx: Context, out: dict[str, Any], budget: Budget) -> None:
    """The gradient-kernel objective (and aggregates) over many cells on the device."""
    names = objective_scores()
    if not names:
        raise Skip("no gradient_kernel or aggregate score is registered")
    cells = sample_connected(ctx.plan.objective_n, ctx.seed)
    table = load_table()
    accuracy = table.column(dataset_spec(ctx.dataset).test_column)
    flops = table.column(f"flops_{ctx.dataset}")
    use_ray = ctx.on_gpu and not ray_available()
    started = start_local_ray() if use_ray else False
    out.update({"n_target": len(cells), "backend": "ray" if use_ray else "serial", "scores": {}})
    try:
        for k, name in enumerate(names):
            share = Budget(budget.left / (len(names) - k))
            row: dict[str, Any] = {"done": 0, "failed": 0, "first_error": "", "stopped_early": False}
            out["scores"][name] = row
            actors = ctx.plan.objective_actors_per_gpu * max(1, torch.cuda.device_count()) if use_ray else 1
            row["actors"] = actors
            index, values = [], []
            start = time.perf_counter()
            try:
                pool = make_plan_pool(ctx, name, device=str(ctx.device), actors=actors,
                                      per_gpu=ctx.plan.objective_actors_per_gpu,
                                      backend="ray" if use_ray else "serial")
            except Exception as err:  # noqa: BLE001 - e.g. an aggregate without its reference data
                row["first_error"] = error_text(err, 300)
                continue
            row["startup_s"] = time.perf_counter() - start
            start = time.perf_counter()
            with pool:
                for ev in pool.map_unordered(cells):
                    if ev.ok:
                        index.append(ev.index)
                        values.append(ev.values[name])
                    else:
                        row["failed"] += 1
                        row["first_error"] = row["first_error"] or ev.error.strip().splitlines()[0][:300]
                    row["done"] = len(index) + row["failed"]
                    if share.spent:
                        row["stopped_early"] = row["done"] < len(cells)
                        break
                    if row["done"] % 50 == 0:
                        row["seconds"] = time.perf_counter() - start
                        ctx.report.save()
            _judge(row, index, values, time.perf_counter() - start, len(cells), accuracy, flops)
            ctx.report.save(force=True)
    finally:
        stop_ray(started)

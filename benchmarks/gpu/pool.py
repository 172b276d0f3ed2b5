"""The ``pool`` section: cells/s of the Ray pool with 1, 2, 4 actors per GPU and with CPU actors."""
from __future__ import annotations

import os
import time
from typing import Any

import torch

from evonas.space.table import sample_connected
from gpu.actors import make_plan_pool, ray_available, start_local_ray, stop_ray
from gpu.plan import Budget, Context, Skip, error_text


def _pool_rates(ctx: Context, cells: list, *, device: str, actors: int, per_gpu: int,
                budget: Budget, cpu_actors: int | str = 0) -> list[dict[str, Any]]:
    """One pool of ``actors`` for all the section's scores; each score timed alone over ``cells``.

    ``cpu_actors``: CPU actors beside GPU actors, which take the scores that run no network on
    images (synflow), as evonas' default ``ray.cpu_actors: auto`` does."""
    scores = ctx.plan.pool_scores
    start = time.perf_counter()
    pool = make_plan_pool(ctx, scores, device=device, actors=actors, per_gpu=per_gpu, cpu_actors=cpu_actors)
    cpu_beside = getattr(getattr(pool, "plan", None), "cpu_actors", 0) if cpu_actors else 0
    runs = []
    with pool:
        startup = time.perf_counter() - start
        for k, score in enumerate(scores):
            share = Budget(budget.left / (len(scores) - k))
            only = {c.arch: (score,) for c in cells}
            list(pool.map_unordered(cells[:actors], only))  # every actor scores once before the clock starts
            start, done, failed = time.perf_counter(), 0, 0
            for ev in pool.map_unordered(cells[actors:], only):
                done += ev.ok
                failed += not ev.ok
                if share.spent:
                    break
            seconds = time.perf_counter() - start
            runs.append({"score": score, "actors": actors, "per_gpu": per_gpu if device != "cpu" else 0,
                         "cpu_actors_beside": cpu_beside, "device": device, "startup_s": startup, "cells": done,
                         "failed": failed,
                         "seconds": seconds, "cells_per_s": done / seconds if seconds > 0 else float("nan"),
                         "stopped_early": share.spent})
    return runs


def section_pool(ctx: Context, out: dict[str, Any], budget: Budget) -> None:
    """Cells/s of the Ray pool: actors per GPU, and CPU actors, for a cheap and an expensive score."""
    why = ray_available()
    if why:
        raise Skip(why)
    cpus, gpus = os.cpu_count() or 1, torch.cuda.device_count()
    configs: list[tuple[str, int, int, int | str]] = []
    skipped = []
    if gpus and ctx.on_gpu:
        configs += [("cuda", k * gpus, k, 0) for k in ctx.plan.pool_per_gpu]
        configs.append(("cuda", 2 * gpus, 2, "auto"))  # evonas' default: 2 per GPU, CPU actors beside them
    else:
        skipped.append(f"GPU actors: no GPU ({ctx.device})")
    configs.append(("cpu", min(ctx.plan.pool_cpu_actors, cpus), 1, 0))
    out.update({"cpus": cpus, "gpus": gpus, "skipped": skipped, "runs": []})
    cells = sample_connected(ctx.plan.pool_cells + max(a for _, a, _, _ in configs), ctx.seed + 2)
    started = start_local_ray()
    try:
        for k, (device, actors, per_gpu, beside) in enumerate(configs):
            if budget.spent:
                out["stopped_early"] = True
                return
            share = Budget(budget.left / (len(configs) - k))
            try:
                runs = _pool_rates(ctx, cells[:ctx.plan.pool_cells + actors], device=device, actors=actors,
                                   per_gpu=per_gpu, budget=share, cpu_actors=beside)
            except Exception as err:  # noqa: BLE001 - one configuration that cannot run is a row
                runs = [{"score": "+".join(ctx.plan.pool_scores), "actors": actors, "per_gpu": per_gpu,
                         "device": device, "error": error_text(err, 300)}]
            out["runs"] += runs
            ctx.report.save(force=True)
    finally:
        stop_ray(started)

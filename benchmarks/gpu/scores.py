"""The ``scores`` section: seconds per cell of every score on the device and the CPU, and how far the values differ."""
from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch

from evonas.nn.devices import device_name
from evonas.nn.images import load_images
from evonas.scores import SCORES, ScoreContext, make_settings
from evonas.datasets import dataset_spec
from evonas.space.table import sample_connected
from gpu.plan import Budget, Context, error_text

#: timed by their own section (latency) or a pure table read on any device
NOT_IN_SCORES = frozenset({"latency"})
#: the scores whose TF32 drift the section reports
TF32_SCORES = ("gradient_kernel", "knas", "knas_fast", "synflow", "ntk_cond")


def relative_difference(device_value: float, cpu_value: float) -> float:
    """|device - cpu| / |cpu| (absolute difference when the CPU value is 0)."""
    if not (math.isfinite(device_value) and math.isfinite(cpu_value)):
        return 0.0 if device_value == cpu_value else float("inf")
    scale = abs(cpu_value)
    return abs(device_value - cpu_value) / scale if scale > 0 else abs(device_value - cpu_value)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _contexts(ctx: Context, cells: list, data_cpu: Any, data_dev: Any) -> tuple[list, list]:
    spec = dataset_spec(ctx.dataset)
    cpu = [ScoreContext(c, torch.device("cpu"), spec, data_cpu, ctx.seed, ctx.plan.C, ctx.plan.N) for c in cells]
    dev = [ScoreContext(c, ctx.device, spec, data_dev, ctx.seed, ctx.plan.C, ctx.plan.N) for c in cells]
    return cpu, dev


def _timed_score(name: str, sctx: ScoreContext, settings: Any) -> tuple[float, float, str]:
    """(value, seconds, error) of one score on one cell, seeded as the scorer seeds it."""
    torch.manual_seed(sctx.seed)
    start = time.perf_counter()
    try:
        value = SCORES[name](sctx, settings)
        _sync(sctx.device)
        return value, time.perf_counter() - start, ""
    except Exception as err:  # noqa: BLE001 - one score's failure is a row of the report, not its end
        return float("nan"), time.perf_counter() - start, error_text(err)


def _usable_scores(ctx: Context) -> tuple[list[str], dict[str, Any], dict[str, int], dict[str, str]]:
    """(names, settings, images needed, unusable -> why) of the scores the section times."""
    names, settings, needed, unusable = [], {}, {}, {}
    for name in sorted(set(ctx.plan.only_scores or SCORES) - NOT_IN_SCORES):
        try:
            settings[name] = make_settings(name, ctx.plan.score_settings.get(name))
            needed[name] = SCORES[name].images_needed(settings[name])
            names.append(name)
        except Exception as err:  # noqa: BLE001 - e.g. a score whose reference data is not shipped
            unusable[name] = error_text(err)
    return names, settings, needed, unusable


def section_scores(ctx: Context, out: dict[str, Any], budget: Budget) -> None:
    """Seconds per cell on the device and the CPU, and the relative difference of the values."""
    names, settings, needed, unusable = _usable_scores(ctx)
    n_images = max([256, *needed.values()])
    data_cpu = load_images(ctx.dataset, n=n_images, seed=ctx.seed)
    data_dev = data_cpu.to(ctx.device)
    cells = sample_connected(ctx.plan.score_cells + 1, ctx.seed + 11)
    warm, cells = cells[0], cells[1:]
    cpu_ctx, dev_ctx = _contexts(ctx, cells, data_cpu, data_dev)
    _, (warm_ctx,) = _contexts(ctx, [warm], data_cpu, data_dev)
    rows: dict[str, dict[str, Any]] = {n: {"cpu_s": [], "device_s": [], "cpu": [], "device": [], "errors": []}
                                       for n in names}
    out.update({"device_name": device_name(ctx.device), "cpu_threads": 1, "C": ctx.plan.C, "N": ctx.plan.N,
                "cells": [c.index for c in cells], "scores": rows, "unusable": unusable, "stopped_early": False})
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name in names:  # one untimed pass on the device: CUDA context, cuDNN and allocator warm-up
            if budget.spent:
                break
            _timed_score(name, warm_ctx, settings[name])
        for k in range(len(cells)):  # cell-major: every score gets its first cell before any its second
            for name in names:
                if budget.spent:
                    out["stopped_early"] = True
                    return
                row = rows[name]
                for side, sctx in (("cpu", cpu_ctx[k]), ("device", dev_ctx[k])):
                    value, seconds, error = _timed_score(name, sctx, settings[name])
                    row[side].append(value)
                    row[f"{side}_s"].append(seconds)
                    if error:
                        row["errors"].append(f"{side}, cell {cells[k].index}: {error}")
                ctx.report.save()
        if ctx.on_gpu and cells:
            out["tf32"] = _tf32_drift(names, settings, cpu_ctx[0], dev_ctx[0], budget)
    finally:
        torch.set_num_threads(threads)
        for row in rows.values():
            _summarise_score(row)
        out["knas"] = _knas_speedups(rows)
        out["cells_done"] = max((len(r["cpu"]) for r in rows.values()), default=0)


def _tf32_drift(names: list[str], settings: dict[str, Any], cpu: ScoreContext, dev: ScoreContext,
                budget: Budget) -> dict[str, Any]:
    """|device - CPU| / |CPU| of a few scores with TF32 and cuDNN autotuning on (torch's defaults for
    convolutions), next to the same with ``configure_scoring``'s flags: what the flags buy."""
    from evonas.nn.devices import training_numerics

    drift: dict[str, Any] = {"cell": cpu.cell.index}
    for name in (n for n in TF32_SCORES if n in names):
        if budget.spent:
            break
        reference = _timed_score(name, cpu, settings[name])[0]
        strict = _timed_score(name, dev, settings[name])[0]
        with training_numerics(dev.device):
            loose = _timed_score(name, dev, settings[name])[0]
        drift[name] = {"tf32_off": relative_difference(strict, reference),
                       "tf32_on": relative_difference(loose, reference)}
    return drift


def _summarise_score(row: dict[str, Any]) -> None:
    pairs = [(d, c) for d, c in zip(row["device"], row["cpu"]) if math.isfinite(d) or math.isfinite(c)]
    diffs = [relative_difference(d, c) for d, c in pairs]
    row["n"] = len(row["cpu"])
    row["median_cpu_s"] = float(np.median(row["cpu_s"])) if row["cpu_s"] else float("nan")
    row["median_device_s"] = float(np.median(row["device_s"])) if row["device_s"] else float("nan")
    row["speedup"] = (row["median_cpu_s"] / row["median_device_s"]
                      if row["device_s"] and row["median_device_s"] > 0 else float("nan"))
    row["median_rel_diff"] = float(np.median(diffs)) if diffs else float("nan")
    row["max_rel_diff"] = float(np.max(diffs)) if diffs else float("nan")


def _knas_speedups(rows: dict[str, dict[str, Any]]) -> dict[str, float]:
    if "knas" not in rows or "knas_fast" not in rows:
        return {}
    loop, fast = rows["knas"], rows["knas_fast"]
    ratio = lambda a, b: a / b if b and math.isfinite(a) and math.isfinite(b) else float("nan")  # noqa: E731
    return {"cpu_loop_over_device_fast": ratio(loop["median_cpu_s"], fast["median_device_s"]),
            "device_loop_over_device_fast": ratio(loop["median_device_s"], fast["median_device_s"]),
            "cpu_loop_over_cpu_fast": ratio(loop["median_cpu_s"], fast["median_cpu_s"])}

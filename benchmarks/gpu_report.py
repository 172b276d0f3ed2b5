"""Every GPU measurement of evonas in one command: one JSON and the markdown tables for docs/benchmarks.md.

    python benchmarks/gpu_report.py --json gpu_report.json          # on a GPU machine: about 9 minutes
    python benchmarks/gpu_report.py --quick --json /tmp/report.json  # any machine: small n, under a minute

Sections, in order (``--sections`` picks some):

- ``env``: device name, torch / CUDA / cuDNN versions, the scoring flags in force.
- ``scores``: seconds per cell of every registered score on the device and on the CPU (one
  thread, as one actor), and the relative difference of the values (device vs CPU); the KNAS
  loop against ``knas_fast``.
- ``objective``: the gradient-kernel objective (and any registered ``*aggregate*`` score) over
  ``--n`` cells (``all``: every connected cell) through a pool of actors on the device:
  Kendall tau and Spearman rho with 200-epoch test accuracy, tau within FLOPs quintiles.
- ``latency``: >= 500 cells timed twice at batch 1 and 256 on the device (this process has it
  to itself): run-to-run Spearman, Spearman with the shipped GPU columns at the same batch and
  with FLOPs.
- ``pool``: cells/s of the Ray pool with 1, 2, 4 actors per GPU and with 16 CPU actors, for a
  cheap (synflow) and an expensive (gradient_kernel) score.
- ``main``: ``python -m evonas --config configs/nb201_gpu.yaml`` end to end (search, training,
  plots): wall time and what it found.

Each section has its own time budget (``--budget SECTION=SECONDS``) and stops early when it is
spent, saying how far it got; one that cannot run (no GPU, no Ray) is skipped with the reason.
The JSON is rewritten after every section and every few seconds inside long ones, so a killed
run leaves its partial results. The markdown goes to OUT.md next to the JSON and to stdout.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from scipy.stats import kendalltau, spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import sample_connected  # noqa: E402

from evonas.nn.flops import dataset_spec  # noqa: E402
from evonas.nn.images import load_images  # noqa: E402
from evonas.nn.devices import configure_scoring, device_name, resolve_device  # noqa: E402
from evonas.nn.latency import measure_latency  # noqa: E402
from evonas.scores import SCORES, ScoreContext, make_settings  # noqa: E402
from evonas.scores.latency import latency_columns  # noqa: E402
from evonas.space.table import DATASET_ACCURACY, load_table  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SECTIONS = ("env", "scores", "objective", "latency", "pool", "main")
#: timed by their own section (latency) or a pure table read on any device
NOT_IN_SCORES = frozenset({"latency"})
GPU_COLUMN_PREFIXES = ("1080ti", "2080ti", "titan_rtx", "titanx", "titanxp")


# -- plans --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """Sizes and per-section budgets (seconds) of one report."""

    C: int = 16
    N: int = 5
    score_cells: int = 3
    score_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    objective_n: int | str = "all"
    objective_actors_per_gpu: int = 4
    latency_n: int = 500
    latency_batches: tuple[int, ...] = (1, 256)
    latency_warmup: int = 5
    latency_repeats: int = 10
    pool_cells: int = 64
    pool_per_gpu: tuple[int, ...] = (1, 2, 4)
    pool_cpu_actors: int = 16
    pool_scores: tuple[str, ...] = ("synflow", "gradient_kernel")
    main_overrides: tuple[str, ...] = ("search.pop_size=20", "search.n_gen=4", "train.recipe.epochs=3")
    budgets: dict[str, float] = field(default_factory=lambda: {
        "env": 20, "scores": 70, "objective": 140, "latency": 130, "pool": 80, "main": 100})
    total_s: float = 540.0
    quick: bool = False
    only_scores: tuple[str, ...] | None = None  # the scores section's scores (None: every registered one)


FULL = Plan()
QUICK = Plan(C=8, N=1, score_cells=1, score_settings={"ntk_cond": {"repeats": 1, "batch_size": 16},
                                                      "linear_regions": {"repeats": 1}},
             objective_n=12, objective_actors_per_gpu=2, latency_n=6, latency_batches=(1, 16), latency_warmup=1,
             latency_repeats=2, pool_cells=6, pool_per_gpu=(1, 2), pool_cpu_actors=2,
             main_overrides=("network.C=8", "network.N=1", "search.pop_size=4", "search.n_gen=1",
                             "train.after_search=false"),
             budgets={"env": 20, "scores": 40, "objective": 20, "latency": 20, "pool": 60, "main": 90}, total_s=240.0,
             quick=True)


class Skip(Exception):
    """A section that cannot run here; the message says why."""


@dataclass
class Budget:
    seconds: float
    start: float = field(default_factory=time.perf_counter)

    @property
    def used(self) -> float:
        return time.perf_counter() - self.start

    @property
    def left(self) -> float:
        return self.seconds - self.used

    @property
    def spent(self) -> bool:
        return self.left <= 0


@dataclass
class Context:
    """What every section reads: the plan, the device, the data set, the report to save into."""

    plan: Plan
    device: torch.device
    dataset: str
    seed: int
    report: "Report"
    python: str = sys.executable

    @property
    def on_gpu(self) -> bool:
        return self.device.type == "cuda"


class Report:
    """The JSON on disk, rewritten atomically after each section and at most every few seconds inside one."""

    def __init__(self, path: Path, md_path: Path) -> None:
        self.path, self.md_path = path, md_path
        self.data: dict[str, Any] = {"format": "evonas-gpu-report-1", "finished": False, "sections": {}}
        self._last = 0.0

    def section(self, name: str) -> dict[str, Any]:
        self.data["sections"][name] = out = {"status": "running"}
        return out

    def save(self, force: bool = False) -> None:
        if not force and time.perf_counter() - self._last < 5.0:
            return
        self._last = time.perf_counter()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, default=_json_default) + "\n")
        os.replace(tmp, self.path)
        tmp = self.md_path.with_name(self.md_path.name + ".tmp")
        tmp.write_text(markdown(self.data))
        os.replace(tmp, self.md_path)


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


# -- statistics ---------------------------------------------------------------------------
def _finite_pairs(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(a) & np.isfinite(b)
    return a[keep], b[keep]


def spearman(x: Any, y: Any) -> float:
    a, b = _finite_pairs(x, y)
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b)[0])


def kendall(x: Any, y: Any) -> float:
    a, b = _finite_pairs(x, y)
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(kendalltau(a, b)[0])


def within_flops_tau(score: Any, accuracy: Any, flops: Any, n_bins: int = 5) -> float:
    """Kendall tau inside FLOPs quintiles: ``evonas.analysis.quality.within_bin_tau`` where it exists."""
    try:
        from evonas.analysis.quality import within_bin_tau
    except ImportError:
        within_bin_tau = None
    if within_bin_tau is not None:
        return float(within_bin_tau(np.asarray(score, float), np.asarray(accuracy, float),
                                    np.asarray(flops, float), n_bins))
    from scipy.stats import rankdata

    s, a, f = (np.asarray(v, dtype=float) for v in (score, accuracy, flops))
    keep = np.isfinite(s) & np.isfinite(a) & np.isfinite(f)
    s, a, f = s[keep], a[keep], f[keep]
    if len(s) == 0:
        return float("nan")
    bins = np.minimum(((rankdata(f) - 1) * n_bins / len(f)).astype(int), n_bins - 1)
    taus = [(kendall(s[bins == b], a[bins == b]), int((bins == b).sum())) for b in np.unique(bins)]
    taus = [(t, n) for t, n in taus if math.isfinite(t)]
    return float(np.average([t for t, _ in taus], weights=[n for _, n in taus])) if taus else float("nan")


def relative_difference(device_value: float, cpu_value: float) -> float:
    """|device - cpu| / |cpu| (absolute difference when the CPU value is 0)."""
    if not (math.isfinite(device_value) and math.isfinite(cpu_value)):
        return 0.0 if device_value == cpu_value else float("inf")
    scale = abs(cpu_value)
    return abs(device_value - cpu_value) / scale if scale > 0 else abs(device_value - cpu_value)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# -- sections -----------------------------------------------------------------------------
def _version(module: str) -> str | None:
    try:
        return __import__(module).__version__
    except Exception:  # noqa: BLE001 - absent or broken: reported as missing
        return None


def section_env(ctx: Context, out: dict[str, Any], budget: Budget) -> None:
    """Where the figures come from."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                text=True).stdout.strip()
    except OSError:  # no git on the machine
        commit = ""
    out.update({
        "device": str(ctx.device), "device_name": device_name(ctx.device), "cpu": device_name("cpu"),
        "cpu_count": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version(),
        "torch": torch.__version__, "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "gpu_memory_gib": (round(torch.cuda.get_device_properties(ctx.device).total_memory / 2**30, 1)
                           if ctx.on_gpu else None),
        "ray": _version("ray"), "pymoo": _version("pymoo"), "fvcore": _version("fvcore"),
        "commit": commit or None, "scoring_flags": configure_scoring(ctx.device),
        "quick": ctx.plan.quick,
    })


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
        return float("nan"), time.perf_counter() - start, f"{type(err).__name__}: {err}".splitlines()[0][:200]


def section_scores(ctx: Context, out: dict[str, Any], budget: Budget) -> None:
    """Seconds per cell on the device and the CPU, and the relative difference of the values."""
    names, settings, needed, unusable = [], {}, {}, {}
    for name in sorted(set(ctx.plan.only_scores or SCORES) - NOT_IN_SCORES):
        try:
            settings[name] = make_settings(name, ctx.plan.score_settings.get(name))
            needed[name] = SCORES[name].images_needed(settings[name])
            names.append(name)
        except Exception as err:  # noqa: BLE001 - e.g. a score whose reference data is not shipped
            unusable[name] = f"{type(err).__name__}: {err}".splitlines()[0][:200]
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


TF32_SCORES = ("gradient_kernel", "knas", "knas_fast", "synflow", "ntk_cond")


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


def objective_scores() -> list[str]:
    """The gradient-kernel objective and any aggregate score registered now."""
    return [n for n in sorted(SCORES) if n.startswith("gradient_kernel") or "aggregate" in n]


def _ray_available() -> str:
    """'' when Ray can be imported, else why not."""
    try:
        import ray  # noqa: F401
    except Exception as err:  # noqa: BLE001
        return f"ray cannot be imported ({type(err).__name__}: {err})"
    return ""


def _start_ray() -> bool:
    """Start a local Ray with every CPU and GPU of this machine, unless one runs; True if started here."""
    import ray

    if ray.is_initialized():
        return False
    ray.init(num_cpus=os.cpu_count() or 1, num_gpus=torch.cuda.device_count(), include_dashboard=False,
             logging_level="ERROR")
    return True


def _make_pool(ctx: Context, scores: str | tuple[str, ...], *, device: str, actors: int, per_gpu: int = 1,
               backend: str = "ray", cpu_actors: int | str = 0):
    from evonas.engine.pool import ScorerSpec, make_pool

    scores = (scores,) if isinstance(scores, str) else scores
    settings = {n: ctx.plan.score_settings[n] for n in scores if n in ctx.plan.score_settings}
    spec = ScorerSpec(scores=scores, settings=settings, dataset=ctx.dataset, seed=ctx.seed,
                      C=ctx.plan.C, N=ctx.plan.N, device=device)
    if backend == "serial":
        return make_pool(spec, backend="serial")
    return make_pool(spec, backend="ray", num_actors=actors, actors_per_gpu=per_gpu, cpu_actors=cpu_actors)


def section_objective(ctx: Context, out: dict[str, Any], budget: Budget) -> None:
    """The gradient-kernel objective (and aggregates) over many cells on the device."""
    names = objective_scores()
    if not names:
        raise Skip("no gradient_kernel or aggregate score is registered")
    cells = sample_connected(ctx.plan.objective_n, ctx.seed)
    table = load_table()
    accuracy = table.column(DATASET_ACCURACY[ctx.dataset])
    flops = table.column(f"flops_{ctx.dataset}")
    use_ray = ctx.on_gpu and not _ray_available()
    started = _start_ray() if use_ray else False
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
                pool = _make_pool(ctx, name, device=str(ctx.device), actors=actors,
                                  per_gpu=ctx.plan.objective_actors_per_gpu, backend="ray" if use_ray else "serial")
            except Exception as err:  # noqa: BLE001 - e.g. an aggregate without its reference data
                row["first_error"] = f"{type(err).__name__}: {err}".splitlines()[0][:300]
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
            seconds = time.perf_counter() - start
            idx = np.array(index, dtype=int)
            v = np.array(values, dtype=float)
            row.update({
                "seconds": seconds, "cells_per_s": row["done"] / seconds if seconds > 0 else float("nan"),
                "projected_s_all": len(cells) / (row["done"] / seconds) if row["done"] and seconds > 0
                else float("nan"),
                "kendall_tau": kendall(v, accuracy[idx]) if len(idx) else float("nan"),
                "spearman": spearman(v, accuracy[idx]) if len(idx) else float("nan"),
                "within_flops_tau": within_flops_tau(v, accuracy[idx], flops[idx]) if len(idx) else float("nan"),
                "index": idx.tolist(), "value": v.tolist(),
            })
            ctx.report.save(force=True)
    finally:
        if started:
            import ray

            ray.shutdown()


def _latency_repeats(plan: Plan, batch: int) -> tuple[int, int]:
    """(warm-up, repeats) at ``batch``: half as many at batch >= 32, where a pass varies far less."""
    if batch >= 32:
        return max(1, plan.latency_warmup // 2), max(2, plan.latency_repeats // 2)
    return plan.latency_warmup, plan.latency_repeats


def section_latency(ctx: Context, out: dict[str, Any], budget: Budget) -> None:
    """Latency of many cells, twice, at each batch size, on the device this process has to itself."""
    spec = dataset_spec(ctx.dataset)
    cells = sample_connected(ctx.plan.latency_n, ctx.seed + 1)
    table = load_table()
    flops = table.column(f"flops_{ctx.dataset}")
    columns = latency_columns()
    out.update({"device_name": device_name(ctx.device), "n_target": len(cells), "statistic": "median",
                "batches": {}})
    batches = ctx.plan.latency_batches
    for k, batch in enumerate(batches):
        share = Budget(budget.left / (len(batches) - k))
        runs: list[list[float]] = [[], []]
        warmup, repeats = _latency_repeats(ctx.plan, batch)
        row: dict[str, Any] = {"stopped_early": False, "warmup": warmup, "repeats": repeats}
        out["batches"][str(batch)] = row
        start = time.perf_counter()
        for p in range(2):
            for i, cell in enumerate(cells):
                # the second pass stops with the first's cells or the budget, whichever comes first
                if p == 1 and i >= len(runs[0]):
                    break
                if (p == 0 and share.used > 0.5 * share.seconds) or share.spent:
                    row["stopped_early"] = True
                    break
                net = ScoreContext(cell, ctx.device, spec, seed=ctx.seed, C=ctx.plan.C, N=ctx.plan.N).network()
                stats = measure_latency(net, resolution=spec.resolution, batch_size=batch, warmup=warmup,
                                        repeats=repeats, device=ctx.device)
                runs[p].append(stats.median_ms)
                ctx.report.save()
        n = min(len(runs[0]), len(runs[1]))
        first, second = np.array(runs[0][:n]), np.array(runs[1][:n])
        mean = (first + second) / 2
        idx = np.array([c.index for c in cells[:n]], dtype=int)
        same_batch = {name: col for name, col in columns.items()
                      if name.startswith(GPU_COLUMN_PREFIXES) and name.endswith(f"_bs{batch}")}
        row.update({
            "n": n, "seconds": time.perf_counter() - start,
            "median_ms": float(np.median(mean)) if n else float("nan"),
            "run_to_run_spearman": spearman(first, second),
            "median_rel_run_to_run": float(np.median(np.abs(first - second) / mean)) if n else float("nan"),
            "spearman_flops": spearman(mean, flops[idx]) if n else float("nan"),
            "spearman_columns": {name: spearman(mean, col[idx]) for name, col in sorted(same_batch.items())},
            "index": idx.tolist(), "run1_ms": first.tolist(), "run2_ms": second.tolist(),
        })
        ctx.report.save(force=True)


def _pool_rates(ctx: Context, cells: list, *, device: str, actors: int, per_gpu: int,
                budget: Budget, cpu_actors: int | str = 0) -> list[dict[str, Any]]:
    """One pool of ``actors`` for all the section's scores; each score timed alone over ``cells``.

    ``cpu_actors``: CPU actors beside GPU actors, which take the scores that run no network on
    images (synflow), as evonas' default ``ray.cpu_actors: auto`` does."""
    scores = ctx.plan.pool_scores
    start = time.perf_counter()
    pool = _make_pool(ctx, scores, device=device, actors=actors, per_gpu=per_gpu, cpu_actors=cpu_actors)
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
                         "cpu_actors_beside": cpu_beside, "device": device, "startup_s": startup, "cells": done, "failed": failed,
                         "seconds": seconds, "cells_per_s": done / seconds if seconds > 0 else float("nan"),
                         "stopped_early": share.spent})
    return runs


def section_pool(ctx: Context, out: dict[str, Any], budget: Budget) -> None:
    """Cells/s of the Ray pool: actors per GPU, and CPU actors, for a cheap and an expensive score."""
    why = _ray_available()
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
    started = _start_ray()
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
                         "device": device, "error": f"{type(err).__name__}: {err}".splitlines()[0][:300]}]
            out["runs"] += runs
            ctx.report.save(force=True)
    finally:
        if started:
            import ray

            ray.shutdown()


def section_main(ctx: Context, out: dict[str, Any], budget: Budget) -> None:
    """The main job with configs/nb201_gpu.yaml on the device, end to end, as a user runs it."""
    why = _ray_available()
    backend = [] if not why else ["ray.backend=serial"]
    overrides = [f"device={'cuda' if ctx.on_gpu else 'cpu'}", *ctx.plan.main_overrides, *backend]
    run_dir = Path(tempfile.mkdtemp(prefix="evonas-gpu-main-")) / "run"
    command = [ctx.python, "-m", "evonas", "--config", str(REPO / "configs" / "nb201_gpu.yaml"),
               *[a for o in overrides for a in ("--set", o)], "--out", str(run_dir), "--quiet"]
    out.update({"command": " ".join(command[1:]), "run_dir": str(run_dir), "ray": not why})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    start = time.perf_counter()
    try:
        proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=max(1.0, budget.left))
        out["returncode"] = proc.returncode
        out["stderr_tail"] = proc.stderr[-1500:]
    except subprocess.TimeoutExpired:
        out["returncode"] = None
        out["stopped_early"] = True
    out["wall_s"] = time.perf_counter() - start
    out.update(_analyse_run(run_dir, ctx.dataset))
    if out["returncode"] != 0:
        raise RuntimeError(f"the main job ended with {out['returncode']}: "
                           + (out.get("stderr_tail") or "time budget spent").strip().splitlines()[-1][:300])


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def _analyse_run(run_dir: Path, dataset: str) -> dict[str, Any]:
    acc = load_table().column(DATASET_ACCURACY[dataset])
    state = json.loads((run_dir / "state.json").read_text()) if (run_dir / "state.json").exists() else {}
    front = _read_csv(run_dir / "pareto.csv")
    candidates = _read_csv(run_dir / "candidates.csv")
    rows = [{"id": int(r["id"]), "arch": r["arch"], "index": int(r["index"]),
             **{k: _number(r.get(k)) for k in ("gradient_kernel", "flops", "latency")},
             "test_acc_200ep": float(acc[int(r["index"])])} for r in front]
    trained = [{"id": r.get("id"), "index": r.get("index"), "test_acc": _number(r.get("test_acc")),
                "wall_time_s": _number(r.get("wall_time_s")), "device": r.get("device"), "status": r.get("status")}
               for r in _read_csv(run_dir / "trained.csv")]
    return {"search_wall_s": state.get("wall_time_s"), "evaluated": state.get("n_evaluated", len(candidates)),
            "failed": state.get("n_failed"), "front": rows, "trained": trained,
            "plots": sorted(p.name for p in run_dir.glob("pareto*.*") if p.suffix in (".png", ".html")),
            "best_front_acc": max((r["test_acc_200ep"] for r in rows), default=float("nan"))}


SECTION_FUNCTIONS: dict[str, Callable[[Context, dict[str, Any], Budget], None]] = {
    "env": section_env, "scores": section_scores, "objective": section_objective,
    "latency": section_latency, "pool": section_pool, "main": section_main,
}


# -- markdown -----------------------------------------------------------------------------
def _f(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value != 0 and (abs(value) >= 1e4 or abs(value) < 10 ** -digits):
            return f"{value:.2e}"
        return f"{value:.{digits}f}"
    return str(value)


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    return (["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
            + ["| " + " | ".join(_f(v) for v in r) + " |" for r in rows])


def _status_line(name: str, section: dict[str, Any]) -> str:
    status = section.get("status", "?")
    extra = f": {section['reason']}" if section.get("reason") else ""
    extra += f": {section['error']}" if section.get("error") else ""
    if section.get("stopped_early"):
        extra += ", stopped early: its time budget was spent"
    return f"- `{name}`: {status}{extra} ({_f(section.get('seconds'), 0)} s)"


def markdown(data: dict[str, Any]) -> str:
    """The tables of a report (partial reports too)."""
    s = data.get("sections", {})
    env = s.get("env")
    lines = [] if env is None else [
        f"GPU report on {env.get('device_name', '?')} ({env.get('device', '?')}), torch {env.get('torch', '?')}, "
        f"CUDA {env.get('cuda')}, cuDNN {env.get('cudnn')}, CPU {env.get('cpu', '?')} x {env.get('cpu_count')}, "
        f"commit {env.get('commit')}"]
    lines += [f"Command: `{data.get('command', '')}`", ""]
    lines += [_status_line(n, sec) for n, sec in s.items()] + [""]
    sc = s.get("scores", {})
    if sc.get("scores"):
        lines += [f"Seconds per cell (median over {sc.get('cells_done')} cell(s), C={sc.get('C')} N={sc.get('N')}), "
                  f"device vs CPU with 1 thread, and |device - CPU| / |CPU| of the values:", ""]
        rows = [[n, r.get("n"), r.get("median_cpu_s"), r.get("median_device_s"), r.get("speedup"),
                 r.get("median_rel_diff"), r.get("max_rel_diff"), "; ".join(r.get("errors", []))[:80] or ""]
                for n, r in sc["scores"].items()]
        rows += [[n, 0, None, None, None, None, None, why[:80]] for n, why in sc.get("unusable", {}).items()]
        lines += _table(["score", "cells", "CPU s/cell", "device s/cell", "speed-up", "median rel diff",
                         "max rel diff", "errors"], rows)
        k = sc.get("knas") or {}
        tf = {n: v for n, v in (sc.get("tf32") or {}).items() if isinstance(v, dict)}
        if tf:
            lines += ["", f"Relative difference device vs CPU on cell {sc['tf32']['cell']}, TF32 off (as scored) / "
                          f"on (torch's default for convolutions): "
                          + "; ".join(f"{n} {_f(v['tf32_off'])} / {_f(v['tf32_on'])}" for n, v in tf.items())]
        if k:
            lines += ["", f"KNAS: CPU loop / knas_fast on the device {_f(k.get('cpu_loop_over_device_fast'), 1)}x; "
                          f"loop / knas_fast on the device {_f(k.get('device_loop_over_device_fast'), 1)}x; "
                          f"on the CPU {_f(k.get('cpu_loop_over_cpu_fast'), 1)}x."]
        lines.append("")
    ob = s.get("objective", {})
    if ob.get("scores"):
        lines += [f"Objective over {ob.get('n_target')} connected cells ({ob.get('backend')}), against 200-epoch "
                  f"test accuracy:", ""]
        rows = [[n, r.get("done"), r.get("actors"), r.get("seconds"), r.get("cells_per_s"), r.get("projected_s_all"),
                 r.get("kendall_tau"), r.get("spearman"), r.get("within_flops_tau"),
                 "yes" if r.get("stopped_early") else "no", r.get("first_error", "")[:60]]
                for n, r in ob["scores"].items()]
        lines += _table(["score", "cells", "actors", "s", "cells/s", "projected s (all)", "tau", "rho",
                         "tau within FLOPs quintiles", "stopped early", "error"], rows) + [""]
    la = s.get("latency", {})
    if la.get("batches"):
        lines += [f"Latency on {la.get('device_name')} (median of the timed repeats), two passes over the same "
                  f"cells:", ""]
        rows = []
        for b, r in la["batches"].items():
            cols = ", ".join(f"{k} {_f(v)}" for k, v in r.get("spearman_columns", {}).items()) or "-"
            rows.append([b, r.get("n"), f"{r.get('warmup')} / {r.get('repeats')}", r.get("median_ms"),
                         r.get("run_to_run_spearman"), r.get("median_rel_run_to_run"), r.get("spearman_flops"), cols])
        lines += _table(["batch", "cells", "warm-up / repeats", "median ms", "run-to-run rho", "median rel diff",
                         "rho FLOPs", "rho shipped GPU columns (same batch)"], rows) + [""]
    po = s.get("pool", {})
    if po.get("runs"):
        lines += [f"Ray pool, {po.get('cpus')} CPUs, {po.get('gpus')} GPU(s)"
                  + (f"; skipped: {'; '.join(po['skipped'])}" if po.get("skipped") else "") + ":", ""]
        rows = [[r["score"], r["device"], r["actors"], r.get("per_gpu"), r.get("cpu_actors_beside", 0), r.get("cells"),
                 r.get("cells_per_s"), r.get("startup_s"), r.get("error", "")] for r in po["runs"]]
        lines += _table(["score", "actors on", "actors", "per GPU", "CPU actors beside", "cells", "cells/s",
                         "start-up s", "error"], rows) + [""]
    mj = s.get("main", {})
    if "wall_s" in mj:
        lines += [f"Main job: `{mj.get('command')}`", ""]
        lines += _table(["wall s", "search s", "evaluated", "front", "best front 200-epoch acc", "trained", "plots"],
                        [[mj.get("wall_s"), mj.get("search_wall_s"), mj.get("evaluated"), len(mj.get("front", [])),
                          mj.get("best_front_acc"), len(mj.get("trained", [])), ", ".join(mj.get("plots", []))]])
        if mj.get("front"):
            lines += [""] + _table(["id", "index", "gradient_kernel", "MFLOPs", "latency ms", "200-epoch acc"],
                                   [[r["id"], r["index"], r["gradient_kernel"], r["flops"], r["latency"],
                                     r["test_acc_200ep"]] for r in mj["front"][:12]])
        if mj.get("trained"):
            lines += [""] + _table(["id", "index", "test acc (%)", "wall s", "device", "status"],
                                   [[r["id"], r["index"], r["test_acc"], r["wall_time_s"], r["device"], r["status"]]
                                    for r in mj["trained"]])
        lines.append("")
    return "\n".join(lines) + "\n"


# -- driver -------------------------------------------------------------------------------
def _parse_budgets(items: list[str]) -> dict[str, float]:
    budgets = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name not in SECTIONS:
            raise SystemExit(f"gpu_report: --budget {item!r}: expected SECTION=SECONDS with SECTION in "
                             f"{list(SECTIONS)}")
        budgets[name] = float(value)
    return budgets


def _parse_n(text: str) -> int | str:
    if text == "all":
        return text
    if not text.isdigit() or int(text) < 1:
        raise SystemExit(f"gpu_report: --n {text!r}: expected a positive count or 'all'")
    return int(text)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, required=True, help="the report (rewritten as sections finish)")
    parser.add_argument("--md", type=Path, default=None, help="the markdown tables (default: the JSON's name .md)")
    parser.add_argument("--quick", action="store_true", help="small n, a small network: minutes on a CPU")
    parser.add_argument("--device", default="auto", help="auto | cuda | cuda:K | cpu")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated, of {list(SECTIONS)}")
    parser.add_argument("--scores", default=None, help="comma-separated scores for the scores section "
                                                         "(default: every registered score)")
    parser.add_argument("--n", type=_parse_n, default=None, help="cells for the objective section ('all' or a count)")
    parser.add_argument("--latency-n", type=int, default=None, help="cells per latency pass")
    parser.add_argument("--budget", action="append", default=[], metavar="SECTION=SECONDS")
    parser.add_argument("--total-s", type=float, default=None, help="time budget of the whole report")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    sections = [s for s in args.sections.split(",") if s]
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise SystemExit(f"gpu_report: --sections: unknown {unknown}; choose from {list(SECTIONS)}")
    plan = QUICK if args.quick else FULL
    only = tuple(x for x in args.scores.split(",") if x) if args.scores else None
    if only:
        missing = [x for x in only if x not in SCORES]
        if missing:
            raise SystemExit(f"gpu_report: --scores: unknown {missing}; choose from {sorted(SCORES)}")
    plan = replace(plan, budgets={**plan.budgets, **_parse_budgets(args.budget)}, only_scores=only,
                   objective_n=args.n if args.n is not None else plan.objective_n,
                   latency_n=args.latency_n or plan.latency_n, total_s=args.total_s or plan.total_s)
    dataset_spec(args.dataset)
    device = resolve_device(args.device)
    configure_scoring(device)
    report = Report(args.json, args.md or args.json.with_suffix(".md"))
    report.data["command"] = "python benchmarks/gpu_report.py " + " ".join(argv if argv is not None else sys.argv[1:])
    report.data["plan"] = {k: v for k, v in plan.__dict__.items()}
    ctx = Context(plan, device, args.dataset, args.seed, report)
    total = Budget(plan.total_s)

    def on_term(signum: int, frame: Any) -> None:  # a polite kill still leaves the partial report
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        for name in sections:
            out = report.section(name)
            budget = Budget(min(plan.budgets[name], max(0.0, total.left)))
            tic = time.perf_counter()
            print(f"[gpu_report] {name}: budget {budget.seconds:.0f} s", file=sys.stderr, flush=True)
            report.save(force=True)
            try:
                if budget.seconds <= 0:
                    raise Skip("the report's total time budget is spent")
                SECTION_FUNCTIONS[name](ctx, out, budget)
                out["status"] = "done"
            except Skip as why:
                out.update(status="skipped", reason=str(why))
            except KeyboardInterrupt as err:
                out.update(status="interrupted", error=str(err))
                raise
            except Exception as err:  # noqa: BLE001 - the next sections still run
                out.update(status="error", error=f"{type(err).__name__}: {err}".splitlines()[0][:300],
                           traceback=traceback.format_exc(limit=6))
            finally:
                out["seconds"] = time.perf_counter() - tic
                report.save(force=True)
        report.data["finished"] = True
    finally:
        signal.signal(signal.SIGTERM, previous)
        report.data["total_s"] = total.used
        report.save(force=True)
    print(markdown(report.data))
    return report.data


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)

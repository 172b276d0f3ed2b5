"""The ``main`` section: ``python -m evonas --config configs/nb201_gpu.yaml`` end to end, and what its run found."""
from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from evonas.run.rundir import CANDIDATES, PARETO, RunDir
from evonas.run.csvfiles import read_csv
from evonas.datasets import dataset_spec
from evonas.space.table import load_table
from gpu.actors import ray_available
from gpu.plan import REPO, Budget, Context


def section_main(ctx: Context, out: dict[str, Any], budget: Budget) -> None:
    """The main job with configs/nb201_gpu.yaml on the device, end to end, as a user runs it."""
    why = ray_available()
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
    out.update(analyse_run(run_dir, ctx.dataset))
    if out["returncode"] != 0:
        raise RuntimeError(f"the main job ended with {out['returncode']}: "
                           + (out.get("stderr_tail") or "time budget spent").strip().splitlines()[-1][:300])


def _rows(run: RunDir, name: str) -> list[dict[str, str]]:
    """The rows of one CSV file of the run; none when a killed or failed run did not write it."""
    path = run.file(name)
    return read_csv(path) if path.is_file() else []


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def analyse_run(run_dir: Path, dataset: str) -> dict[str, Any]:
    """The run's wall time, counts, front (with 200-epoch accuracy), trained cells and plots; partial runs too."""
    acc = load_table().column(dataset_spec(dataset).test_column)
    run = RunDir(run_dir)
    state = run.state()
    front = _rows(run, PARETO)
    candidates = _rows(run, CANDIDATES)
    rows = [{"id": int(r["id"]), "arch": r["arch"], "index": int(r["index"]),
             **{k: _number(r.get(k)) for k in ("gradient_kernel", "flops", "latency")},
             "test_acc_200ep": float(acc[int(r["index"])])} for r in front]
    trained = [{"id": r.get("id"), "index": r.get("index"), "test_acc": _number(r.get("test_acc")),
                "wall_time_s": _number(r.get("wall_time_s")), "device": r.get("device"), "status": r.get("status")}
               for r in run.trained()]
    return {"search_wall_s": state.get("wall_time_s"), "evaluated": state.get("n_evaluated", len(candidates)),
            "failed": state.get("n_failed"), "front": rows, "trained": trained,
            "plots": sorted(p.name for p in run_dir.glob("pareto*.*") if p.suffix in (".png", ".html")),
            "best_front_acc": max((r["test_acc_200ep"] for r in rows), default=float("nan"))}

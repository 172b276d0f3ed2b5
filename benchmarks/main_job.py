"""Wall time, throughput and score quality of one search run (the main job by default).

    python benchmarks/main_job.py --config configs/nb201_pareto.yaml [--json OUT.json]
    python benchmarks/main_job.py --run-dir runs/nb201_pareto-...   # analyse a finished run

Runs ``python -m evonas`` (score cache off, so every score is computed), then prints one
table: wall time, cells scored, archs/s, front size, and the Kendall tau / Spearman rho of
each objective with the 200-epoch test accuracy of the run's data set over the scored cells;
then, when the run trained front members (``train.after_search``), one row per trained cell.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scipy.stats import kendalltau, spearmanr

from evonas.nn.devices import device_name
from evonas.run.rundir import RunDir
from evonas.space.table import load_table


def analyse(run_dir: Path, wall_s: float | None) -> dict:
    """Wall time, throughput, front size and rank correlations of the objectives of a finished run."""
    run = RunDir.open(run_dir)
    config = run.config()
    state = run.state()
    rows = [r for r in run.candidates() if r["status"] == "ok"]
    front = run.pareto()
    acc = load_table().column(config.dataset_spec.test_column)
    truth = [acc[int(r["index"])] for r in rows]
    wall = wall_s if wall_s is not None else state.get("wall_time_s", float("nan"))
    out = {"config": config.name, "device": device_name("cpu"), "machine": platform.machine(),
           "wall_time_s": wall, "scored": len(rows), "archs_per_s": len(rows) / wall if wall else None,
           "front_size": len(front), "correlation": {}}
    for o in config.objectives:
        values = [float(r[o.score]) for r in rows]
        out["correlation"][o.score] = {"kendall_tau": float(kendalltau(values, truth)[0]),
                                       "spearman": float(spearmanr(values, truth)[0])}
    out["search_wall_time_s"] = state.get("wall_time_s")
    out["trained"] = trained_rows(run_dir, acc)
    return out


def trained_rows(run_dir: Path, acc) -> list[dict]:
    """The run's trained.csv rows with the 200-epoch benchmark accuracy of each cell (empty if none)."""
    rows = RunDir.open(run_dir).trained()
    return [{"id": r["id"], "index": int(r["index"]), "epochs": r["epochs"], "status": r["status"],
             "test_acc": r["test_acc"], "benchmark_acc": float(acc[int(r["index"])]),
             "wall_time_s": r["wall_time_s"], "device": r["device"]} for r in rows]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="configs/nb201_pareto.yaml")
    p.add_argument("--run-dir", type=Path, help="analyse this finished run instead of running one")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    wall = None
    run_dir = args.run_dir
    if run_dir is None:
        run_dir = Path(tempfile.mkdtemp(prefix="evonas-bench-")) / "run"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "evonas", "--config", args.config, "--out", str(run_dir),
                        "--set", "cache.dir=null", "--quiet"], check=True)
        wall = time.perf_counter() - t0
    res = analyse(run_dir, wall)
    print(f"| config | device | wall time (s) | cells scored | archs/s | front | "
          + " | ".join(f"tau {k} / rho" for k in res["correlation"]) + " |")
    print("|---|---|---|---|---|---|" + "---|" * len(res["correlation"]))
    print(f"| {res['config']} | {res['device']} | {res['wall_time_s']:.0f} | {res['scored']} | "
          f"{res['archs_per_s']:.2f} | {res['front_size']} | "
          + " | ".join(f"{v['kendall_tau']:+.3f} / {v['spearman']:+.3f}" for v in res["correlation"].values()) + " |")
    if res["trained"]:
        print("\n| id | NB201 index | epochs | test acc (%) | 200-epoch benchmark acc (%) | wall (s) | device | status |")
        print("|---|---|---|---|---|---|---|---|")
        for t in res["trained"]:
            print(f"| {t['id']} | {t['index']} | {t['epochs']} | {t['test_acc']} | {t['benchmark_acc']:.2f} | "
                  f"{t['wall_time_s']} | {t['device']} | {t['status']} |")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()

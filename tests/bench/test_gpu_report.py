"""benchmarks/gpu_report.py on the CPU: the quick report, its budgets, partial results, and nb201_gpu.yaml."""
from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from evonas.cli import main as cli_main

from evonas.analysis.quality import within_bin_tau

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
import gpu_report  # noqa: E402
from gpu.markdown import markdown  # noqa: E402
from gpu.scores import relative_difference  # noqa: E402

FEW_SCORES = "gradient_kernel,knas,knas_fast,synflow,flops"


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def test_quick_report_on_cpu_writes_json_and_tables(tmp_path) -> None:
    out = tmp_path / "report.json"
    data = gpu_report.main(["--quick", "--json", str(out), "--sections", "env,scores,objective,latency",
                            "--scores", FEW_SCORES, "--n", "8", "--latency-n", "4"])
    saved = _load(out)
    assert saved["finished"] and saved["sections"].keys() == data["sections"].keys()
    s = saved["sections"]
    assert [s[n]["status"] for n in ("env", "scores", "objective", "latency")] == ["done"] * 4
    assert s["env"]["device"] == "cpu" and s["env"]["torch"] and s["env"]["quick"]
    assert s["env"]["scoring_flags"]["cudnn_deterministic"] and not s["env"]["scoring_flags"]["tf32_conv"]

    rows = s["scores"]["scores"]
    assert sorted(rows) == sorted(FEW_SCORES.split(","))
    for name, row in rows.items():
        assert row["n"] == 1 and row["median_cpu_s"] > 0 and row["median_device_s"] > 0, name
        # the "device" is the CPU here: the same computation must give the same value
        assert row["median_rel_diff"] == 0.0 and not row["errors"], name
    assert s["scores"]["knas"]["cpu_loop_over_cpu_fast"] > 0

    gk = s["objective"]["scores"]["gradient_kernel"]
    assert gk["done"] == 8 == len(gk["index"]) == len(gk["value"]) and not gk["stopped_early"]
    assert all(math.isfinite(gk[k]) for k in ("kendall_tau", "spearman", "cells_per_s"))

    batches = s["latency"]["batches"]
    assert sorted(batches) == ["1", "16"]
    for b, row in batches.items():
        assert row["n"] == 4 and len(row["run1_ms"]) == len(row["run2_ms"]) == 4
        assert all(v > 0 for v in row["run1_ms"] + row["run2_ms"])
    assert "1080ti_bs1" in batches["1"]["spearman_columns"] and batches["16"]["spearman_columns"] == {}

    table = out.with_suffix(".md").read_text()
    assert "| score | cells | CPU s/cell | device s/cell |" in table
    assert "| gradient_kernel | 8 |" in table and "run-to-run rho" in table
    assert "- `latency`: done" in table


def test_spent_budget_stops_a_section_early_and_says_how_far(tmp_path) -> None:
    out = tmp_path / "report.json"
    gpu_report.main(["--quick", "--json", str(out), "--sections", "objective", "--n", "400",
                     "--budget", "objective=1.5"])
    row = _load(out)["sections"]["objective"]["scores"]["gradient_kernel"]
    assert row["stopped_early"] and 0 < row["done"] < 400
    assert row["projected_s_all"] > row["seconds"]


def test_sections_that_cannot_run_are_skipped_with_the_reason(tmp_path) -> None:
    out = tmp_path / "report.json"
    gpu_report.main(["--quick", "--json", str(out), "--sections", "env,latency", "--total-s", "0.001"])
    s = _load(out)["sections"]
    assert s["latency"]["status"] == "skipped" and "total time budget" in s["latency"]["reason"]
    assert "- `latency`: skipped: the report's total time budget is spent" in out.with_suffix(".md").read_text()


def test_bad_arguments_fail_before_any_work(tmp_path) -> None:
    with pytest.raises(SystemExit, match="unknown \\['gpu'\\]"):
        gpu_report.main(["--json", str(tmp_path / "r.json"), "--sections", "env,gpu"])
    with pytest.raises(SystemExit, match="SECTION=SECONDS"):
        gpu_report.main(["--json", str(tmp_path / "r.json"), "--budget", "objective"])
    with pytest.raises(SystemExit, match="unknown \\['synflo'\\]"):
        gpu_report.main(["--json", str(tmp_path / "r.json"), "--scores", "synflo"])
    assert not (tmp_path / "r.json").exists()


def test_within_flops_tau_by_hand() -> None:
    """The objective section's tau within FLOPs quintiles (``within_bin_tau`` with 5 bins) and the value drift."""
    flops = np.repeat(np.arange(5.0), 4)  # five bins of four cells
    accuracy = np.tile(np.arange(4.0), 5)
    assert within_bin_tau(accuracy * 2, accuracy, flops, 5) == pytest.approx(1.0)
    assert within_bin_tau(-accuracy, accuracy, flops, 5) == pytest.approx(-1.0)
    # a score that only follows FLOPs has no ranking inside a bin
    assert math.isnan(within_bin_tau(flops, accuracy, flops, 5))
    assert relative_difference(1.01, 1.0) == pytest.approx(0.01)
    assert relative_difference(0.5, 0.0) == 0.5


def test_markdown_of_a_partial_report() -> None:
    text = markdown({"command": "x", "sections": {"scores": {"status": "running", "scores": {
        "synflow": {"n": 1, "median_cpu_s": 0.1, "median_device_s": 0.01, "speedup": 10.0, "median_rel_diff": 0.0,
                    "max_rel_diff": 0.0, "errors": []}}}}})
    assert "| synflow | 1 | 0.100 | 0.010 | 10.000 |" in text and "- `scores`: running" in text


def test_nb201_gpu_config_runs_in_smoke_form_on_cpu(tmp_path) -> None:
    code = cli_main(["--config", str(REPO / "configs" / "nb201_gpu.yaml"), "--set", "device=cpu",
                     "--set", "network.C=8", "--set", "network.N=1", "--set", "search.pop_size=4",
                     "--set", "search.n_gen=1", "--set", "train.after_search=false", "--set", "ray.backend=serial",
                     "--set", "scores.latency.repeats=3", "--out", str(tmp_path / "run"), "--quiet"])
    assert code == 0
    header = (tmp_path / "run" / "pareto.csv").read_text().splitlines()[0].split(",")
    assert {"gradient_kernel", "flops", "latency"} <= set(header)


@pytest.mark.slow
def test_pool_and_main_job_sections_in_a_child_process(tmp_path) -> None:
    """The sections the other tests leave out, run as the GPU machine runs them (Ray, a child process)."""
    out = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_report.py"), "--quick", "--json", str(out),
                           "--sections", "env,pool,main"], cwd=REPO, capture_output=True, text=True, timeout=420)
    assert proc.returncode == 0, proc.stderr[-2000:]
    s = _load(out)["sections"]
    assert all(s[n]["status"] == "done" for n in ("env", "pool", "main")), {n: s[n].get("error") for n in s}
    runs = s["pool"]["runs"]
    assert [r["score"] for r in runs] == ["synflow", "gradient_kernel"]
    assert all(r["device"] == "cpu" and r["actors"] == 2 and r["cells"] > 0 and r["cells_per_s"] > 0 for r in runs)
    assert s["pool"]["skipped"] == ["GPU actors: no GPU (cpu)"]
    main = s["main"]
    assert main["returncode"] == 0 and main["evaluated"] >= 4 and main["front"] and main["ray"]
    assert {"gradient_kernel", "flops", "latency"} <= set(main["front"][0])
    assert "pareto.png" in main["plots"]
    table = out.with_suffix(".md").read_text()
    assert "| wall s |" in table and "| synflow | cpu | 2 |" in table


def test_a_killed_report_leaves_its_partial_results(tmp_path) -> None:
    partial = tmp_path / "partial.json"
    child = subprocess.Popen([sys.executable, str(REPO / "benchmarks" / "gpu_report.py"), "--quick", "--json",
                              str(partial), "--sections", "env,objective", "--n", "400", "--budget", "objective=120"],
                             cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (partial.exists() and "objective" in _load(partial)["sections"]):
            time.sleep(0.2)
        time.sleep(2)
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=60) == 130
    finally:
        if child.poll() is None:
            child.kill()
    report = _load(partial)
    assert not report["finished"] and report["sections"]["env"]["status"] == "done"
    objective = report["sections"]["objective"]
    assert objective["status"] == "interrupted" and objective["n_target"] == 400

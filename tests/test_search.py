"""The search loop in process (serial backend): memo, re-measured noisy objectives, 3 objectives."""
from __future__ import annotations

import csv

from evonas.config import config_from_mapping
from evonas.results import RunDir
from evonas.search import run_search

BASE = {"network": {"C": 8, "N": 1}, "scores": {"knas": {"n_batches": 4}}, "ray": {"backend": "serial"},
        "search": {"pop_size": 6, "n_gen": 2}}


def _run(tmp_path, **over):
    config = config_from_mapping({**BASE, **over})
    run = RunDir.create(tmp_path / "run", config)
    return config, run, run_search(config, run)


def test_latency_front_members_are_remeasured(tmp_path):
    config, run, result = _run(tmp_path, objectives=[{"score": "knas"}, {"score": "latency"}],
                               scores={"knas": {"n_batches": 4}, "latency": {"repeats": 5, "warmup": 2}})
    assert result.front
    assert all(row["remeasured"] is True for row in result.front)
    with open(run.file("pareto.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    assert {"remeasured", "latency_first"} <= set(rows[0])
    assert all(float(r["latency"]) > 0 for r in rows)


def test_three_objectives_and_no_cell_scored_twice(tmp_path):
    config, run, result = _run(tmp_path, objectives=[{"score": "knas"}, {"score": "flops"}, {"score": "params"}])
    with open(run.file("candidates.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    assert {"knas", "flops", "params"} <= set(rows[0])
    assert len({r["canonical"] for r in rows}) == len(rows) == result.n_scored
    assert len(result.front) >= 1
    assert run.state()["status"] == "finished"

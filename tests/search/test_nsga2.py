"""The search loop in process (serial backend): memo, re-measured noisy objectives, 3 objectives."""
from __future__ import annotations

import csv

from evonas.config.load import config_from_mapping
from evonas.run.rundir import RunDir
from evonas.search.nsga2 import run_search

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


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_two_searches_sharing_a_cache_report_the_costs_of_the_cells_they_name(tmp_path):
    """The issue's experiment: a second search (another population size) reads the first one's cache."""
    from evonas.space.cell import Cell
    from evonas.space.table import load_table

    table = load_table()
    base = {"ray": {"backend": "serial"}, "cache": {"dir": str(tmp_path / "cache")},
            "objectives": [{"score": "flops", "direction": "min"}, {"score": "params", "direction": "max"}]}
    for name, pop in (("a", 20), ("b", 30)):
        config = config_from_mapping({**base, "search": {"pop_size": pop, "n_gen": 12}, "seed": 1})
        run = RunDir.create(tmp_path / name, config)
        run_search(config, run)
        for kind in ("candidates.csv", "pareto.csv"):
            for row in _rows(run.file(kind)):
                if row.get("status", "ok") != "ok":
                    continue
                i = int(row["index"])
                cell = Cell.from_string(row["arch"])
                assert cell.index == i and cell.canonical == row["canonical"]
                assert float(row["flops"]) == float(table.column("flops_cifar10")[i]), (name, kind, row["arch"])
                assert float(row["params"]) == float(table.column("params_cifar10")[i]), (name, kind, row["arch"])
                # what is reported is the cheapest equivalent; the proposed cell is kept beside it
                assert cell.reduced == cell and Cell.from_string(row["proposed"]).reduced == cell

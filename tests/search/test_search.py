"""The search loop in process (serial backend): memo, re-measured noisy objectives, 3 objectives."""
from __future__ import annotations

import csv
import logging

from evonas.config.schema import config_from_mapping
from evonas.run.rundir import RunDir
from evonas.search.nsga2 import run_search, setup_logging

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


def test_the_progress_line_counts_values_from_the_cache_and_failed_cells(tmp_path):
    from evonas.scores import SCORES, register_score

    @register_score("test_fails_on_pools", direction="min")
    def fails_on_pools(ctx, settings):
        """Fails on every cell with an avg_pool_3x3 edge."""
        if 4 in ctx.cell.ops:
            raise RuntimeError("this score fails on pools")
        return float(sum(ctx.cell.ops))

    try:
        base = {"ray": {"backend": "serial"}, "cache": {"dir": str(tmp_path / "cache")}, "search": {"pop_size": 10, "n_gen": 3},
                "objectives": [{"score": "flops"}, {"score": "test_fails_on_pools"}]}
        for name in ("a", "b"):
            config = config_from_mapping(base)
            run = RunDir.create(tmp_path / name, config)
            setup_logging(run, quiet=True)
            run_search(config, run)
        rows = _rows(run.file("candidates.csv"))
        failed = sum(r["status"] == "failed" for r in rows)
        assert failed > 0
        lines = [line for line in run.file("run.log").read_text().splitlines() if " | evals " in line]
        last = lines[-1]
        # the second run replays the first: both values of a cell that scored come from the cache; of a
        # failed cell only flops (scored before the failing score), the failing score is tried again
        ok = sum(r["status"] == "ok" for r in rows)
        assert f"| failed {failed} |" in last
        assert f"{2 * ok + failed} values from cache" in last
    finally:
        del SCORES["test_fails_on_pools"]
        log = logging.getLogger("evonas")
        for handler in list(log.handlers):
            log.removeHandler(handler)
            handler.close()
        log.propagate = True

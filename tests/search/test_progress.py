"""The progress line counts values read from the cache and failed cells."""
from __future__ import annotations

import csv
import logging

from evonas.config.load import config_from_mapping
from evonas.run.rundir import RunDir
from evonas.search.nsga2 import run_search
from evonas.search.progress import setup_logging


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


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


def test_the_progress_line_of_a_search_where_every_cell_fails(tmp_path):
    from evonas.scores import SCORES, register_score

    @register_score("test_always_fails", direction="min")
    def always_fails(ctx, settings):
        raise RuntimeError("this score always fails")

    try:
        config = config_from_mapping({"ray": {"backend": "serial"}, "search": {"pop_size": 4, "n_gen": 2},
                                      "objectives": [{"score": "flops"}, {"score": "test_always_fails"}]})
        run = RunDir.create(tmp_path / "run", config)
        setup_logging(run, quiet=True)
        result = run_search(config, run)  # raised a reshape error in the progress line before
        assert result.front == []
        lines = [line for line in run.file("run.log").read_text().splitlines() if " | evals " in line]
        assert lines and "front   0" in lines[-1] and "| failed " in lines[-1]
    finally:  # the "evonas" logger is restored by the autouse fixture of conftest.py
        del SCORES["test_always_fails"]

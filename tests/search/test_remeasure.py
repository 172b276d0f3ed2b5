"""Re-measuring the front's noisy objectives: which scores count as noisy, and the medians that replace them."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

import evonas
from evonas.config.load import config_from_mapping
from evonas.engine.records import Evaluation
from evonas.scores import SCORES
from evonas.search.pareto import front_rows
from evonas.search.remeasure import REMEASURE_REPEATS, noisy_scores, remeasure_front
from evonas.space.cell import Cell

LATE = "test_late_exclusive"  # registered inside the test, after this module imported remeasure and pareto


class _FakePool:
    """``map_exclusive`` hands out the next of ``timings`` for each requested cell and records the requests."""

    def __init__(self, timings: dict[str, list[float]]) -> None:
        self.timings = {arch: iter(values) for arch, values in timings.items()}
        self.requests: list[dict[str, tuple[str, ...]]] = []

    def map_exclusive(self, cells, only):
        self.requests.append(dict(only))
        return [Evaluation(c.arch, c.index, {s: next(self.timings[c.arch]) for s in only[c.arch]}) for c in cells]


@pytest.fixture
def late_exclusive_score():
    assert LATE not in SCORES
    evonas.register_score(LATE, direction="min", exclusive=True, reference=__file__)(lambda ctx, s: 1.0)
    try:
        yield LATE
    finally:
        del SCORES[LATE]


def test_an_exclusive_score_registered_after_import_is_remeasured(late_exclusive_score) -> None:
    assert late_exclusive_score in noisy_scores() and "latency" in noisy_scores()
    config = config_from_mapping({"objectives": [{"score": "flops"}, {"score": late_exclusive_score}]})
    a, b, c = (Cell.from_index(i) for i in (1, 3, 7777))
    # a and b trade flops against the timed score; c is dominated by a
    first = {a: 10.0, b: 5.0, c: 20.0}
    flops = {a: 1.0, b: 2.0, c: 3.0}
    memo = {cell.canonical: Evaluation(cell.arch, cell.index, {"flops": flops[cell], late_exclusive_score: first[cell]})
            for cell in (a, b, c)}
    pool = _FakePool({a.arch: [4.0, 6.0], b.arch: [3.0, 4.0]})
    remeasured = remeasure_front(config, SimpleNamespace(memo=memo), pool)

    assert pool.requests == [{a.arch: (late_exclusive_score,), b.arch: (late_exclusive_score,)}] * REMEASURE_REPEATS
    assert remeasured == {a.canonical: {late_exclusive_score: 10.0}, b.canonical: {late_exclusive_score: 5.0}}
    # each front member's value is the median of its first measurement and the new ones; c is left alone
    assert {k: ev.values[late_exclusive_score] for k, ev in memo.items()} == \
        {a.canonical: 6.0, b.canonical: 4.0, c.canonical: 20.0}

    # pareto.csv says which members were re-measured and what they measured first
    rows = front_rows(config, list(memo.values()), remeasured)
    assert sorted((r["arch"], r["remeasured"], r[f"{late_exclusive_score}_first"]) for r in rows) == \
        sorted([(a.arch, True, 10.0), (b.arch, True, 5.0)])


def test_scores_that_are_not_exclusive_are_not_remeasured() -> None:
    config = config_from_mapping({"objectives": [{"score": "flops"}, {"score": "params", "direction": "max"}]})
    cells = [Cell.from_index(i) for i in (1, 3)]
    memo = {c.canonical: Evaluation(c.arch, c.index, {"flops": 1.0 + i, "params": 1.0 + i}) for i, c in enumerate(cells)}
    pool = _FakePool({})
    assert remeasure_front(config, SimpleNamespace(memo=memo), pool) == {} and pool.requests == []
    assert all("remeasured" not in row for row in front_rows(config, list(memo.values()), {}))

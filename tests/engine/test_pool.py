"""Pools: the Ray pool scores like the serial one, bad specs fail up front, and phased scoring times
latency with no other task running and fails a cell failed in either phase."""
from __future__ import annotations

import pytest

from evonas.config.schema import RayConfig
from evonas.engine.pool import SerialPool, make_pool
from evonas.engine.records import ScorerSpec
from evonas.errors import ConfigError
from evonas.scores import SCORES, get_score
from evonas.space.cell import Cell
from fixture_scores import VALUE

SPEC = ScorerSpec(scores=("knas", "flops"), settings={"knas": {"n_batches": 6}}, C=8, N=1, seed=0)

CELLS = [Cell.from_index(i) for i in (0, 1, 2, 6111)]


def test_ray_pool_scores_four_cells_like_the_serial_backend(ray_local):
    with SerialPool(SPEC) as serial:
        expected = {ev.arch: ev.values for ev in serial.map_unordered(CELLS)}
    with make_pool(SPEC, RayConfig(num_actors=2)) as pool:
        got = list(pool.map_unordered(CELLS))
    assert sorted(ev.arch for ev in got) == sorted(c.arch for c in CELLS)
    assert all(ev.ok and ev.attempts == 1 for ev in got)
    for ev in got:
        assert ev.values == expected[ev.arch]  # same seed, same numbers, whichever worker
        assert ev.index == Cell.from_string(ev.arch).index
    assert ray_local.is_initialized()  # the pool did not shut down a Ray it did not start


def test_bad_specs_fail_before_any_work():
    with pytest.raises(ConfigError, match="unknown score 'knass'"):
        SerialPool(ScorerSpec(scores=("knass",)))
    with pytest.raises(ConfigError, match="too few"):
        SerialPool(ScorerSpec(scores=("knas",), n_images=10))
    with pytest.raises(ConfigError, match="unknown backend"):
        make_pool(SPEC, RayConfig(backend="dask"))


def _connected(n: int, start: int = 1) -> list[Cell]:
    cells = (Cell.from_index(i) for i in range(start, 15625, 37))
    return [c for c in cells if c.is_connected][:n]


def test_latency_is_timed_with_no_other_task_running(ray_local):
    """Phase 1 scores the shared scores on both actors until drained; phase 2 times latency one cell at a time."""
    from evonas.engine.evaluator import Evaluator
    from fixture_scores import SLEEP

    spec = ScorerSpec(scores=(SLEEP, "latency"), settings={SLEEP: {"seconds": 0.3},
                                                            "latency": {"warmup": 1, "repeats": 20}}, C=8, N=1)
    with make_pool(spec, RayConfig(num_actors=2)) as pool:
        evaluator = Evaluator(pool, spec.scores)
        generations = [evaluator(_connected(5)), evaluator(_connected(5, start=3))]
    evs = [ev for gen in generations for ev in gen if ev is not None]
    assert len(evs) == 10 and all(ev.ok for ev in evs), [ev.error for ev in evs if not ev.ok]
    assert all(set(ev.values) == {SLEEP, "latency"} for ev in evs)
    spans = [(name, ev.arch, span) for ev in evs for name, span in ev.spans.items()]
    sleeps = [s for name, _, s in spans if name == SLEEP]
    assert max(b for _, b in sleeps) - min(a for a, _ in sleeps) < 0.3 * len(sleeps)  # phase 1 ran in parallel
    for name, arch, (start, end) in spans:
        if name != "latency":
            continue
        for other_name, other_arch, (a, b) in spans:
            if (other_name, other_arch) != (name, arch):
                assert b <= start or a >= end, f"{other_name} of {other_arch} overlaps the latency of {arch}"


def test_a_failure_in_either_phase_fails_the_cell(monkeypatch):
    import dataclasses

    from evonas.engine.evaluator import Evaluator

    info = get_score("latency")
    cells = _connected(4)
    bad_latency = cells[1].reduced.index
    calls = []

    def fake_latency(ctx, s):
        calls.append(ctx.cell.index)
        if ctx.cell.index == bad_latency:
            raise RuntimeError("timer broke")
        return 2.0

    monkeypatch.setitem(SCORES, "latency", dataclasses.replace(info, fn=fake_latency))
    nan_cell = cells[2].reduced.index
    spec = ScorerSpec(scores=(VALUE, "latency"), settings={VALUE: {"modulus": nan_cell, "value": float("nan")}},
                      C=8, N=1)
    results = Evaluator(SerialPool(spec), spec.scores)(cells)
    by_index = {ev.index: ev for ev in results}
    assert by_index[bad_latency].status == "failed" and "timer broke" in by_index[bad_latency].error
    assert by_index[nan_cell].status == "failed" and "not finite" in by_index[nan_cell].error
    assert nan_cell not in calls  # a cell failed in phase 1 is not timed
    ok = [ev for ev in results if ev.ok]
    assert len(ok) == 2 and all(ev.values == {VALUE: ev.index / 15625, "latency": 2.0} for ev in ok)
    assert all(list(ev.values) == [VALUE, "latency"] for ev in ok)

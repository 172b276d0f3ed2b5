"""The evaluator: the memo keeps submission order whatever arrives first; a cached value outside its
score's valid range is ignored and scored again."""
from __future__ import annotations

import pytest

from evonas.engine.cache import ScoreCache, cache_key


def test_evaluator_memo_keeps_submission_order_when_some_cells_come_from_the_cache(tmp_path):
    from evonas.engine.evaluator import Evaluator
    from evonas.engine.pool import SerialPool
    from evonas.engine.records import ScorerSpec
    from evonas.space.cell import Cell
    from evonas.space.table import load_table

    table = load_table()
    cells = [c for c in (table.cell(i) for i in range(40, 400, 7)) if c.is_connected][:6]
    spec = ScorerSpec(scores=("params",), C=8, N=1)
    pool = SerialPool(spec)
    cache = ScoreCache(tmp_path, cache_key("params", {}, seed=0, dataset="cifar10", data_root=None, C=8, N=1,
                                           device_kind=pool.device_kind))
    cache.put(cells[4].reduced.arch, 1.5)  # answered from the cache, so it arrives before the computed ones
    evaluator = Evaluator(pool, ("params",), caches={"params": cache})
    results = evaluator(cells)
    assert list(evaluator.memo) == [c.canonical for c in cells]
    assert results[4].values["params"] == 1.5 and results[0].device != "cache"


@pytest.mark.parametrize("bad", [float("nan"), -3.0, 0.5])
def test_a_cached_value_outside_the_valid_range_is_ignored_and_rescored(tmp_path, monkeypatch, bad):
    """ntk_cond declares (1, inf): a degenerate cached value is never served, it is scored again and replaced."""
    import dataclasses

    from evonas.engine.evaluator import Evaluator
    from evonas.engine.pool import SerialPool
    from evonas.engine.records import ScorerSpec
    from evonas.scores import SCORES, get_score
    from evonas.space.cell import Cell

    assert get_score("ntk_cond").valid_range == (1.0, float("inf"))
    info = get_score("ntk_cond")
    monkeypatch.setitem(SCORES, "ntk_cond", dataclasses.replace(info, fn=lambda ctx, s: 7.0 + ctx.cell.index))
    spec = ScorerSpec(scores=("ntk_cond",), settings={"ntk_cond": {"batch_size": 2, "repeats": 1}}, C=8, N=1)
    pool = SerialPool(spec)
    key = cache_key("ntk_cond", {"batch_size": 2, "repeats": 1}, seed=0, dataset="cifar10", data_root=None,
                    C=8, N=1, device_kind=pool.device_kind)
    cells = [Cell.from_index(6111), Cell.from_index(1)]
    cache = ScoreCache(tmp_path, key)
    cache.put(cells[0].reduced.arch, bad)
    cache.put(cells[1].reduced.arch, 3.0)  # a valid value is served
    evaluator = Evaluator(pool, ("ntk_cond",), caches={"ntk_cond": cache})
    first, second = evaluator(cells)
    assert first.ok and first.device != "cache" and first.values == {"ntk_cond": 7.0 + cells[0].reduced.index}
    assert second.device == "cache" and second.values == {"ntk_cond": 3.0}
    assert evaluator.n_cache_values == 1
    assert ScoreCache(tmp_path, key).get(cells[0].reduced.arch) == 7.0 + cells[0].reduced.index  # replaced on disk

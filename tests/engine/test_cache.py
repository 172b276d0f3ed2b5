"""The cross-run score cache: reuse, key separation, and corrupt or foreign files."""
from __future__ import annotations

import logging

from evonas.engine.cache import ScoreCache, cache_key
from evonas.config.schema import config_from_mapping
from evonas.errors import RunDirError
from evonas.run.rundir import RunDir

import pytest

KEY = cache_key("knas", {"n_batches": 10}, seed=0, dataset="cifar10", data_root=None, C=8, N=1, device_kind="cpu")


def test_values_survive_a_reopen_exactly(tmp_path):
    cache = ScoreCache(tmp_path, KEY)
    cache.put("a", 0.1 + 0.2)
    cache.put("b", -1e-300)
    again = ScoreCache(tmp_path, KEY)
    assert again.get("a") == 0.1 + 0.2 and again.get("b") == -1e-300 and again.get("c") is None


def test_other_settings_seed_or_device_use_other_files(tmp_path):
    ScoreCache(tmp_path, KEY).put("a", 1.0)
    for other in (cache_key("knas", {"n_batches": 12}, seed=0, dataset="cifar10", data_root=None, C=8, N=1,
                            device_kind="cpu"),
                  cache_key("knas", {"n_batches": 10}, seed=1, dataset="cifar10", data_root=None, C=8, N=1,
                            device_kind="cpu"),
                  cache_key("knas", {"n_batches": 10}, seed=0, dataset="cifar10", data_root=None, C=8, N=1,
                            device_kind="NVIDIA H100")):
        assert ScoreCache(tmp_path, other).get("a") is None


def test_corrupt_lines_are_skipped_and_a_foreign_file_is_set_aside(tmp_path, caplog):
    cache = ScoreCache(tmp_path, KEY)
    cache.put("a", 1.5)
    with open(cache.path, "a") as f:
        f.write("garbage-without-tab\nb\tnot-a-number\nc\t2.5")  # the last line cut short by a crash
    with caplog.at_level(logging.WARNING, logger="evonas"):
        again = ScoreCache(tmp_path, KEY)
    assert again.get("a") == 1.5 and again.get("c") == 2.5 and again.get("b") is None
    assert "ignored 2 unreadable line(s)" in caplog.text
    again.put("d", 3.0)  # appended on a new line despite the missing newline
    assert ScoreCache(tmp_path, KEY).get("d") == 3.0
    cache.path.write_text('{"magic": "something else"}\na\t9.0\n')
    with caplog.at_level(logging.WARNING, logger="evonas"):
        fresh = ScoreCache(tmp_path, KEY)
    assert fresh.get("a") is None and "moved aside" in caplog.text
    fresh.put("a", 4.0)
    assert ScoreCache(tmp_path, KEY).get("a") == 4.0


def test_resume_refuses_an_incompatible_config_edit(tmp_path):
    config = config_from_mapping({"search": {"pop_size": 8, "n_gen": 2}})
    run = RunDir.create(tmp_path / "run", config)
    run.check_resumable(config_from_mapping({"search": {"pop_size": 8, "n_gen": 9}, "ray": {"num_actors": 1}}))
    with pytest.raises(RunDirError, match=r"changed since the run started \(scores.knas, seed\)"):
        run.check_resumable(config_from_mapping({"search": {"pop_size": 8, "n_gen": 2}, "seed": 3,
                                                 "scores": {"knas": {"n_batches": 4}}}))
    with pytest.raises(RunDirError, match="exists and is not empty"):
        RunDir.create(tmp_path / "run", config)


def test_evaluator_memo_keeps_submission_order_when_some_cells_come_from_the_cache(tmp_path):
    from evonas.engine.evaluator import Evaluator
    from evonas.engine.pool import ScorerSpec, SerialPool
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


def test_a_new_score_version_or_torch_minor_version_misses_the_cache(tmp_path, monkeypatch):
    import dataclasses

    import torch

    from evonas.scores import SCORES, get_score

    def key():
        return cache_key("knas", {"n_batches": 10}, seed=0, dataset="cifar10", data_root=None, C=8, N=1,
                         device_kind="cpu")

    assert get_score("knas").version == 1 and {"torch", "fvcore"} <= set(key()["libraries"])
    ScoreCache(tmp_path, key()).put("a", 1.0)
    assert ScoreCache(tmp_path, key()).get("a") == 1.0
    major, minor = torch.__version__.split(".")[:2]
    monkeypatch.setattr(torch, "__version__", f"{major}.{minor}.99+other")    # a patch release: same values
    assert ScoreCache(tmp_path, key()).get("a") == 1.0
    monkeypatch.setattr(torch, "__version__", f"{major}.{int(minor) + 1}.0")  # a minor release may change them
    assert ScoreCache(tmp_path, key()).get("a") is None
    monkeypatch.undo()
    monkeypatch.setitem(SCORES, "knas", dataclasses.replace(SCORES["knas"], version=2))
    assert ScoreCache(tmp_path, key()).get("a") is None


def test_register_score_takes_a_version():
    from evonas.scores import SCORES, register_score

    @register_score("test_versioned", direction="max", version=3)
    def versioned(ctx, settings):
        return 1.0

    try:
        assert SCORES["test_versioned"].version == 3 and SCORES["flops"].version == 1
    finally:
        del SCORES["test_versioned"]


@pytest.mark.parametrize("bad", [float("nan"), -3.0, 0.5])
def test_a_cached_value_outside_the_valid_range_is_ignored_and_rescored(tmp_path, monkeypatch, bad):
    """ntk_cond declares (1, inf): a degenerate cached value is never served, it is scored again and replaced."""
    import dataclasses

    from evonas.engine.evaluator import Evaluator
    from evonas.engine.pool import ScorerSpec, SerialPool
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


def test_a_registered_valid_range_is_checked_where_values_are_used():
    from evonas.scores import register_score
    from evonas.scores.registry import invalid_value

    assert invalid_value("ntk_cond", 0.99) == "ntk_cond = 0.99 is outside its valid range [1, inf]"
    assert invalid_value("flops", -1.0) is None and invalid_value("flops", float("inf")) is not None
    with pytest.raises(ValueError, match="low <= high"):
        register_score("test_bad_range", direction="min", valid_range=(2.0, 1.0))

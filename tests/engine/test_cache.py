"""The cross-run score cache: reuse, key separation, and corrupt or foreign files."""
from __future__ import annotations

import logging

from evonas.engine.cache import ScoreCache, cache_key

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

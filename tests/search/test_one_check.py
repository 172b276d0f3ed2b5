"""A search checks its scorer spec once: each score's settings are made once, not again by the search,
the caches, the pool or each worker."""
from __future__ import annotations

import pytest

import evonas.engine.records as records
from evonas.config.load import config_from_mapping
from evonas.config.schema import RayConfig
from evonas.engine.cache import open_caches
from evonas.engine.evaluator import Evaluator
from evonas.engine.pool import make_pool
from evonas.engine.records import ScorerSpec
from evonas.run.rundir import RunDir
from evonas.search.nsga2 import run_search
from evonas.space.cell import Cell

OBJECTIVES = [{"score": "flops", "direction": "min"}, {"score": "params", "direction": "max"}]


@pytest.fixture
def made(monkeypatch) -> list[str]:
    """The score names ``make_settings`` is called for through the spec module, in order."""
    calls: list[str] = []
    make = records.make_settings

    def counting(name, values=None):
        calls.append(name)
        return make(name, values)

    monkeypatch.setattr(records, "make_settings", counting)
    return calls


def test_a_spec_from_a_config_scores_through_a_serial_pool_and_its_caches_with_one_check(tmp_path, made):
    config = config_from_mapping({"objectives": OBJECTIVES, "cache": {"dir": str(tmp_path / "cache")},
                                  "network": {"C": 8, "N": 1}, "ray": {"backend": "serial"}})
    spec = ScorerSpec.from_config(config)
    with make_pool(spec, config.ray) as pool:
        caches = open_caches(config.cache.dir, spec, pool.device_for)
        evaluator = Evaluator(pool, spec.scores, caches=caches)
        evs = evaluator([Cell.from_index(i) for i in (1, 2, 6111)])
    assert len(evs) == 3 and all(ev is not None and ev.ok for ev in evs)
    assert set(caches) == {"flops", "params"}
    assert made == ["flops", "params"]  # one per score


def test_a_whole_search_checks_each_score_once(tmp_path, made):
    config = config_from_mapping({"objectives": OBJECTIVES, "cache": {"dir": str(tmp_path / "cache")},
                                  "ray": {"backend": "serial"}, "search": {"pop_size": 4, "n_gen": 2}})
    made.clear()  # the config's own check of its score settings is the config's
    result = run_search(config, RunDir.create(tmp_path / "run", config))
    assert result.n_scored > 0 and result.front
    assert made == ["flops", "params"]


def test_a_spec_made_once_is_reused_by_the_search(tmp_path, made):
    config = config_from_mapping({"objectives": OBJECTIVES, "ray": {"backend": "serial"},
                                  "search": {"pop_size": 4, "n_gen": 1}})
    spec = ScorerSpec.from_config(config)  # as the command line does, before the run directory exists
    run_search(config, RunDir.create(tmp_path / "run", config), spec=spec)
    assert made == ["flops", "params"]


def test_the_pool_takes_the_config_s_ray_section(tmp_path):
    spec = ScorerSpec(scores=("params",))
    with pytest.raises(Exception, match="unknown backend 'dask'"):
        make_pool(spec, RayConfig(backend="dask"))

"""A real local Ray pool: scores cells, agrees with the serial backend, survives a killed worker."""
from __future__ import annotations

import threading
import time

import pytest

from evonas.errors import ConfigError, EvonasError
from evonas.pool import RayPool, ScorerSpec, SerialPool, make_pool
from evonas.space import Cell

SPEC = ScorerSpec(scores=("knas", "flops"), settings={"knas": {"n_batches": 6}}, C=8, N=1, seed=0)
CELLS = [Cell.from_index(i) for i in (0, 1, 2, 6111)]


def test_ray_pool_scores_four_cells_like_the_serial_backend(ray_local):
    with SerialPool(SPEC) as serial:
        expected = {ev.arch: ev.values for ev in serial.map_unordered(CELLS)}
    with make_pool(SPEC, backend="ray", num_actors=2) as pool:
        got = list(pool.map_unordered(CELLS))
    assert sorted(ev.arch for ev in got) == sorted(c.arch for c in CELLS)
    assert all(ev.ok and ev.attempts == 1 for ev in got)
    for ev in got:
        assert ev.values == expected[ev.arch]  # same seed, same numbers, whichever worker
        assert ev.index == Cell.from_string(ev.arch).index
    assert ray_local.is_initialized()  # the pool did not shut down a Ray it did not start


def test_a_killed_worker_is_replaced_and_its_cell_retried(ray_local):
    spec = ScorerSpec(scores=("knas",), settings={"knas": {"n_batches": 200}}, C=16, N=5, seed=0)  # ~5 s a cell
    with RayPool(spec, num_actors=1, max_retries=2) as pool:
        victim = pool.actors[0]
        killer = threading.Timer(1.0, lambda: ray_local.kill(victim, no_restart=True))
        killer.start()
        try:
            results = list(pool.map_unordered([Cell.from_index(6111)]))
        finally:
            killer.cancel()
    assert len(results) == 1
    ev = results[0]
    assert ev.ok, ev.error
    assert ev.attempts == 2
    assert pool.actors == [] or victim not in pool.actors


def test_a_cell_whose_workers_keep_dying_is_marked_failed_not_dropped(ray_local):
    spec = ScorerSpec(scores=("knas",), settings={"knas": {"n_batches": 200}}, C=16, N=5, seed=0)  # ~5 s a cell
    with RayPool(spec, num_actors=1, max_retries=1) as pool:
        stop = threading.Event()

        def keep_killing():
            while not stop.is_set():
                time.sleep(1.0)
                for actor in list(pool.actors):
                    ray_local.kill(actor, no_restart=True)

        t = threading.Thread(target=keep_killing, daemon=True)
        t.start()
        try:
            results = list(pool.map_unordered([Cell.from_index(6111)]))
        finally:
            stop.set()
            t.join()
    assert len(results) == 1
    assert results[0].status == "failed"
    assert "worker died 2 times" in results[0].error


def test_a_failing_score_marks_the_cell_failed_with_its_error():
    spec = ScorerSpec(scores=("knas",), settings={"knas": {"n_batches": 4}}, C=8, N=1, n_images=4,
                      data_root=None)
    with SerialPool(spec) as pool:
        ev = next(pool.map_unordered([Cell.from_index(0)]))
    assert ev.ok  # 4 images suffice for 4 batches of one
    bad = ScorerSpec(scores=("knas",), settings={"knas": {"n_batches": 4, "batch_size": 2}}, C=8, N=1)
    scorer = SerialPool(bad).scorer
    object.__setattr__(scorer, "data", scorer.data.__class__(scorer.data.images[:3], scorer.data.labels[:3],
                                                             "cifar10", "cut"))
    ev = scorer.score(Cell.from_index(0).arch)
    assert ev.status == "failed" and "raise data.n_images" in ev.error


def test_bad_specs_fail_before_any_work():
    with pytest.raises(ConfigError, match="unknown score 'knass'"):
        SerialPool(ScorerSpec(scores=("knass",)))
    with pytest.raises(ConfigError, match="too few"):
        SerialPool(ScorerSpec(scores=("knas",), n_images=10))
    with pytest.raises(ConfigError, match="unknown backend"):
        make_pool(SPEC, backend="dask")


def test_an_address_that_does_not_answer_fails_in_seconds():
    from evonas.pool import _check_reachable

    t0 = time.perf_counter()
    with pytest.raises(EvonasError, match="nothing answers at 127.0.0.1:9"):
        _check_reachable("127.0.0.1:9", timeout_s=2.0)
    assert time.perf_counter() - t0 < 5

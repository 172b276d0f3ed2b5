"""A real local Ray pool: survives killed and stuck workers, never waits for workers the cluster cannot place,
places cheap scores on CPU actors beside GPU actors."""
from __future__ import annotations

import logging
import threading
import time

import pytest

from evonas.config.schema import RayConfig
from evonas.engine.ray_pool import RayPool, runs_beside_gpu
from evonas.engine.records import ScorerSpec
from evonas.errors import EvonasError
from evonas.engine.placement import ActorPlan
from evonas.space.cell import Cell
from fixture_scores import BLOCK, started

SPEC = ScorerSpec(scores=("knas", "flops"), settings={"knas": {"n_batches": 6}}, C=8, N=1, seed=0)

CELLS = [Cell.from_index(i) for i in (0, 1, 2, 6111)]


def _wait_for(predicate, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def _blocking_spec(index: int, signal_dir, times: int = -1) -> ScorerSpec:
    return ScorerSpec(scores=(BLOCK,), settings={BLOCK: {"index": index, "signal_dir": str(signal_dir),
                                                          "times": times}}, C=8, N=1)


def test_a_killed_worker_is_replaced_and_its_cell_retried(ray_local, tmp_path):
    cell = Cell.from_index(6111)
    with RayPool(_blocking_spec(cell.index, tmp_path, times=1), RayConfig(num_actors=1, max_retries=2)) as pool:
        victim = pool.actors[0]

        def kill_once_scoring():  # the first attempt blocks until this kill: no race with a fast machine
            _wait_for(lambda: started(tmp_path, cell.index) >= 1)
            ray_local.kill(victim, no_restart=True)

        killer = threading.Thread(target=kill_once_scoring, daemon=True)
        killer.start()
        results = list(pool.map_unordered([cell]))
        killer.join()
        assert victim not in pool.actors and len(pool.actors) == 1  # replaced, while the pool is open
    assert len(results) == 1
    ev = results[0]
    assert ev.ok, ev.error
    assert ev.attempts == 2 and ev.values == {BLOCK: 1.0 + cell.index}
    assert started(tmp_path, cell.index) == 2


def test_a_cell_whose_workers_keep_dying_is_marked_failed_not_dropped(ray_local, tmp_path):
    cell = Cell.from_index(6111)
    with RayPool(_blocking_spec(cell.index, tmp_path), RayConfig(num_actors=1, max_retries=1)) as pool:
        def kill_every_attempt():
            for attempt in (1, 2):
                _wait_for(lambda: started(tmp_path, cell.index) >= attempt)
                for actor in list(pool.actors):
                    ray_local.kill(actor, no_restart=True)

        killer = threading.Thread(target=kill_every_attempt, daemon=True)
        killer.start()
        results = list(pool.map_unordered([cell]))
        killer.join()
    assert len(results) == 1
    assert results[0].status == "failed"
    assert "worker died" in results[0].error and "in 2 attempt(s)" in results[0].error
    assert started(tmp_path, cell.index) == 2


def test_a_hanging_cell_times_out_is_retried_on_a_fresh_worker_then_failed(ray_local, tmp_path):
    hang, others = Cell.from_index(6111), [Cell.from_index(i) for i in (1, 2, 3)]
    rc = RayConfig(num_actors=2, max_retries=1, task_timeout_s=3)
    with RayPool(_blocking_spec(hang.index, tmp_path), rc) as pool:
        first = list(pool.actors)
        t0 = time.monotonic()
        results = {ev.index: ev for ev in pool.map_unordered([hang, *others])}
        assert time.monotonic() - t0 < 90
        assert len(pool.actors) == 2 and not set(first) <= set(pool.actors)  # the stuck worker was replaced
        again = list(pool.map_unordered(others))  # and the pool still works
    assert sorted(results) == sorted([hang.index] + [c.index for c in others])
    bad = results[hang.index]
    assert bad.status == "failed" and bad.attempts == 2
    assert "no result within 3 s (ray.task_timeout_s)" in bad.error
    assert started(tmp_path, hang.index) == 2
    assert all(results[c.index].ok for c in others) and all(ev.ok for ev in again)


def test_more_actors_than_the_cluster_can_place_are_capped_with_a_warning(ray_local, caplog):
    t0 = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="evonas"):
        logging.getLogger("evonas").propagate = True
        with RayPool(SPEC, RayConfig(num_actors=16)) as pool:
            assert pool.num_workers == 2 and len(pool.actors) == 2
            assert all(ev.ok for ev in pool.map_unordered(CELLS[:2]))
    assert time.monotonic() - t0 < 120
    assert any("16" in r.getMessage() and "2" in r.getMessage() and "ray.num_actors" in r.getMessage()
               for r in caplog.records)


def test_the_pool_places_its_actors_by_the_plan_on_a_cpu_cluster(ray_local):
    """One capacity rule: the pool's actors are plan_actors' plan for the cluster's resources, and each
    holds what the plan's ray_options ask of Ray (an actor made without them holds no CPU while it runs)."""
    with RayPool(SPEC, RayConfig(num_actors=1, cpu_actors=5)) as pool:  # no GPU: cpu_actors does not apply
        assert pool.plan == ActorPlan(0, 0.0, 1) and pool.num_workers == 1
        assert pool.plan.ray_options("cpu") == {"num_cpus": 1, "num_gpus": 0}
        _wait_for(lambda: ray_local.available_resources().get("CPU", 0) == 2 - 1, timeout_s=30)
        assert set(pool.kind.values()) == {"cpu"} and pool.target_kind == "cpu"
        assert pool.device_for("knas") == pool.device_for("flops") == pool.device_kind
        assert all(ev.ok for ev in pool.map_unordered(CELLS[:2]))


def test_a_worker_that_cannot_start_fails_the_pool_and_leaks_no_actor(ray_local):
    spec = ScorerSpec(scores=("flops",), plugins=("no_such_plugin_module",))
    with pytest.raises(EvonasError, match="could not start.*plugin 'no_such_plugin_module' cannot be imported"):
        RayPool(spec, RayConfig(num_actors=2))
    _wait_for(lambda: ray_local.available_resources().get("CPU", 0) == 2, timeout_s=30)


@pytest.mark.slow
def test_workers_that_never_get_a_slot_are_given_up_and_killed(ray_local, caplog):
    @ray_local.remote(num_cpus=1)
    class Holder:
        def ping(self) -> int:
            return 1

    holder = Holder.remote()
    ray_local.get(holder.ping.remote())  # one of the two CPUs is taken by someone else
    try:
        with caplog.at_level(logging.WARNING, logger="evonas"):
            logging.getLogger("evonas").propagate = True
            with RayPool(SPEC, RayConfig(num_actors=2, start_timeout_s=15)) as pool:
                assert pool.num_workers == 1 and len(pool.actors) == 1
                ray_local.kill(holder, no_restart=True)
                holder = None
                _wait_for(lambda: ray_local.available_resources().get("CPU", 0) >= 1, timeout_s=30)
                time.sleep(2.0)  # a leaked actor would take the freed slot now
                assert ray_local.available_resources().get("CPU", 0) == 1
                assert all(ev.ok for ev in pool.map_unordered(CELLS[:2]))
        assert any("1 of 2" in r.getMessage() for r in caplog.records)
    finally:
        if holder is not None:
            ray_local.kill(holder, no_restart=True)


def test_nothing_starts_within_the_time_limit_is_one_clear_error(ray_local):
    @ray_local.remote(num_cpus=2)
    class Holder:
        def ping(self) -> int:
            return 1

    holder = Holder.remote()
    ray_local.get(holder.ping.remote())
    try:
        t0 = time.monotonic()
        with pytest.raises(EvonasError, match="no Ray worker started within 3 s"):
            RayPool(SPEC, RayConfig(num_actors=1, start_timeout_s=3))
        assert time.monotonic() - t0 < 30
    finally:
        ray_local.kill(holder, no_restart=True)
    _wait_for(lambda: ray_local.available_resources().get("CPU", 0) == 2, timeout_s=30)
    time.sleep(2.0)  # a leaked actor would take a freed slot now
    assert ray_local.available_resources().get("CPU", 0) == 2


@pytest.mark.slow
def test_a_search_whose_score_hangs_on_some_cells_finishes_with_them_failed(ray_local, tmp_path):
    """ray.task_timeout_s reaches the search's pool: every 4th cell hangs, the run still ends."""
    from evonas.config.load import config_from_mapping
    from evonas.run.rundir import RunDir
    from evonas.search.nsga2 import run_search

    config = config_from_mapping({"objectives": [{"score": BLOCK}, {"score": "params"}],
                                  "scores": {BLOCK: {"modulus": 4}}, "search": {"pop_size": 8, "n_gen": 2},
                                  "ray": {"num_actors": 2, "task_timeout_s": 2, "max_retries": 0}})
    run = RunDir.create(tmp_path / "run", config)
    result = run_search(config, run)
    rows = run.candidates()
    failed = [r for r in rows if r["status"] == "failed"]
    assert failed and all(int(r["index"]) % 4 == 0 and "ray.task_timeout_s" in r["error"] for r in failed)
    assert all(r["status"] == "ok" for r in rows if int(r["index"]) % 4)
    assert result.front and all(int(r["index"]) % 4 for r in result.front)


def test_cheap_scores_run_on_cpu_actors_beside_gpu_actors():
    assert [n for n in ("flops", "params", "synflow", "latency_table", "gradient_kernel", "knas", "latency")
            if runs_beside_gpu(n)] == ["flops", "params", "synflow", "latency_table"]


_MIXED = r'''
import json, os, sys, time
import ray
from evonas.config.schema import RayConfig
from evonas.engine.ray_pool import RayPool
from evonas.engine.records import ScorerSpec
from evonas.space.cell import Cell
from fixture_scores import BESIDE_GPU, ON_GPU_ACTOR

def free(want, timeout_s=30.0):  # what the actors left of the cluster, once Ray's view has settled on want
    deadline = time.monotonic() + timeout_s
    while True:
        got = {k: ray.available_resources().get(k, 0.0) for k in ("CPU", "GPU")}
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


ray.init(num_cpus=3, num_gpus=1, include_dashboard=False, logging_level="ERROR",
         runtime_env={"env_vars": {"PYTHONPATH": os.environ["PYTHONPATH"]},
                      "worker_process_setup_hook": "fixture_scores.register"})
spec = ScorerSpec(scores=(ON_GPU_ACTOR, BESIDE_GPU, "params"), C=8, N=1)
cells = [Cell.from_index(i) for i in (6111, 1, 2, 3)]
with RayPool(spec, RayConfig(actors_per_gpu=1, cpu_actors="auto", start_timeout_s=60)) as pool:
    out = {"plan": [pool.plan.gpu_actors, pool.plan.cpu_actors], "kinds": sorted(pool.kind.values()),
           "free": free({"CPU": 0.0, "GPU": 0.0}),
           "shared": [[ev.ok, ev.values] for ev in pool.map_unordered(cells)],
           "exclusive": [ev.values for ev in pool.map_exclusive(cells[:2], {c.arch: (BESIDE_GPU,) for c in cells})]}
print("RESULT" + json.dumps(out))
'''


@pytest.mark.slow
def test_cpu_actors_beside_a_gpu_actor_take_the_cheap_scores(tmp_path, subprocess_env, repo):
    """A Ray cluster with one (logical) GPU and 3 CPUs: 1 GPU actor plus 2 CPU actors, each score where it belongs."""
    import json
    import os
    import subprocess
    import sys

    env = dict(subprocess_env, PYTHONPATH=os.pathsep.join([str(repo / "tests"), subprocess_env["PYTHONPATH"]]))
    proc = subprocess.run([sys.executable, "-c", _MIXED], env=env, capture_output=True, text=True, timeout=240)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")]
    assert line, proc.stderr[-3000:]
    out = json.loads(line[0][len("RESULT"):])
    assert out["plan"] == [1, 2] and out["kinds"] == ["cpu", "cpu", "gpu"]
    assert out["free"] == {"CPU": 0.0, "GPU": 0.0}  # each actor holds what ActorPlan.ray_options asks for
    assert len(out["shared"]) == 4
    for ok, values in out["shared"]:
        assert ok and values["test_on_gpu_actor"] == 1.0 and values["test_beside_gpu"] == 0.0 and "params" in values
    assert out["exclusive"] == [{"test_beside_gpu": 1.0}] * 2  # the exclusive phase runs on the target (GPU) actor

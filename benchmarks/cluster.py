"""The Ray cluster benchmark: the generational and the asynchronous search on a multi-node loopback cluster.

    python benchmarks/cluster.py --json docs/cluster.json            # everything (about 30 min on 2 cores)
    python benchmarks/cluster.py --actors 8,64 --seeds 1 --hv-seeds 2 --loss none   # a quick look
    python benchmarks/cluster.py --loss-only --json docs/cluster_loss.json      # the node-loss runs alone

1. The per-cell time of the main job's ``gradient_kernel`` (configs/nb201_pareto.yaml, C=16, N=5) is
   measured on ``--times`` connected cells on this CPU (cached under ``--cache``) and modelled by the
   cell's op counts (``TimeModel``: a linear fit plus a seeded per-cell residual of the measured
   spread); the model is scaled to a mean of ``--mean-s`` seconds per cell (a GPU's order of time).
2. A ``ray.cluster_utils.Cluster`` of ``--nodes`` nodes with ``--cpus`` logical CPUs each, every node on
   127.0.0.1 (checked with ``ray.nodes()``), runs stand-in scoring actors (``cluster_actor.SleepScorer``,
   no torch): each takes the modelled time of its cell and answers the NB201 truth (CIFAR-10 test error,
   FLOPs), so both searches are judged on the objectives themselves.
3. For each actor count, each mode (``generational``: pymoo's NSGA-II, pop 40, 20 generations, the main
   job's budget; ``async``: ``evolve_async`` with ``max_evals`` equal to what that generational run
   scored), ``--seeds`` runs: utilisation = the actors' scoring time (``ended - started`` of each cell, as
   candidates.csv records it) over actors x the search's wall time; at the largest count ``--hv-seeds``
   runs compare the HV ratio of the evaluated front against the true front at equal evaluations.
4. Node loss: the asynchronous search at the largest count, one worker node removed (``kill``), then
   another frozen with SIGSTOP (``freeze``: a hung machine), when 40 % of the budget is in: the run ends
   with every cell scored, the lost node and the retries in the log, and the time from Ray declaring the
   node dead to the first retry is measured.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # every node stays on 127.0.0.1 (see tests/conftest.py)
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import numpy as np  # noqa: E402

from benchmarks._common import machine, print_table, write_json  # noqa: E402
from cluster_actor import COST, TRUTH, SleepScorer, TimeModel  # noqa: E402
from evonas.analysis.quality import hv_ratio, true_front_points  # noqa: E402
from evonas.config.load import config_from_mapping, load_config  # noqa: E402
from evonas.config.schema import RayConfig  # noqa: E402
from evonas.engine.evaluator import Evaluator  # noqa: E402
from evonas.engine.ray_pool import ScheduledPool, place  # noqa: E402
from evonas.engine.scheduler import Scheduler  # noqa: E402
from evonas.scores import register_score  # noqa: E402
from evonas.search.dominance import non_dominated  # noqa: E402
from evonas.space.cell import Cell  # noqa: E402
from evonas.space.table import sample_connected  # noqa: E402

log = logging.getLogger("evonas")
MAIN_JOB = HERE.parent / "configs" / "nb201_pareto.yaml"


# -- 1. the time model ------------------------------------------------------------------------------

def measured_times(n: int, cache: Path) -> list[tuple[str, float]]:
    """(reduced arch, seconds) of the main job's gradient_kernel on ``n`` connected cells, on this CPU."""
    path = cache / f"gradient_kernel_times_{n}.json"
    if path.exists():
        return [tuple(x) for x in json.loads(path.read_text())]
    from evonas.engine.records import ScorerSpec
    from evonas.engine.scorer import Scorer

    config = load_config(MAIN_JOB)
    scorer = Scorer(ScorerSpec.from_config(config, scores=("gradient_kernel",)))
    scorer.score(Cell.from_index(6111).arch)  # warm
    out = []
    for k, cell in enumerate(sample_connected(n, seed=1)):
        ev = scorer.score(cell.reduced.arch)
        out.append((cell.reduced.arch, ev.times["gradient_kernel"]))
        print(f"\rtimed {k + 1}/{n} cells", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    cache.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out))
    return out


def fit(times: list[tuple[str, float]], mean_s: float) -> tuple[TimeModel, dict[str, float]]:
    """The time model of ``times`` (least squares on op counts), scaled to a mean of ``mean_s``."""
    X = np.array([np.r_[1.0, np.bincount(Cell.from_string(a).ops, minlength=5)] for a, _ in times])
    y = np.array([t for _, t in times])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    pred = X @ coef
    resid_cv = float(np.std((y - pred) / pred))
    model = TimeModel(float(coef[0]), tuple(float(c) for c in coef[1:]), resid_cv)
    scale = mean_s / float(np.mean(y))
    stats = {"cells": len(y), "mean_s": float(y.mean()), "cv": float(y.std() / y.mean()),
             "r2": float(1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2)), "resid_cv": resid_cv,
             "max_over_mean": float(y.max() / y.mean()), "scale": scale}
    return TimeModel(model.intercept, model.coef, resid_cv, scale), stats


# -- 2. the cluster and its pool ---------------------------------------------------------------------

def start_cluster(nodes: int, cpus: int) -> Any:
    import ray
    from ray.cluster_utils import Cluster

    base = {"node_ip_address": "127.0.0.1", "include_dashboard": False, "object_store_memory": 100 * 2**20,
            "num_cpus": cpus}
    cluster = Cluster(initialize_head=True, head_node_args=base)
    for _ in range(nodes - 1):
        cluster.add_node(**base)
    ray.init(address=cluster.address, logging_level="ERROR",
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([str(HERE.parent), str(HERE)])}})
    ips = {n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"]}
    assert ips == {"127.0.0.1"}, f"a node left the loopback: {ips}"
    return cluster


class SimPool(ScheduledPool):
    """``n`` stand-in actors spread over the cluster, driven by evonas's own ``Scheduler``."""

    def __init__(self, n: int, model: TimeModel, *, start_timeout_s: float = 60.0) -> None:
        import ray

        cls = ray.remote(num_cpus=1, scheduling_strategy="SPREAD", max_restarts=0)(SleepScorer)
        self.spec = None
        self.scheduler = Scheduler(spawn=lambda kind: cls.remote(model), kill=lambda a: ray.kill(a, no_restart=True),
                                   scores=(TRUTH, COST), target_kind="cpu", split=False, beside=lambda s: False,
                                   max_retries=2, task_timeout_s=600.0, start_timeout_s=start_timeout_s,
                                   stuck_factor=RayConfig().stuck_factor, place=place)
        actors = [cls.remote(model) for _ in range(n)]
        for actor, about in zip(actors, ray.get([a.about.remote() for a in actors], timeout=300)):
            self.scheduler.add(actor, "cpu", about)
        self.scheduler.check_nodes()

    device_kind = "cpu"

    def device_for(self, score: str) -> str:
        return "cpu"


# -- 3. the searches ----------------------------------------------------------------------------------

def search_config(mode: str, seed: int, budget: int | None = None, n_gen: int = 20) -> Any:
    search = {"pop_size": 40, "n_gen": n_gen} if mode == "generational" else \
        {"mode": "async", "pop_size": 40, "max_evals": budget}
    return config_from_mapping({"seed": seed, "objectives": [{"score": TRUTH, "direction": "min"},
                                                             {"score": COST, "direction": "min"}], "search": search})


def one_search(pool: SimPool, mode: str, seed: int, budget: int | None = None, progress: Any = None,
               n_gen: int = 20) -> dict[str, Any]:
    from pymoo.optimize import minimize

    from evonas.search.nsga2 import make_algorithm
    from evonas.search.steady import evolve_async
    from problems import NB201Problem

    config = search_config(mode, seed, budget, n_gen)
    evaluator = Evaluator(pool, (TRUTH, COST))
    t0 = time.time()
    if mode == "generational":
        minimize(NB201Problem(config.objectives, evaluator), make_algorithm(config), ("n_gen", config.search.n_gen),
                 seed=seed, verbose=False, copy_algorithm=False)
    else:
        evolve_async(config, evaluator, progress)
    wall = time.time() - t0
    evs = list(evaluator.memo.values())
    busy = sum(ev.wall_time for ev in evs if ev.started)  # the actors' own time scoring
    held = sum(ev.ended - ev.started for ev in evs if ev.started)  # + the wait for the driver to take the result
    F = np.array([[ev.values[TRUTH], ev.values[COST]] for ev in evs if ev.ok]).reshape(-1, 2)
    return {"mode": mode, "actors": pool.num_workers, "seed": seed, "n_gen": n_gen if mode == "generational" else None,
            "n": len(evs), "failed": sum(not e.ok for e in evs),
            "wall_s": wall, "utilisation": busy / (pool.num_workers * wall),
            "held": held / (pool.num_workers * wall), "F": F}


def hv_of(F: np.ndarray, n: int, front: np.ndarray) -> float:
    """The HV ratio of the front of the first ``n`` cells scored."""
    F = F[:n]
    return hv_ratio(F[non_dominated(F)], front)


class KillAt:
    """A progress hook that takes one worker node of ``cluster`` away once ``share`` of the budget is in:
    ``kill`` removes it (its processes die at once), ``freeze`` stops its raylet and workers with SIGSTOP (a hung
    machine: nothing answers, nothing closes) until Ray declares it dead. Notes when each happened."""

    def __init__(self, cluster: Any, share: float, how: str = "kill") -> None:
        self.cluster, self.share, self.how = cluster, share, how
        self.removed_at = self.t_gone = self.t_dead = None
        self.frozen: list[int] = []

    def report(self, head: str, done: float, **state: Any) -> None:
        if self.removed_at is not None or done < self.share:
            return
        import threading

        import ray

        node = list(self.cluster.worker_nodes)[-1]
        node_id, self.removed_at, self.t_gone = node.node_id, done, time.time()
        if self.how == "kill":
            self.cluster.remove_node(node, allow_graceful=False)
        else:
            raylet = node.all_processes["raylet"][0].process.pid
            self.frozen = [raylet, *_children(raylet)]
            for pid in self.frozen:
                os.kill(pid, signal.SIGSTOP)

        def watch() -> None:  # when Ray declares the node dead
            while self.t_dead is None and time.time() - self.t_gone < 300 and ray.is_initialized():
                try:
                    if not any(n["NodeID"] == node_id and n["Alive"] for n in ray.nodes()):
                        self.t_dead = time.time()
                except Exception:  # noqa: BLE001 (Ray shut down meanwhile)
                    return
                time.sleep(0.2)

        threading.Thread(target=watch, daemon=True).start()

    def release(self) -> None:
        """Kill what was frozen (it would never come back)."""
        for pid in self.frozen:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _children(pid: int) -> list[int]:
    """Every descendant process of ``pid`` (from /proc)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--times", type=int, default=120, help="cells whose gradient_kernel time is measured")
    p.add_argument("--mean-s", type=float, default=0.5, help="the modelled mean seconds per cell")
    p.add_argument("--nodes", type=int, default=4)
    p.add_argument("--cpus", type=int, default=16, help="logical CPUs per node")
    p.add_argument("--actors", default="8,16,32,64")
    p.add_argument("--seeds", type=int, default=3, help="runs per mode and actor count (utilisation)")
    p.add_argument("--hv-seeds", type=int, default=10, help="runs per mode at the largest count (HV ratio)")
    p.add_argument("--long-gens", type=int, default=80, help="generations of the long runs (0: none)")
    p.add_argument("--long-actors", default="32,64", help="actor counts of the long runs (one seed each)")
    p.add_argument("--loss", default="kill,freeze", help="node-loss runs: kill, freeze, both or none")
    p.add_argument("--loss-only", action="store_true", help="only the node-loss runs (budget 600)")
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "evonas" / "bench")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    counts = [int(a) for a in args.actors.split(",")]

    register_score(TRUTH, direction="min", reference=str(HERE / "cluster_actor.py"),
                   description="NB201 CIFAR-10 test error (the stand-in actors answer it)")(lambda ctx, s: 0.0)
    model, time_stats = fit(measured_times(args.times, args.cache), args.mean_s)
    print(f"gradient_kernel on {time_stats['cells']} cells: mean {time_stats['mean_s']:.3f} s, CV "
          f"{time_stats['cv']:.2f}, max/mean {time_stats['max_over_mean']:.2f}; op-count model R2 {time_stats['r2']:.2f}, "
          f"residual CV {time_stats['resid_cv']:.2f}; scaled to a mean of {args.mean_s:g} s")
    import ray

    front = true_front_points("cifar10")
    cluster = start_cluster(args.nodes, args.cpus)
    runs: list[dict[str, Any]] = []
    try:
        for n in [] if args.loss_only else counts:
            seeds = max(args.seeds, args.hv_seeds if n == counts[-1] else 0)
            with SimPool(n, model) as pool:
                for seed in range(seeds):
                    gen = one_search(pool, "generational", seed)
                    asy = one_search(pool, "async", seed, budget=gen["n"])
                    for r in (gen, asy):
                        r["hv_ratio"] = hv_of(r["F"], min(gen["n"], asy["n"]), front)
                        runs.append(r)
                    print(f"{n:3d} actors seed {seed}: utilisation gen {gen['utilisation']:.2f} async "
                          f"{asy['utilisation']:.2f}; wall {gen['wall_s']:.1f} / {asy['wall_s']:.1f} s; HV "
                          f"{gen['hv_ratio']:.4f} / {asy['hv_ratio']:.4f} ({gen['n']} cells)", flush=True)
        for n in [] if args.loss_only or not args.long_gens else [int(a) for a in args.long_actors.split(",")]:
            with SimPool(n, model) as pool:  # a longer search: the finite budget's tail matters less
                gen = one_search(pool, "generational", 0, n_gen=args.long_gens)
                asy = one_search(pool, "async", 0, budget=gen["n"])
                for r in (gen, asy):
                    r["hv_ratio"] = hv_of(r["F"], min(gen["n"], asy["n"]), front)
                    r["long"] = True
                    runs.append(r)
                print(f"{n:3d} actors, {gen['n']} cells: utilisation gen {gen['utilisation']:.2f} async "
                      f"{asy['utilisation']:.2f}; HV {gen['hv_ratio']:.4f} / {asy['hv_ratio']:.4f}", flush=True)
    finally:
        ray.shutdown()
        cluster.shutdown()
    losses = []
    for how in [h for h in args.loss.split(",") if h in ("kill", "freeze")]:  # each on a fresh cluster
        cluster = start_cluster(args.nodes, args.cpus)
        try:
            losses.append(node_loss(cluster, counts[-1], model, runs[-1]["n"] if runs else 600, how))
        finally:
            ray.shutdown()
            cluster.shutdown()

    rows = []
    for n, long in sorted({(r["actors"], r.get("long", False)) for r in runs}):
        for mode in ("generational", "async"):
            rs = [r for r in runs if r["actors"] == n and r["mode"] == mode and r.get("long", False) == long]
            u = np.array([r["utilisation"] for r in rs])
            h = np.array([r["hv_ratio"] for r in rs])
            rows.append([n, mode, f"{np.mean([r['n'] for r in rs]):.0f}", len(rs), f"{u.mean():.3f} ± {u.std():.3f}",
                         f"{np.mean([r['n'] / r['wall_s'] for r in rs]):.1f}",
                         f"{np.mean([r['wall_s'] for r in rs]):.1f}", f"{h.mean():.4f} ± {h.std():.4f}"])
    print_table(["actors", "mode", "cells", "runs", "utilisation", "cells/s", "wall s", "HV ratio (equal evals)"], rows)
    for loss in losses:
        dead = loss["declared_dead_after_s"]
        retry = loss["retried_after_s"]
        print(f"node {loss['how']} at {loss['removed_at']:.0%} of the budget: {loss['n']} cells, {loss['failed']} "
              f"failed, retries {loss['retries']}, workers {loss['workers_before']} -> {loss['workers_after']}, "
              f"utilisation {loss['utilisation']:.3f}, wall {loss['wall_s']:.1f} s; its cells retried "
              f"{'never' if retry is None else f'{retry[0]:.1f}-{retry[1]:.1f} s'} after the loss; Ray declared it dead "
              f"{'not within the run' if dead is None else f'after {dead:.1f} s'}; the log: {loss['lost'] + loss['given_up']}")
    if args.json is not None:
        write_json(args.json, {"machine": machine(), "args": {k: str(v) for k, v in vars(args).items()},
                               "time_model": time_stats, "runs": [{k: v for k, v in r.items() if k != "F"} for r in runs],
                               "node_loss": losses})
    return 0


def node_loss(cluster: Any, n: int, model: TimeModel, budget: int, how: str) -> dict[str, Any]:
    """The asynchronous search on ``n`` actors with a worker node taken away (``how``: kill or freeze) at 40 % of
    ``budget``: what the run scored, the log's lines, and how long after Ray declared the node dead the first
    of its cells was retried."""
    records: list[tuple[float, str]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append((record.created, record.getMessage()))

    handler = Keep(logging.WARNING)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    hook = KillAt(cluster, 0.4, how)
    try:
        with SimPool(n, model, start_timeout_s=20.0) as pool:
            before = pool.num_workers
            r = one_search(pool, "async", 0, budget=budget, progress=hook)
            retried = [t for t, m in records if "retrying" in m]
            r.update(how=how, removed_at=hook.removed_at, retries=pool.scheduler.retries, workers_before=before,
                     workers_after=pool.num_workers, lost=[m for _, m in records if "was lost" in m],
                     given_up=[m for _, m in records if "given up" in m][-1:],
                     declared_dead_after_s=None if hook.t_dead is None else hook.t_dead - hook.t_gone,
                     retried_after_s=[min(retried) - hook.t_gone, max(retried) - hook.t_gone] if retried else None,
                     wall_after_loss_s=time.time() - hook.t_gone)
    finally:
        log.removeHandler(handler)
        hook.release()
    r.pop("F")
    return r


if __name__ == "__main__":
    sys.exit(main())

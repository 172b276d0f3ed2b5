"""The search: NSGA-II over cell encodings, scored through the pool, written to a run directory.

``search.mode: async`` runs the steady-state NSGA-II of ``evonas.search.steady`` instead (no generation
barrier: each worker gets a new cell as soon as it is free). Resume of the generational search is a deterministic replay: the same seed drives pymoo through the same generations,
and every cell already in candidates.csv is answered from it instead of being rescored, so
an interrupted run continues where it stopped and ends with the front an uninterrupted run
would have found.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.optimize import minimize

from evonas.config.schema import Config
from evonas.engine.cache import open_caches
from evonas.engine.evaluator import Evaluator
from evonas.engine.pool import make_pool
from evonas.engine.records import ScorerSpec
from evonas.run.rundir import CANDIDATES, PARETO, CandidateLog, RunDir
from evonas.search.pareto import benchmark_columns, front_rows
from evonas.search.progress import Progress, fmt_duration
from evonas.search.remeasure import remeasure_front
from evonas.search.steady import evolve_async
from operators import CanonicalDuplicateElimination, CellSampling, EdgeCrossover, EdgeMutation
from problems import NB201Problem

__all__ = ["run_search", "make_algorithm", "SearchResult"]

log = logging.getLogger("evonas")


@dataclass(frozen=True)
class SearchResult:
    """A finished search: its run directory, the front's rows, and what it cost."""

    run: RunDir
    front: list[dict[str, Any]]
    n_scored: int
    n_reused: int
    wall_time_s: float


def make_algorithm(config: Config) -> NSGA2:
    """NSGA-II with the cell operators: connected sampling, edge crossover and mutation, isomorphism-aware duplicates."""
    sc = config.search
    return NSGA2(pop_size=sc.pop_size, n_offsprings=sc.n_offsprings, sampling=CellSampling(),
                 crossover=EdgeCrossover(prob=sc.crossover_prob), mutation=EdgeMutation(edge_prob=sc.mutation_prob),
                 eliminate_duplicates=CanonicalDuplicateElimination())


def run_search(config: Config, run: RunDir, *, resume: bool = False, spec: ScorerSpec | None = None) -> SearchResult:
    """Run (or continue) the search described by ``config`` in ``run``; ``spec``: the config's scorer spec
    when the caller has made it already (``ScorerSpec.from_config(config)``), else it is made here."""
    t0 = time.perf_counter()
    spec = ScorerSpec.from_config(config) if spec is None else spec
    if spec.dataset.custom:  # what the user's images were read as: classes, counts, resolution, splits
        log.info(spec.dataset.summary())
    resumed, proposed = CandidateLog.load(run.file(CANDIDATES), spec.scores) if resume else ({}, {})
    if resumed:
        log.info(f"resuming {run.path}: {len(resumed)} cells already scored are read back, not rescored")
    candidates = CandidateLog(run.file(CANDIDATES), spec.scores)
    rc = config.ray
    try:
        with make_pool(spec, rc, busy=config.search.most_in_flight) as pool:
            placed = f" ({pool.plan.describe()})" if hasattr(pool, "plan") else ""
            log.info(f"scoring {list(spec.scores)} on {config.dataset} with {pool.num_workers} "
                     f"{rc.backend} worker(s){placed}; objectives "
                     + ", ".join(f"{o.direction} {o.score}" for o in config.objectives))
            caches = open_caches(config.cache.dir, spec, pool.device_for)
            evaluator = Evaluator(pool, spec.scores, log=candidates, resumed=resumed, caches=caches,
                                  proposed=proposed)
            progress = Progress(config, run, evaluator, pool)
            if config.search.mode == "async":
                evolve_async(config, evaluator, progress)
            else:
                minimize(NB201Problem(config.objectives, evaluator), make_algorithm(config),
                         ("n_gen", config.search.n_gen), seed=config.seed, callback=progress, verbose=False,
                         copy_algorithm=False)
            evaluator.adopt_resumed()
            remeasured = remeasure_front(config, evaluator, pool)
            busy = progress.utilisation()
    finally:
        candidates.close()
    rows = benchmark_columns(front_rows(config, list(evaluator.memo.values()), remeasured, evaluator.proposed),
                             config)
    columns = list(rows[0]) if rows else ["id", "arch", "index", "canonical", "proposed", "dead_edges", *spec.scores]
    run.write_pareto(rows, columns)
    failed = evaluator.n_failed
    wall = time.perf_counter() - t0
    run.write_state(status="finished", n_evaluated=len(evaluator.memo), n_failed=failed, wall_time_s=round(wall, 2),
                    **({"utilisation": round(busy, 3)} if busy is not None else {}))
    log.info(f"done in {fmt_duration(wall)}: {len(evaluator.memo)} cells scored ({failed} failed), "
             f"front of {len(rows)} written to {run.file(PARETO)}")
    return SearchResult(run, rows, evaluator.n_scored, evaluator.n_reused, wall)

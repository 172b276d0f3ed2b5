"""The search: NSGA-II over cell encodings, scored through the pool, written to a run directory.

Resume is a deterministic replay: the same seed drives pymoo through the same generations,
and every cell already in candidates.csv is answered from it instead of being rescored, so
an interrupted run continues where it stopped and ends with the front an uninterrupted run
would have found.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.core.callback import Callback
from pymoo.optimize import minimize

from evonas.engine.cache import ScoreCache, cache_key
from evonas.config.schema import Config
from evonas.engine.evaluator import Evaluator
from evonas.search.fronts import non_dominated, rank_front
from evonas.engine.pool import Evaluation, ScorerSpec, make_pool
from evonas.scores.latency import EXCLUSIVE_SCORES
from evonas.run.rundir import CANDIDATES, LOG, CandidateLog, RunDir
from evonas.analysis.views import benchmark_columns
from evonas.space.cell import Cell
from evonas.space.table import load_table
from operators import CanonicalDuplicateElimination, CellSampling, EdgeCrossover, EdgeMutation
from problems import NB201Problem, to_minimised

__all__ = ["run_search", "make_algorithm", "SearchResult", "scorer_spec", "front_rows"]

log = logging.getLogger("evonas")


@dataclass(frozen=True)
class SearchResult:
    run: RunDir
    front: list[dict[str, Any]]
    n_scored: int
    n_reused: int
    wall_time_s: float


def scorer_spec(config: Config, scores: tuple[str, ...] | None = None) -> ScorerSpec:
    names = scores or config.score_names
    return ScorerSpec(scores=names, settings={k: v for k, v in config.scores.items() if k in names},
                      dataset=config.dataset, data_root=config.data.root, n_images=config.data.n_images,
                      seed=config.seed, C=config.network.C, N=config.network.N, device=config.device)


def open_caches(config: Config, spec: ScorerSpec, device_kind: str | Callable[[str], str]) -> dict[str, ScoreCache]:
    """One cache per score under ``cache.dir`` (none when it is null), keyed by the device that
    computes the score (``device_kind``: one name, or a pool's ``device_for``)."""
    if config.cache.dir is None:
        return {}
    settings = spec.validate()
    device = device_kind if callable(device_kind) else (lambda name: device_kind)
    return {name: ScoreCache(config.cache.dir, cache_key(
        name, dataclasses.asdict(settings[name]), seed=spec.seed, dataset=spec.dataset,
        data_root=spec.data_root, C=spec.C, N=spec.N, device_kind=device(name))) for name in spec.scores}


def _fmt_eta(seconds: float) -> str:
    if not np.isfinite(seconds):
        return "?"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


class Progress(Callback):
    """One line per generation: evaluations, values from the cache, failed cells, front size, rate, ETA;
    state.json updated."""

    def __init__(self, config: Config, run: RunDir, evaluator: Evaluator) -> None:
        super().__init__()
        self.config, self.run, self.evaluator = config, run, evaluator
        self.t0 = time.perf_counter()

    def notify(self, algorithm: Any) -> None:
        gen, n_gen = algorithm.n_gen, self.config.search.n_gen
        self.evaluator.generation = gen  # offspring scored from now on belong to the next generation
        ok = [ev for ev in self.evaluator.memo.values() if ev.ok]
        F = np.array([to_minimised(ev.values, self.config.objectives) for ev in ok]).reshape(len(ok), -1)
        front = len(non_dominated(F))
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / gen * (n_gen - gen) if gen else float("nan")
        best = {o.score: (max if o.direction == "max" else min)(ev.values[o.score] for ev in ok)
                for o in self.config.objectives} if ok else {}
        best_txt = " ".join(f"{k}={v:.4g}" for k, v in best.items())
        ev = self.evaluator
        log.info(f"gen {gen:3d}/{n_gen} | evals {algorithm.evaluator.n_eval:5d} | scored {ev.n_scored:5d}"
                 f" ({ev.n_cache_values} values from cache, {ev.n_reused} reused) | failed {ev.n_failed} |"
                 f" front {front:3d} | {ev.rate():5.2f} archs/s | best {best_txt} | ETA {_fmt_eta(eta)}")
        self.run.write_state(generation=gen, n_evaluated=len(self.evaluator.memo))


#: measured (noisy) scores whose front values are re-measured at the end of a search: those timing the device
NOISY_SCORES = tuple(sorted(EXCLUSIVE_SCORES))
REMEASURE_REPEATS = 2
MAX_REMEASURE_ROUNDS = 5


def remeasure_front(config: Config, evaluator: Evaluator, pool: Any) -> dict[str, dict[str, float]]:
    """Re-measure noisy objectives of the front's members until the front holds only re-measured ones.

    A member's value becomes the median of its first measurement and ``REMEASURE_REPEATS`` new
    ones, so one lucky measurement cannot put a cell on the front. Returns, by canonical form,
    each re-measured score's first value.
    """
    noisy = tuple(o.score for o in config.objectives if o.score in NOISY_SCORES)
    first: dict[str, dict[str, float]] = {}
    if not noisy:
        return first
    for _ in range(MAX_REMEASURE_ROUNDS):
        ok = {k: ev for k, ev in evaluator.memo.items() if ev.ok}
        keys = list(ok)
        F = np.array([to_minimised(ok[k].values, config.objectives) for k in keys])
        todo = [keys[i] for i in non_dominated(F) if keys[i] not in first]
        if not todo:
            break
        samples: dict[str, list[float]] = {k: [] for k in todo}
        cells = [Cell.from_string(ok[k].arch) for k in todo]
        for _ in range(REMEASURE_REPEATS):
            for ev in pool.map_exclusive(cells, {c.arch: noisy for c in cells}):  # the device to itself
                if ev.ok:
                    samples[Cell.from_string(ev.arch).canonical].append(ev.values)
        for k in todo:
            ev = ok[k]
            first[k] = {s: ev.values[s] for s in noisy}
            for s in noisy:
                ev.values[s] = float(np.median([ev.values[s]] + [v[s] for v in samples[k]]))
        log.info(f"re-measured {', '.join(noisy)} of {len(todo)} front member(s)")
    return first


def front_rows(config: Config, evaluations: list[Evaluation],
               remeasured: dict[str, dict[str, float]] | None = None,
               proposed: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The non-dominated set of the successful evaluations, ranked, with ids and table columns.

    ``arch``/``index`` name the evaluated (reduced) cell; ``proposed`` the cell the search asked
    for (by canonical form), ``dead_edges`` the dead edges the reported cell cannot lose.
    """
    ok = [ev for ev in evaluations if ev.ok]
    if not ok:
        return []
    F = np.array([to_minimised(ev.values, config.objectives) for ev in ok])
    order = rank_front(F, non_dominated(F))
    table = load_table()
    rows = []
    for rank, i in enumerate(order):
        ev = ok[i]
        cell = Cell.from_string(ev.arch)
        row: dict[str, Any] = {"id": rank, "arch": ev.arch, "index": ev.index, "canonical": cell.canonical,
                               "proposed": (proposed or {}).get(cell.canonical, ev.arch),
                               "dead_edges": cell.describe_edges(cell.dead_edges)}
        row.update(ev.values)
        if remeasured is not None and any(o.score in NOISY_SCORES for o in config.objectives):
            row["remeasured"] = cell.canonical in remeasured
            row.update({f"{s}_first": v for s, v in remeasured.get(cell.canonical, {}).items()})
        row.update(table.row(ev.index))
        rows.append(row)
    return rows


def setup_logging(run: RunDir, quiet: bool = False) -> None:
    log.setLevel(logging.INFO)
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()
    fmt = logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S")
    file_handler = logging.FileHandler(run.file(LOG))
    file_handler.setFormatter(fmt)
    log.addHandler(file_handler)
    if not quiet:
        stream = logging.StreamHandler()
        stream.setFormatter(fmt)
        log.addHandler(stream)
    log.propagate = False


def make_algorithm(config: Config) -> NSGA2:
    """NSGA-II with the cell operators: connected sampling, edge crossover and mutation, isomorphism-aware duplicates."""
    sc = config.search
    return NSGA2(pop_size=sc.pop_size, n_offsprings=sc.n_offsprings, sampling=CellSampling(),
                 crossover=EdgeCrossover(prob=sc.crossover_prob), mutation=EdgeMutation(edge_prob=sc.mutation_prob),
                 eliminate_duplicates=CanonicalDuplicateElimination())


def run_search(config: Config, run: RunDir, *, resume: bool = False) -> SearchResult:
    """Run (or continue) the search described by ``config`` in ``run``."""
    t0 = time.perf_counter()
    spec = scorer_spec(config)
    spec.validate()
    resumed, proposed = CandidateLog.load(run.file(CANDIDATES), spec.scores) if resume else ({}, {})
    if resumed:
        log.info(f"resuming {run.path}: {len(resumed)} cells already scored are read back, not rescored")
    candidates = CandidateLog(run.file(CANDIDATES), spec.scores)
    rc = config.ray
    try:
        with make_pool(spec, backend=rc.backend, num_actors=rc.num_actors, address=rc.address,
                       max_retries=rc.max_retries, actors_per_gpu=rc.actors_per_gpu, cpu_actors=rc.cpu_actors,
                       connect_timeout_s=rc.connect_timeout_s, task_timeout_s=rc.task_timeout_s,
                       start_timeout_s=rc.start_timeout_s) as pool:
            placed = f" ({pool.plan.describe()})" if hasattr(pool, "plan") else ""
            log.info(f"scoring {list(spec.scores)} on {config.dataset} with {pool.num_workers} "
                     f"{rc.backend} worker(s){placed}; objectives "
                     + ", ".join(f"{o.direction} {o.score}" for o in config.objectives))
            caches = open_caches(config, spec, pool.device_for)
            evaluator = Evaluator(pool, spec.scores, log=candidates, resumed=resumed, caches=caches,
                                  proposed=proposed)
            problem = NB201Problem(config.objectives, evaluator)
            minimize(problem, make_algorithm(config), ("n_gen", config.search.n_gen), seed=config.seed,
                     callback=Progress(config, run, evaluator), verbose=False, copy_algorithm=False)
            evaluator.adopt_resumed()
            remeasured = remeasure_front(config, evaluator, pool)
    finally:
        candidates.close()
    rows = benchmark_columns(front_rows(config, list(evaluator.memo.values()), remeasured, evaluator.proposed),
                             config)
    columns = list(rows[0]) if rows else ["id", "arch", "index", "canonical", "proposed", "dead_edges", *spec.scores]
    run.write_pareto(rows, columns)
    failed = sum(not ev.ok for ev in evaluator.memo.values())
    wall = time.perf_counter() - t0
    run.write_state(status="finished", n_evaluated=len(evaluator.memo), n_failed=failed, wall_time_s=round(wall, 2))
    log.info(f"done in {_fmt_eta(wall)}: {len(evaluator.memo)} cells scored ({failed} failed), "
             f"front of {len(rows)} written to {run.file('pareto.csv')}")
    return SearchResult(run, rows, evaluator.n_scored, evaluator.n_reused, wall)

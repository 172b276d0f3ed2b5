"""The searches of a setting: the product's NSGA-II (or uniform sampling) over one pool, up to a budget of cells."""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

import numpy as np
from pymoo.core.termination import Termination
from pymoo.optimize import minimize

from benchmarks.quality.settings import resolve_setting
from evonas.config.schema import Config
from evonas.engine.cache import open_caches
from evonas.engine.evaluator import Evaluator
from evonas.engine.pool import make_pool
from evonas.engine.records import Evaluation, ScorerSpec
from evonas.search.nsga2 import make_algorithm
from evonas.space.cell import Cell
from evonas.space.table import sample_connected
from problems import NB201Problem, to_minimised


@dataclass
class RunRecord:
    """One search: the cells scored in order (NB201 indices) and their search objectives (minimised)."""

    setting: str
    seed: int
    indices: list[int]
    search_F: list[list[float]]
    computed: int
    from_cache: int
    wall_s: float


class EvaluationBudget(Termination):
    """Stop once ``count()`` (distinct cells scored) reaches ``budget``, or after ``max_gen`` generations.

    ``count`` is a function so that pymoo's deep copy of the termination leaves the evaluator alone.
    """

    def __init__(self, count: Callable[[], int], budget: int, max_gen: int) -> None:
        super().__init__()
        self.count, self.budget, self.max_gen = count, budget, max_gen

    def _update(self, algorithm: Any) -> float:
        return max(self.count() / self.budget, (algorithm.n_gen or 0) / self.max_gen)


def max_generations(budget: int, pop_size: int) -> int:
    """A cap on generations: a search that keeps proposing cells it has already scored stops here."""
    return 5 * budget // pop_size + 50


def random_cells(budget: int, seed: int) -> list[Cell]:
    """``budget`` connected cells, one per isomorphism class, in a seeded random order.

    The first cell of each class in ``sample_connected("all", seed)``'s order.
    """
    seen: set[str] = set()
    out: list[Cell] = []
    for cell in sample_connected("all", seed):
        if cell.canonical not in seen:
            seen.add(cell.canonical)
            out.append(cell)
            if len(out) == budget:
                break
    return out


def _search(evaluator: Evaluator, config: Config, random: bool, seed: int, budget: int,
            generations: int | None) -> None:
    """One seed's search through ``evaluator``: NSGA-II, or ``budget`` sampled cells in batches of the population."""
    if random:
        cells = random_cells(budget, seed)
        for start in range(0, len(cells), config.search.pop_size):
            evaluator(cells[start:start + config.search.pop_size])
        return
    problem = NB201Problem(config.objectives, evaluator)
    stop = EvaluationBudget(lambda: len(evaluator.memo), budget,
                            generations or max_generations(budget, config.search.pop_size))
    minimize(problem, make_algorithm(config), stop, seed=seed, verbose=False, copy_algorithm=False)


def run_setting(name: str, config: Config, seeds: Sequence[int], budget: int,
                on_result: Callable[[Evaluation], None], generations: int | None = None) -> list[RunRecord]:
    """Every seed of one setting through one pool; records truncated to ``budget`` cells.

    NSGA-II stops at ``budget`` distinct cells or after ``generations`` generations (default: a
    cap, ``max_generations``); random sampling takes ``budget`` cells.
    """
    setting, spec = resolve_setting(name), ScorerSpec.from_config(config)
    records = []
    with make_pool(spec, replace(config.ray, cpu_actors=0)) as pool:  # one kind of actor: caches by device_kind
        caches = open_caches(config.cache.dir, spec, pool.device_kind)
        for seed in seeds:
            t0 = time.perf_counter()
            evaluator = Evaluator(pool, spec.scores, caches=caches, on_result=on_result)
            _search(evaluator, config, setting.random, seed, budget, generations)
            evs = list(evaluator.memo.values())[:budget]
            F = [to_minimised(ev.values, config.objectives) if ev.ok else [np.inf] * len(config.objectives)
                 for ev in evs]
            records.append(RunRecord(name, seed, [ev.index for ev in evs], F, evaluator.n_scored - evaluator.n_cached,
                                     evaluator.n_cached, time.perf_counter() - t0))
            print(f"  {name} seed {seed}: {len(evs)} cells, {records[-1].computed} computed, "
                  f"{records[-1].from_cache} from cache, {records[-1].wall_s:.0f} s", flush=True)
    return records

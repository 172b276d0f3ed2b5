"""Steady-state NSGA-II: asked for cells as workers free up, told each result as it arrives.

Generational NSGA-II hands out a population and waits for its slowest cell: on a cluster most
workers idle at the barrier. ``SteadyState`` has no barrier. ``ask`` breeds new cells from the
current population (binary tournament on rank and crowding, ``EdgeCrossover``, ``EdgeMutation``:
pymoo's operators); ``tell`` adds the cells scored since the last call and lets pymoo's
rank-and-crowding survival cut the population back to ``pop_size`` at once, so the next ``ask``
already breeds from them. A cell is
never asked twice up to isomorphism: the canonical form of every cell told or still in flight is
kept. Until ``pop_size`` cells have been asked, ``ask`` returns the initial random sample
(``CellSampling``), as the generational search does.

``evolve_async`` drives it through a pool: it keeps every worker busy (a few cells more than there
are workers are in flight), tells each result the moment it arrives, and stops at the budget
(``search.max_evals``). Results arrive in completion order, which depends on the workers' timing:
the same seed gives the same run only when the results come back in the same order (the
generational mode replays exactly; this one does not). A resumed run tells the population every
cell candidates.csv holds, in its order, and goes on to the budget: nothing is scored twice.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Sequence

import numpy as np
from pymoo.algorithms.moo.nsga2 import RankAndCrowding, binary_tournament
from pymoo.core.population import Population
from pymoo.core.problem import Problem
from pymoo.operators.selection.tournament import TournamentSelection

from evonas.errors import EvonasError
from evonas.space.cell import Cell
from operators import CellSampling, EdgeCrossover, EdgeMutation
from problems import NB201Problem, objectives_of

if TYPE_CHECKING:
    from evonas.config.schema import Config
    from evonas.engine.evaluator import Evaluator
    from evonas.search.progress import Progress

__all__ = ["SteadyState", "evolve_async", "in_flight_for"]

#: offspring bred per ask before a random connected cell is drawn instead (all were duplicates)
_MAX_BREED_TRIES = 50


class SteadyState:
    """An asynchronous NSGA-II population: ``ask`` for cells, ``tell`` their objectives (minimised) as they come."""

    def __init__(self, problem: Problem, *, pop_size: int, seed: int = 0, crossover_prob: float = 0.9,
                 mutation_prob: float | None = None) -> None:
        self.problem = problem
        self.pop_size = pop_size
        self.rng = np.random.default_rng(seed)
        self.survival = RankAndCrowding()
        self.selection = TournamentSelection(func_comp=binary_tournament)
        self.crossover = EdgeCrossover(prob=crossover_prob)
        self.mutation = EdgeMutation(edge_prob=mutation_prob)
        self._algorithm = SimpleNamespace(tournament_type="comp_by_dom_and_crowding", random_state=self.rng)
        initial = CellSampling().do(problem, pop_size, random_state=self.rng).get("X")
        self._queue: list[Cell] = [Cell(tuple(int(v) for v in x)) for x in initial]
        self.pop = Population.empty()
        self.seen: set[str] = set()        # canonical forms asked (in flight or told)
        self.n_told = 0

    def ask(self, n: int = 1) -> list[Cell]:
        """``n`` connected cells, none isomorphic to any asked before: the initial sample's next, then cells bred
        from the current population (one tournament, crossover and mutation for all of them)."""
        out: list[Cell] = []
        while self._queue and len(out) < n:
            self._take(self._queue.pop(0), out)
        for _ in range(_MAX_BREED_TRIES):
            if len(out) >= n:
                break
            for cell in self._breed(n - len(out)):
                if len(out) < n and cell.is_connected:
                    self._take(cell, out)
        while len(out) < n:
            out.append(self._random_unseen())
        return out

    def _take(self, cell: Cell, out: list[Cell]) -> None:
        if cell.canonical not in self.seen:
            self.seen.add(cell.canonical)
            out.append(cell)

    def tell(self, scored: Sequence[tuple[Cell, Sequence[float], float]]) -> None:
        """Add scored cells, each ``(cell, F, G)`` (``F`` minimised; ``G > 0``: failed, ranked below every scored
        cell), and cut the population back to ``pop_size`` by rank and crowding, once for all of them."""
        if not scored:
            return
        self.seen.update(cell.canonical for cell, _, _ in scored)
        new = Population.new("X", np.asarray([cell.ops for cell, _, _ in scored], dtype=int),
                             "F", np.asarray([F for _, F, _ in scored], dtype=float),
                             "G", np.asarray([[G] for _, _, G in scored], dtype=float))
        merged = Population.merge(self.pop, new)
        self.pop = self.survival.do(self.problem, merged, n_survive=min(self.pop_size, len(merged)),
                                    random_state=self.rng)
        self.n_told += len(scored)

    def forget(self, cell: Cell) -> None:
        """A cell asked but never scored (the run stopped): it may be asked again."""
        self.seen.discard(cell.canonical)

    def _breed(self, n: int) -> list[Cell]:
        """About ``n`` children, two per pair of parents chosen by binary tournament (random cells while fewer
        than 2 are told)."""
        if len(self.pop) < 2:
            return [self._random_unseen()]
        parents = self.selection.do(self.problem, self.pop, -(-n // 2), 2, to_pop=False,
                                    algorithm=self._algorithm, random_state=self.rng)
        off = self.crossover.do(self.problem, self.pop, parents, random_state=self.rng)
        off = self.mutation.do(self.problem, off, random_state=self.rng)
        return [Cell(tuple(int(v) for v in x)) for x in off.get("X")]

    def _random_unseen(self) -> Cell:
        for _ in range(100_000):
            cell = Cell(tuple(int(v) for v in self.rng.integers(0, 5, size=6)))
            if cell.is_connected and cell.canonical not in self.seen:
                self.seen.add(cell.canonical)
                return cell
        raise EvonasError(f"every connected cell class has been asked ({len(self.seen)}); lower search.max_evals")


def in_flight_for(workers: int) -> int:
    """Cells kept in flight for ``workers`` workers: one each and an eighth more, so a worker that frees up
    finds its next cell queued while the driver breeds (fewer would idle it, many more would breed from a
    staler population)."""
    return workers + max(1, workers // 8)


def evolve_async(config: "Config", evaluator: "Evaluator", progress: "Progress | None" = None) -> SteadyState:
    """The asynchronous search: ``search.budget`` cells scored through ``evaluator`` (its pool), each result told
    to a steady-state NSGA-II population the moment it arrives; a line of progress every
    ``search.n_offsprings`` results (``search.pop_size`` when null). Returns the final population."""
    sc = config.search
    problem = NB201Problem(config.objectives, evaluator)
    steady = SteadyState(problem, pop_size=sc.pop_size, seed=config.seed, crossover_prob=sc.crossover_prob,
                         mutation_prob=sc.mutation_prob)
    budget, every = sc.budget, sc.n_offsprings or sc.pop_size
    resumed = [(Cell.from_string(evaluator.proposed.get(key) or ev.arch), ev) for key, ev in evaluator.resumed.items()]
    steady.tell([(cell, *objectives_of(evaluator.submit(cell), config.objectives)) for cell, _ in resumed])
    flying: dict[str, Cell] = {}  # canonical form -> the cell the search asked for
    asked = told = steady.n_told
    workers = getattr(evaluator.pool, "num_workers", 1)

    def tell(pairs: list[tuple[Cell, object]]) -> None:
        nonlocal told
        steady.tell([(cell, *objectives_of(ev, config.objectives)) for cell, ev in pairs])
        for _ in pairs:  # a line of progress each time the count passes a multiple of ``every``
            told += 1
            evaluator.generation = told // every
            if progress is not None and (told % every == 0 or told == budget):
                progress.report(f"evals {told:5d}/{budget}", told / budget, generation=evaluator.generation)

    while told < budget:
        want = min(in_flight_for(workers) - len(flying), budget - asked)
        answered = []
        for cell in steady.ask(want) if want > 0 else []:
            asked += 1
            ev = evaluator.submit(cell)
            if ev is None:
                flying[cell.canonical] = cell
            else:
                answered.append((cell, ev))
        tell(answered)
        if not flying:
            if answered:
                continue
            break
        tell([(flying.pop(Cell.from_string(ev.arch).canonical), ev) for ev in evaluator.collect()])
        workers = getattr(evaluator.pool, "num_workers", workers) or workers
    return steady

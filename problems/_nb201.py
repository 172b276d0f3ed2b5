"""The NB201 search as a pymoo Problem: integer cell encodings -> minimised objectives.

Disconnected cells (no path from input to output: the network outputs a constant) are
*penalised*, not repaired: they are never scored, they get the worst objective values and
violate the one inequality constraint ``G = 1 > 0``, so NSGA-II's constraint domination
ranks every connected cell above them. A cell whose scoring failed, or whose values are
not all finite (a NaN is never dominated and would reach the front), is treated the same way.
"""
from __future__ import annotations

from typing import Callable, Protocol, Sequence

import numpy as np
from pymoo.core.problem import Problem

from evonas.scores.registry import minimise_sign
from evonas.space.cell import N_EDGES, N_OPS, Cell

__all__ = ["NB201Problem", "Objective", "WORST", "objectives_of", "to_minimised"]

#: the objective value given to disconnected and failed cells (finite, so crowding stays defined)
WORST = 1e30


class Objective(Protocol):
    score: str
    direction: str  # "max" | "min"


class ScoredLike(Protocol):
    values: dict[str, float]

    @property
    def ok(self) -> bool: ...


def to_minimised(values: dict[str, float], objectives: Sequence[Objective]) -> list[float]:
    """Objective values as pymoo minimises them (maximised scores negated)."""
    return [minimise_sign(o.direction) * values[o.score] for o in objectives]


def objectives_of(result: ScoredLike | None, objectives: Sequence[Objective]) -> tuple[list[float], float]:
    """A scored cell's minimised objectives ``F`` and its constraint ``G`` (0: feasible); a cell not scored,
    failed, or with a value that is not finite gets the worst values and ``G = 1``."""
    if result is not None and result.ok:
        f = to_minimised(result.values, objectives)
        if np.all(np.isfinite(f)):
            return f, 0.0
    return [WORST] * len(objectives), 1.0


class NB201Problem(Problem):
    """Vectorised over the population; ``evaluate`` scores a list of cells (None = not scored)."""

    def __init__(self, objectives: Sequence[Objective],
                 evaluate: Callable[[list[Cell]], list[ScoredLike | None]]) -> None:
        super().__init__(n_var=N_EDGES, n_obj=len(objectives), n_ieq_constr=1, xl=0, xu=N_OPS - 1, vtype=int)
        self.objectives = tuple(objectives)
        self.evaluate_cells = evaluate

    def _evaluate(self, X, out, *args, **kwargs):
        cells = [Cell(tuple(int(v) for v in x)) for x in np.asarray(X)]
        scored = self.evaluate_cells(cells)
        rows = [objectives_of(result, self.objectives) for result in scored]
        out["F"] = np.array([f for f, _ in rows], dtype=float).reshape(len(cells), self.n_obj)
        out["G"] = np.array([[g] for _, g in rows], dtype=float).reshape(len(cells), 1)

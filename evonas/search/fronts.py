"""Non-dominated sets (pymoo's sorting) and ranking of a front."""
from __future__ import annotations

import numpy as np
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

__all__ = ["non_dominated", "rank_front"]


def non_dominated(F: np.ndarray) -> np.ndarray:
    """Indices of the rows of ``F`` (minimised) that no other row dominates; duplicates kept once."""
    F = np.asarray(F, dtype=float)
    if len(F) == 0:
        return np.zeros(0, dtype=int)
    _, first = np.unique(F, axis=0, return_index=True)
    first = np.sort(first)
    front = NonDominatedSorting().do(F[first], only_non_dominated_front=True)
    return np.sort(first[np.asarray(front, dtype=int)])


def rank_front(F: np.ndarray, front: np.ndarray) -> np.ndarray:
    """``front`` ordered best-first by the first objective, ties broken by the next ones."""
    keys = tuple(F[front, j] for j in reversed(range(F.shape[1])))
    return front[np.lexsort(keys)]

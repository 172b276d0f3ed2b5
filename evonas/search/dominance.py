"""Non-dominated sets (the one filter, on pymoo's sorting), non-dominated layers, NSGA-II's best k (rank and
crowding), and ranking of a front.

Every objective is minimised here: a caller flips the sign of a maximised one first.
"""
from __future__ import annotations

import numpy as np
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

__all__ = ["non_dominated", "non_dominated_layers", "best_k", "rank_front"]


def non_dominated(F: np.ndarray, eligible: np.ndarray | None = None) -> np.ndarray:
    """Indices of the rows of ``F`` that no other row dominates; duplicates kept once (the first).

    ``eligible`` (a boolean mask over the rows) limits both the candidates and the rows
    that may dominate them; the indices returned are into ``F``, ascending.
    """
    F = np.asarray(F, dtype=float)
    rows = np.arange(len(F)) if eligible is None else np.flatnonzero(eligible)
    if len(rows) == 0:
        return np.zeros(0, dtype=int)
    _, first = np.unique(F[rows], axis=0, return_index=True)
    first = np.sort(first)
    front = NonDominatedSorting().do(F[rows][first], only_non_dominated_front=True)
    return rows[np.sort(first[np.asarray(front, dtype=int)])]


def non_dominated_layers(F: np.ndarray, stop_at: int | None = None) -> list[np.ndarray]:
    """The rows of ``F`` in non-dominated layers (the front, the front of the rest, ...), duplicates kept.

    With ``stop_at``, layers stop once they hold at least that many rows (pymoo's ``n_stop_if_ranked``).
    """
    F = np.asarray(F, dtype=float)
    if len(F) == 0:
        return []
    layers = NonDominatedSorting().do(F, n_stop_if_ranked=stop_at)
    return [np.asarray(layer, dtype=int) for layer in layers]


def best_k(F: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` rows of ``F`` (minimised) that NSGA-II's survival keeps, best first.

    Whole non-dominated layers in order (the front, then the front of the rest, ...); the layer
    that does not fit is cut by crowding distance, largest first (pymoo's rank-and-crowding
    survival). Rows with a non-finite value are never chosen; fewer than ``k`` if fewer are finite.
    """
    from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance  # imports scipy

    F = np.asarray(F, dtype=float)
    rows = np.flatnonzero(np.isfinite(F).all(axis=1)) if len(F) else np.zeros(0, dtype=int)
    if k <= 0 or len(rows) == 0:
        return np.zeros(0, dtype=int)
    chosen: list[int] = []
    for layer in non_dominated_layers(F[rows], stop_at=k):
        if len(chosen) + len(layer) > k:
            crowding = calc_crowding_distance(F[rows][layer])
            layer = layer[np.argsort(-crowding, kind="stable")[: k - len(chosen)]]
        chosen.extend(rows[layer].tolist())
        if len(chosen) >= k:
            break
    return np.asarray(chosen, dtype=int)


def rank_front(F: np.ndarray, front: np.ndarray) -> np.ndarray:
    """``front`` ordered best-first by the first objective, ties broken by the next ones."""
    keys = tuple(F[front, j] for j in reversed(range(F.shape[1])))
    return front[np.lexsort(keys)]

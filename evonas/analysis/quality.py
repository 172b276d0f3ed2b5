"""Search quality against the true NB201 front: true objectives, scaling, HV ratio, IGD, IGD+.

Two measures of a score on a sample of cells predict how well a search over (score, FLOPs) does:
``within_bin_tau`` (its ranking among cells of similar cost) and ``score_front_hv_ratio`` (the
front it returns on the sample when paired with FLOPs, judged on true objectives).

Objectives are minimised: (200-epoch test error in %, MFLOPs). Every indicator is computed
after scaling both objectives to [0, 1] by the true front's ideal (best value of each) and
nadir (worst value of each over the front); the hypervolume reference point is 1.1 in each
scaled objective, and the HV ratio is HV(found) / HV(true front), 1 for the true front itself.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pymoo.indicators.hv import HV
from pymoo.indicators.igd import IGD
from pymoo.indicators.igd_plus import IGDPlus

from evonas.scores.registry import minimise_sign
from evonas.errors import DataError
from evonas.search.dominance import best_k, non_dominated
from evonas.search.shortlist import band_shortlist, level_shortlist, rank_sum
from evonas.space.table import BenchmarkTable, load_table
from evonas.datasets import DATASETS, dataset_spec

__all__ = ["Scaling", "true_objectives", "connected_mask", "scaling", "hv_ratio", "indicators", "prefix_front",
           "true_front_points", "within_bin_tau", "score_front_hv_ratio", "best_k", "shortlist", "trained_front", "SHORTLIST_RULES", "REF_POINT"]

#: the training stage's shortlist rules: NSGA-II's rank and crowding; the best cell of each
#: equal-count cost band over every scored cell, or over the returned front only; the cost levels
#: taken round robin over every scored cell, or over the returned front only
SHORTLIST_RULES = ("front", "bands", "bands-front", "levels", "levels-front")

#: hypervolume reference point in each scaled objective
REF_POINT = 1.1


@dataclass(frozen=True)
class Scaling:
    """Affine map sending ``ideal`` to 0 and ``nadir`` to 1 in every objective."""

    ideal: np.ndarray
    nadir: np.ndarray

    def __call__(self, F: np.ndarray) -> np.ndarray:
        F = np.atleast_2d(np.asarray(F, dtype=float))
        span = np.where(self.nadir > self.ideal, self.nadir - self.ideal, 1.0)
        return (F - self.ideal) / span


def true_objectives(dataset: str, table: BenchmarkTable | None = None) -> np.ndarray:
    """(15625, 2) array of (200-epoch test error %, MFLOPs) in NB201 index order."""
    table = table or load_table()
    if dataset not in DATASETS:
        raise DataError(f"unknown dataset {dataset!r}; choose from {sorted(DATASETS)}")
    flops = f"flops_{dataset}"
    if flops not in table.columns:
        raise DataError(f"the table has no {flops!r} column: evonas/data/nb201_cost.npz is missing; "
                        f"build it with `python -m evonas.builders.cost`")
    return np.stack([100.0 - table.column(dataset_spec(dataset).test_column), table.column(flops)], axis=1)


def connected_mask(table: BenchmarkTable | None = None) -> np.ndarray:
    """True for the cells a search can return (output reachable from the input)."""
    table = table or load_table()
    return np.array([table.cell(i).is_connected for i in range(len(table.ops))])


def scaling(front: np.ndarray) -> Scaling:
    """The scaling by a front's ideal and nadir points."""
    front = np.atleast_2d(np.asarray(front, dtype=float))
    if len(front) == 0:
        raise DataError("cannot scale by an empty front")
    return Scaling(front.min(axis=0), front.max(axis=0))


def hv_ratio(F: np.ndarray, front: np.ndarray) -> float:
    """HV(F) / HV(front), both scaled by ``front``'s ideal and nadir, reference point 1.1."""
    scale = scaling(front)
    hv = HV(ref_point=np.full(np.shape(front)[1], REF_POINT))
    found = scale(F) if len(F) else np.empty((0, np.shape(front)[1]))
    return float(hv(found) / hv(scale(front))) if len(found) else 0.0


def indicators(F: np.ndarray, front: np.ndarray) -> dict[str, float]:
    """HV ratio, IGD and IGD+ of the points ``F`` against the true ``front`` (same scaling)."""
    if len(F) == 0:
        return {"hv_ratio": 0.0, "igd": float("inf"), "igd_plus": float("inf")}
    scale = scaling(front)
    pf, found = scale(front), scale(F)
    return {"hv_ratio": hv_ratio(F, front), "igd": float(IGD(pf)(found)), "igd_plus": float(IGDPlus(pf)(found))}


def prefix_front(F: np.ndarray, n: int) -> np.ndarray:
    """Indices of the non-dominated rows among the first ``n`` rows of ``F`` (finite rows only)."""
    F = np.asarray(F, dtype=float)[:n]
    return non_dominated(F, np.isfinite(F).all(axis=1))


def true_front_points(dataset: str, table: BenchmarkTable | None = None) -> np.ndarray:
    """(test error %, MFLOPs) of the true NB201 front on ``dataset`` (connected cells only)."""
    table = table or load_table()
    T = true_objectives(dataset, table)
    return T[non_dominated(T, connected_mask(table))]


def _finite(*columns: np.ndarray) -> tuple[np.ndarray, ...]:
    arrays = [np.asarray(c, dtype=float) for c in columns]
    if len({len(a) for a in arrays}) != 1:
        raise DataError(f"columns of different lengths {[len(a) for a in arrays]}")
    keep = np.logical_and.reduce([np.isfinite(a) for a in arrays])
    return tuple(a[keep] for a in arrays)


def within_bin_tau(score: np.ndarray, accuracy: np.ndarray, cost: np.ndarray, n_bins: int = 5) -> float:
    """Kendall tau-b of ``score`` with ``accuracy`` inside equal-count bins of ``cost``, mean weighted by bin size.

    Rows with a non-finite value are dropped first. Bins follow the average rank of ``cost``, so
    cells of equal cost share a bin (bins hold ``n / n_bins`` cells up to ties). A bin where either
    column is constant has no tau and is left out of the mean; nan if no bin has one. The sign is
    raw: a ``min`` score that ranks well has a negative value.
    """
    if n_bins < 1:
        raise DataError(f"n_bins must be >= 1, got {n_bins}")
    from scipy.stats import kendalltau, rankdata  # scipy: a benchmark-only dependency

    x, y, c = _finite(score, accuracy, cost)
    if len(x) == 0:
        return float("nan")
    bins = np.minimum(((rankdata(c) - 1) * n_bins / len(c)).astype(int), n_bins - 1)
    taus, sizes = [], []
    for b in np.unique(bins):
        xb, yb = x[bins == b], y[bins == b]
        if len(xb) >= 2 and np.ptp(xb) > 0 and np.ptp(yb) > 0:
            taus.append(kendalltau(xb, yb)[0])
            sizes.append(len(xb))
    return float(np.average(taus, weights=sizes)) if taus else float("nan")


def score_front_hv_ratio(score: np.ndarray, direction: str, flops: np.ndarray, error: np.ndarray,
                         front: np.ndarray) -> tuple[float, int]:
    """HV ratio (and size) of the front a score returns on a sample when paired with FLOPs.

    The sample's cells non-dominated under (``score`` in its ``direction``, ``flops`` minimised)
    are judged on (true ``error`` %, ``flops``) against the true ``front`` (rows of (error,
    MFLOPs), e.g. ``true_front_points(dataset)``) with ``hv_ratio``: the scaling and reference
    point of the search-quality benchmark. Cells tied on (score, FLOPs) with a front member are
    kept too (the score cannot tell them apart). Rows with a non-finite value are dropped first.
    """
    if direction not in ("min", "max"):
        raise DataError(f"direction must be 'min' or 'max', got {direction!r}")
    s, f, e = _finite(score, flops, error)
    if len(s) == 0:
        return 0.0, 0
    G = np.stack([minimise_sign(direction) * s, f], axis=1)
    members = G[non_dominated(G)]
    rows = (G[:, None, :] == members[None, :, :]).all(axis=2).any(axis=1)
    return hv_ratio(np.stack([e[rows], f[rows]], axis=1), front), int(rows.sum())


def shortlist(F: np.ndarray, k: int, rule: str = "front", *, cost_col: int = -1,
              rank_col: int | None = 0) -> np.ndarray:
    """Indices of the ``k`` candidates a training stage gets from the rows ``F`` (the search's objectives, minimised).

    ``front``: ``best_k`` (rank and crowding, as ``train.candidates: top_k`` ranks a front);
    ``bands``: ``evonas.search.shortlist.band_shortlist``, the best row by column ``rank_col`` in
    each of ``k`` equal-count bands of column ``cost_col``, over every finite row (the product's
    ``train.candidates: bands`` with ``bands_over: scored``); ``levels``: ``level_shortlist``, the
    distinct values of the cost column round robin (``bands_cut: levels``); ``-front``: the same
    over the rows of the returned front (``bands_over: front``), so at most the front's size.
    ``rank_col`` None ranks by ``rank_sum`` of every column but the cost (``rank_by: ranks``).
    """
    F = np.asarray(F, dtype=float)
    if rule == "front":
        return best_k(F, k)
    if rule not in SHORTLIST_RULES:
        raise DataError(f"unknown shortlist rule {rule!r}; choose from {list(SHORTLIST_RULES)}")
    if len(F) == 0:
        return np.zeros(0, dtype=int)
    finite = np.isfinite(F).all(axis=1)
    eligible = finite
    if rule.endswith("-front"):
        eligible = np.zeros(len(F), dtype=bool)
        eligible[non_dominated(F, finite)] = True
    cost = F[:, cost_col]
    if rank_col is None:
        others = [j for j in range(F.shape[1]) if j != cost_col % F.shape[1]]
        value = rank_sum([np.where(eligible, F[:, j], np.nan) for j in others])
    else:
        value = F[:, rank_col]
    cut = level_shortlist if rule.startswith("levels") else band_shortlist
    return cut(cost, value, k, eligible)[0]


def trained_front(F: np.ndarray, accuracy: np.ndarray, cost: np.ndarray, k: int, rule: str = "front", *,
                  cost_col: int = -1, rank_col: int | None = 0) -> np.ndarray:
    """The front after a training stage: ``shortlist(F, k, rule)`` re-judged on (``accuracy`` max, ``cost`` min).

    ``F`` holds the search's own objectives (minimised), ``accuracy`` the accuracy a short training
    gives each row and ``cost`` its cost; returns indices into the rows, non-dominated under
    (accuracy, cost) among the ``k`` candidates.
    """
    candidates = shortlist(F, k, rule, cost_col=cost_col, rank_col=rank_col)
    G = np.stack([-np.asarray(accuracy, dtype=float)[candidates], np.asarray(cost, dtype=float)[candidates]], axis=1)
    return np.sort(candidates[non_dominated(G)])

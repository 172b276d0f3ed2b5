"""Search quality against the true NB201 front: true objectives, scaling, HV ratio, IGD, IGD+.

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

from evonas.errors import DataError
from evonas.front import non_dominated
from evonas.table import DATASET_ACCURACY, BenchmarkTable, load_table

__all__ = ["Scaling", "true_objectives", "connected_mask", "true_front", "scaling", "hv_ratio",
           "indicators", "prefix_front", "REF_POINT"]

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
    if dataset not in DATASET_ACCURACY:
        raise DataError(f"unknown dataset {dataset!r}; choose from {sorted(DATASET_ACCURACY)}")
    flops = f"flops_{dataset}"
    if flops not in table.columns:
        raise DataError(f"the table has no {flops!r} column: evonas/data/nb201_cost.npz is missing; "
                        f"build it with `python -m evonas.data.build_cost`")
    return np.stack([100.0 - table.column(DATASET_ACCURACY[dataset]), table.column(flops)], axis=1)


def connected_mask(table: BenchmarkTable | None = None) -> np.ndarray:
    """True for the cells a search can return (output reachable from the input)."""
    table = table or load_table()
    return np.array([table.cell(i).is_connected for i in range(len(table.ops))])


def true_front(F: np.ndarray, eligible: np.ndarray | None = None) -> np.ndarray:
    """Indices (into ``F``) of the non-dominated rows among the ``eligible`` ones."""
    rows = np.arange(len(F)) if eligible is None else np.flatnonzero(eligible)
    return rows[non_dominated(np.asarray(F)[rows])]


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
    rows = np.flatnonzero(np.isfinite(F).all(axis=1))
    return rows[non_dominated(F[rows])]

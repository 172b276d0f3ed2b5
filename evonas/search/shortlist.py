"""The training stage's shortlist by cost bands: the best-ranked cell of each band of the cost axis.

A front of a training-free score and FLOPs can crowd one end of the cost axis; the training
stage then trains candidates of similar cost and the trained front misses the rest. The
``bands`` rule cuts the cells into ``k`` equal-count bands of a cost column and takes, from
each band, the cell that a named score ranks best, so the candidates cover the whole cost axis.
With ``cut: levels`` every distinct cost value is a band of its own (NB201's FLOPs take a few
dozen values), taken round robin: the best cell of every level, then the second best, ..., the
levels holding more scored cells first, until ``k`` are chosen. The score may be ``ranks``: the
sum of the log percentile ranks of every objective but the cost, over the cells the bands cut.
The front after training that the stage judges its candidates by is ``search.trained_front``'s.

Everything here is minimised: a caller flips the sign of a maximised score first (``minimise_sign``).
No torch, no scipy.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from evonas.config.schema import Config
from evonas.errors import DataError, EvonasError
from evonas.space.table import load_table

__all__ = ["average_ranks", "cost_bands", "band_shortlist", "level_shortlist", "rank_sum", "shortlist_rows",
           "table_row", "describe_shortlist", "SHORTLIST_PREFIX"]

#: columns shortlist.csv puts before the front's own
SHORTLIST_PREFIX = ("id", "band", "on_front")


def average_ranks(values: np.ndarray) -> np.ndarray:
    """0-based ranks of ``values``, equal values sharing their average rank (scipy's ``rankdata`` - 1)."""
    values = np.asarray(values, dtype=float)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return (start + (counts - 1) / 2.0)[inverse.reshape(-1)]


def cost_bands(cost: np.ndarray, k: int) -> np.ndarray:
    """The band (0..k-1) of every row: ``k`` equal-count bands of ``cost``, cheapest first.

    Bands follow the average rank of ``cost``, so rows of equal cost always share a band (a band
    may then hold more rows than ``n / k``, and another none). With ``k >= n`` every distinct
    cost is a band of its own.
    """
    if k < 1:
        raise DataError(f"the number of bands must be >= 1, got {k}")
    cost = np.asarray(cost, dtype=float)
    if len(cost) == 0:
        return np.zeros(0, dtype=int)
    if not np.isfinite(cost).all():
        raise DataError("cost bands need finite costs; drop failed cells first")
    return np.minimum((average_ranks(cost) * k / len(cost)).astype(int), k - 1)


def _eligible_rows(cost: np.ndarray, value: np.ndarray, eligible: np.ndarray | None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``cost`` and ``value`` as float columns, and the rows that take part in a shortlist:
    ``eligible`` ones (all by default) with a finite cost and value."""
    cost, value = np.asarray(cost, dtype=float), np.asarray(value, dtype=float)
    if cost.shape != value.shape or cost.ndim != 1:
        raise DataError(f"cost and value must be two columns of equal length, got shapes {cost.shape} "
                        f"and {value.shape}")
    ok = np.isfinite(cost) & np.isfinite(value)
    if eligible is not None:
        ok &= np.asarray(eligible, dtype=bool)
    return cost, value, np.flatnonzero(ok)


def band_shortlist(cost: np.ndarray, value: np.ndarray, k: int, eligible: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(rows, bands): the best row of each of ``k`` cost bands, cheapest band first.

    ``value`` ranks the rows (lower is better); ties go to the cheaper row, then the earlier one.
    Only ``eligible`` rows with a finite cost and value take part: failed cells are neither
    chosen nor counted when the bands are cut, so a band is never all failures. Fewer than
    ``k`` rows come back when fewer are eligible, or when ties in cost leave a band empty.
    """
    cost, value, rows = _eligible_rows(cost, value, eligible)
    if len(rows) == 0:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    bands = cost_bands(cost[rows], k)
    chosen, chosen_bands = [], []
    for band in np.unique(bands):
        members = rows[bands == band]
        best = members[np.lexsort((members, cost[members], value[members]))[0]]
        chosen.append(int(best))
        chosen_bands.append(int(band))
    return np.asarray(chosen, dtype=int), np.asarray(chosen_bands, dtype=int)


def level_shortlist(cost: np.ndarray, value: np.ndarray, k: int, eligible: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(rows, levels): ``k`` rows taken round robin over the distinct values of ``cost`` (its levels).

    Each level's rows are ranked by ``value`` (lower is better; ties to the earlier row); the
    best row of every level is taken, then the second best of every level, and so on, levels
    with more eligible rows first (ties: the cheaper level first), until ``k`` rows are taken
    or none are left. ``levels`` numbers each row's level from the cheapest (0). Non-finite and
    non-``eligible`` rows take no part.
    """
    if k < 1:
        raise DataError(f"the number of candidates must be >= 1, got {k}")
    cost, value, rows = _eligible_rows(cost, value, eligible)
    if len(rows) == 0:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    levels, level_of = np.unique(cost[rows], return_inverse=True)
    members = [rows[level_of == j] for j in range(len(levels))]
    ranked = [m[np.lexsort((m, value[m]))] for m in members]
    order = sorted(range(len(levels)), key=lambda j: (-len(ranked[j]), j))
    chosen, chosen_levels = [], []
    depth = 0
    while len(chosen) < k and depth < max(len(r) for r in ranked):
        for j in order:
            if depth < len(ranked[j]) and len(chosen) < k:
                chosen.append(int(ranked[j][depth]))
                chosen_levels.append(j)
        depth += 1
    return np.asarray(chosen, dtype=int), np.asarray(chosen_levels, dtype=int)


def rank_sum(columns: Sequence[np.ndarray]) -> np.ndarray:
    """Minus the sum of log percentile ranks of the columns (each minimised: lower is better), lower is better.

    The percentile of a row in a column is its average rank from the worst, over the rows where
    every column is finite, divided by their count; other rows get inf.
    """
    X = np.stack([np.asarray(c, dtype=float) for c in columns], axis=1)
    ok = np.isfinite(X).all(axis=1)
    out = np.full(len(X), np.inf)
    n = int(ok.sum())
    if n:
        out[ok] = -sum(np.log((average_ranks(-X[ok, j]) + 1) / n) for j in range(X.shape[1]))
    return out


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def table_row(config: Config, index: int) -> dict[str, float]:
    """The shipped table's columns of cell ``index`` for a row of ``config``'s run: none on a user's data set
    (``Config.custom_data``: the table measures NB201's data sets only). The one rule for every row a run
    writes: the front's (``search.pareto.front_rows``) and the shortlisted cells off it."""
    return {} if config.custom_data else load_table().row(index)


def _off_front_row(row: Mapping[str, Any], config: Config) -> dict[str, Any]:
    """A candidates.csv row in the front's shape: the cell, its scores and its table columns (``table_row``)."""
    out = {k: row.get(k, "") for k in ("arch", "index", "canonical", "proposed", "dead_edges")}
    out.update({s: row.get(s, "") for s in config.score_names})
    out.update(table_row(config, int(row["index"])))
    return out


def shortlist_rows(config: Config, front: Sequence[Mapping[str, Any]],
                   scored: Sequence[Mapping[str, Any]] = (), ids: Sequence[int] | None = None
                   ) -> list[dict[str, Any]]:
    """The training stage's candidates, as rows with ``id``, ``band`` and ``on_front`` before the front's columns.

    Explicit ``ids`` (front ids), else ``train.candidates``: ``front`` (every member), ``top_k``
    (the best ``top_k`` of each objective), ``ids`` (``train.ids``) or ``bands``: the best cell by
    ``rank_by`` in each of ``train.bands`` equal-count bands of ``band_by`` (``band_shortlist``),
    or with ``bands_cut: levels`` ``train.bands`` cells round robin over its distinct values
    (``level_shortlist``), over the front or, with ``bands_over: scored``, over every successfully
    scored cell (``scored``: candidates.csv rows). A shortlisted cell off the front gets an id after the
    front's, in band order, so ids stay unique in the run.
    """
    tc = config.train
    members = [{"band": "", "on_front": True, **r} for r in front]
    by_id = {int(r["id"]): r for r in members}
    wanted = list(ids) if ids is not None else (list(tc.ids) if tc.candidates == "ids" else None)
    if wanted is not None:
        missing = [i for i in wanted if i not in by_id]
        if missing:
            raise EvonasError(f"ids {missing} are not on the front; ids are 0..{len(front) - 1}")
        return [by_id[i] for i in dict.fromkeys(wanted)]
    if tc.candidates == "front":
        return members
    if tc.candidates == "top_k":
        chosen: dict[int, dict[str, Any]] = {}
        for o in config.objectives:
            for r in sorted(members, key=lambda r: _number(r[o.score]) * o.sign)[: tc.top_k]:
                chosen[int(r["id"])] = r
        return [chosen[i] for i in sorted(chosen)]
    rank, band = config.train_rank_by, config.train_band_by
    if tc.bands_over == "front":
        pool = members
    else:
        on_front = {r["canonical"]: r for r in members}
        pool = [on_front.get(r["canonical"]) or {"id": "", "band": "", "on_front": False, **_off_front_row(r, config)}
                for r in scored if r.get("status", "ok") == "ok"]
    cost = np.array([_number(r.get(band.score)) for r in pool])
    if rank is None:  # ranks: every objective but the cost, each in its direction
        value = rank_sum([np.array([_number(r.get(o.score)) * o.sign for r in pool])
                          for o in config.objectives if o.score != band.score])
    else:
        value = np.array([_number(r.get(rank.score)) * rank.sign for r in pool])
    cut = band_shortlist if tc.bands_cut == "count" else level_shortlist
    rows, bands = cut(cost, value, tc.bands)
    out, next_id = [], len(front)
    for i, b in zip(rows, bands):
        row = {**pool[i], "band": int(b)}
        if row["id"] in ("", None):
            row["id"], next_id = next_id, next_id + 1
        out.append(row)
    return out


def describe_shortlist(config: Config) -> str:
    """How ``shortlist_rows`` cuts ``config``'s training shortlist, in words (the ``train.`` settings it reads)."""
    tc = config.train
    if tc.candidates == "front":
        return "train.candidates front: every member of the front"
    if tc.candidates == "top_k":
        return f"train.candidates top_k: the best {tc.top_k} of each objective"
    if tc.candidates == "ids":
        return f"train.candidates ids: the front ids {', '.join(map(str, tc.ids))}"
    rank = config.train_rank_by
    by = rank.score if rank is not None else "the rank sum of the other objectives"
    over = "the front" if tc.bands_over == "front" else "every scored cell (train.bands_over scored)"
    cost = config.train_band_by.score
    if tc.bands_cut == "count":
        return (f"train.candidates bands: the best by {by} in each of train.bands {tc.bands} equal-count bands of "
                f"{cost} over {over}")
    return (f"train.candidates bands, bands_cut levels: train.bands {tc.bands} cells round robin over the levels "
            f"(distinct values) of {cost}, each level's best by {by} first, over {over}")

"""The reported front (pareto.csv rows): ranked non-dominated cells with table and NATS-Bench columns."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from evonas.config.schema import Config
from evonas.engine.records import Evaluation
from evonas.search.dominance import non_dominated, rank_front
from evonas.search.remeasure import noisy_scores
from evonas.search.shortlist import table_row
from evonas.space.cell import Cell
from evonas.space.natsbench import NatsBenchLookup
from problems import to_minimised

__all__ = ["front_rows", "benchmark_columns", "NATS_FIELDS"]

#: the NATS-Bench lookup's fields written to pareto.csv, each as the column ``nats<hp>_<field>``
NATS_FIELDS = ("test_acc", "valid_acc", "flops_m", "params_m", "latency_ms")


def front_rows(config: Config, evaluations: list[Evaluation],
               remeasured: dict[str, dict[str, float]] | None = None,
               proposed: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The non-dominated set of the successful evaluations, ranked, with ids and table columns
    (none on a user's data set: the table measures NB201's data sets only).

    ``arch``/``index`` name the evaluated (reduced) cell; ``proposed`` the cell the search asked
    for (by canonical form), ``dead_edges`` the dead edges the reported cell cannot lose.
    """
    ok = [ev for ev in evaluations if ev.ok]
    if not ok:
        return []
    F = np.array([to_minimised(ev.values, config.objectives) for ev in ok])
    order = rank_front(F, non_dominated(F))
    noisy = noisy_scores()
    show_remeasured = remeasured is not None and any(o.score in noisy for o in config.objectives)
    rows = []
    for rank, i in enumerate(order):
        ev = ok[i]
        cell = Cell.from_string(ev.arch)
        row: dict[str, Any] = {"id": rank, "arch": ev.arch, "index": ev.index, "canonical": cell.canonical,
                               "proposed": (proposed or {}).get(cell.canonical, ev.arch),
                               "dead_edges": cell.dead_edges_text}
        row.update(ev.values)
        if show_remeasured:
            row["remeasured"] = cell.canonical in remeasured
            row.update({f"{s}_first": v for s, v in remeasured.get(cell.canonical, {}).items()})
        row.update(table_row(config, ev.index))  # none on a user's data set
        rows.append(row)
    return rows


def benchmark_columns(rows: Sequence[Mapping[str, Any]], config: Config, *,
                      lookup: Any = None) -> list[dict[str, Any]]:
    """Rows with ``nats<hp>_{test_acc,valid_acc,flops_m,params_m,latency_ms}`` from NATS-Bench.

    With no ``benchmark.path`` in ``config``, or on a user's data set (``dataset: custom``), the rows
    come back unchanged. ``lookup`` replaces
    the ``NatsBenchLookup`` of that path (tests).
    """
    path, hp = config.benchmark.path, config.benchmark.hp
    if path is None and lookup is None or config.custom_data:
        return [dict(r) for r in rows]
    lookup = NatsBenchLookup(path) if lookup is None else lookup
    out = []
    for row in rows:
        found = lookup.lookup(int(row["index"]), config.dataset, hp=hp)
        new = dict(row)
        new.update({f"nats{hp}_{field}": found.get(field) for field in NATS_FIELDS})
        out.append(new)
    return out

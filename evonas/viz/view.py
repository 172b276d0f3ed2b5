"""The view model of a run's front: candidates, front, shortlist, table columns and trained accuracies, joined once.

``build_view`` makes a ``FrontView`` from rows (``viz.report.load_view`` reads them from a
run directory); ``viz.png`` and ``viz.html`` draw the same view in three panels: the search's
objectives, the table's 200-epoch accuracy against a cost, and the front after training
(trained test accuracy against the run's cost, ``Config.cost_objective``, the one that front is judged
on, so the drawn front is the one ``pick --trained`` reads). Axis labels, the log-scale rule, the
200-epoch panel's cost column (the first of x, y, the run's cost and the other minimised objectives
that the table measures, with its true front), whether the search front is joined by a line (two objectives
only) or coloured by an objective off the axes (three or more), which trained candidates
form the front after training and their accuracies' 95 % intervals (the error bars) are decided here, so both
drawings agree. No matplotlib, no file
access.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from evonas.analysis.benchmark import (TrueFront, front_gap, reference_cost, table_columns, true_front_of_table,
                                   with_table_columns)
from evonas.errors import EvonasError
from evonas.search.rungs import last_rung
from evonas.search.trained_front import interval_of, trained_cost, trained_front_rows
from evonas.space.latency_table import latency_columns
from evonas.space.table import BenchmarkTable

__all__ = ["AXIS_LABELS", "NON_AXIS_COLUMNS", "FrontView", "axis_label", "build_view", "flag", "number",
           "numeric_columns", "trained_label", "use_log"]

AXIS_LABELS = {
    "flops": "FLOPs (M, fvcore, searched network)", "params": "parameters (M, searched network)",
    "knas": "KNAS score (higher is better)",
    "latency": "latency (ms per batch, measured)", "latency_table": "latency (ms, shipped table)",
    "cifar10_test_200ep": "CIFAR-10 test accuracy, 200 epochs (%)",
    "cifar100_test_200ep": "CIFAR-100 test accuracy, 200 epochs (%)",
    "imagenet16_test_200ep": "ImageNet16-120 test accuracy, 200 epochs (%)",
    "cifar10_valid_12ep": "CIFAR-10 validation accuracy, 12 epochs (%)",
    "cifar100_valid_12ep": "CIFAR-100 validation accuracy, 12 epochs (%)",
    "imagenet16_valid_12ep": "ImageNet16-120 validation accuracy, 12 epochs (%)",
    "generation": "generation", "wall_time_s": "scoring time (s)",
    "trained_test_acc": "test accuracy, trained here (%)",
}
#: columns that are never plotted (identifiers and bookkeeping)
NON_AXIS_COLUMNS = ("id", "index", "attempts", "remeasured", "band", "on_front")


def axis_label(column: str) -> str:
    """A label with units: known names, the table's cost columns, latency-table devices."""
    if column in AXIS_LABELS:
        return AXIS_LABELS[column]
    for prefix, what in (("flops_", "FLOPs (M, fvcore, NB201 network C=16 N=5"),
                         ("params_", "parameters (M, NB201 network C=16 N=5")):
        if column.startswith(prefix):
            return f"{what}, {column[len(prefix):]} input)"
    if column.startswith("nats"):
        return f"{column} (NATS-Bench)"
    if column in latency_columns():
        return f"latency on {column} (ms, shipped table)"
    return column


def trained_label(accuracy: str, epochs: str) -> str:
    """The trained panel's y label: the data set of the 200-epoch ``accuracy`` column, trained here for ``epochs``."""
    data = axis_label(accuracy).split(" test accuracy")[0] if accuracy != "trained_test_acc" else ""
    return f"{data} test accuracy, trained here{f' {epochs} epochs' if epochs else ''} (%)".lstrip()


def flag(value: Any) -> bool | None:
    """A CSV boolean ("1"/"0", "True"/"False", any case) as a bool; None when empty or not a boolean."""
    text = str(value).strip().lower() if value is not None else ""
    return {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}.get(text)


def number(value: Any) -> float | None:
    """``value`` as a finite float, or None (empty, not a number, inf or nan)."""
    if value is None or value == "":
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None


def numeric_columns(*row_sets: Sequence[Mapping[str, Any]]) -> list[str]:
    """Columns (in order of first appearance) whose every non-empty value is a number."""
    seen: dict[str, bool] = {}
    for rows in row_sets:
        for row in rows:
            for k, v in row.items():
                if k in NON_AXIS_COLUMNS or v in (None, ""):
                    continue
                seen[k] = seen.get(k, True) and number(v) is not None
    return [k for k, ok in seen.items() if ok]


def use_log(values: Sequence[float]) -> bool:
    """Log scale when the values are positive and span more than a factor of 20."""
    vals = [v for v in values if v is not None]
    return bool(vals) and min(vals) > 0 and max(vals) / min(vals) > 20


@dataclass(frozen=True)
class FrontView:
    """Everything the drawings need; rows are plain dicts with numbers where numbers belong."""

    candidates: list[dict[str, Any]]   # scored (status ok) rows with table columns added
    front: list[dict[str, Any]]        # pareto.csv rows (+ band, on_front, trained_test_acc, trained_epochs)
    x: str
    y: str
    accuracy: str                      # the run's data set's 200-epoch test accuracy column (your data: trained)
    cost: str                          # the x column of the 200-epoch panel
    reference: TrueFront | None
    note: str                          # why there is no reference line
    title: str
    run_path: str
    objectives: tuple[str, ...] = ()   # the search's scores (and x, y), shown on hover
    front_axes: bool = True            # x and y are both objectives
    all_cells: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)  # (cost, acc) of all
    members: list[dict[str, Any]] = field(default_factory=list)  # the front, then shortlisted rows off it
    directions: Mapping[str, str] = field(default_factory=dict)  # each search objective -> "min" | "max"
    trained_front_from: str = ""       # "trained.csv" (its trained_front column) or "computed" (trained_front_rows)
    trained_cost: str = ""             # the trained panel's x: the cost the front after training is judged on
    benchmark: bool = True             # the table measures the run's data set (False: a user's data set)

    @property
    def gaps(self) -> dict[int, float]:
        """Front id -> accuracy points below the true front at its cost (needs the reference)."""
        if self.reference is None:
            return {}
        out = {}
        for r in self.front:
            c, a = number(r.get(self.cost)), number(r.get(self.accuracy))
            if c is not None and a is not None:
                out[int(r["id"])] = front_gap(self.reference, c, a)
        return out

    @property
    def front_line(self) -> bool:
        """Join the search front with a line: only when x and y are the run's two objectives.

        With three or more objectives the front drawn on (x, y) is a projection: neighbours by x
        are not neighbours on the front, and a line through them would zigzag.
        """
        return self.front_axes and len(self.directions) <= 2

    @property
    def colour_by(self) -> str | None:
        """The first objective not on the search panel's axes: the front's points are coloured by it."""
        return next((s for s in self.directions if s not in (self.x, self.y)), None)

    @property
    def accuracy_note(self) -> str:
        """What the middle panel shows instead of points, "" when it has some: on a user's data set it draws the
        front at its trained accuracy, so before the training stage it says "not trained yet" (and how)."""
        if self.benchmark or any(number(r.get(self.accuracy)) is not None for r in self.front):
            return ""
        if self.trained():
            return "no member of the front is trained yet"
        return f"not trained yet: python -m evonas train {self.run_path}"

    def trained(self) -> list[dict[str, Any]]:
        """Every member with a trained test accuracy (``trained_front``: on the front after training)."""
        return [r for r in self.members if number(r.get("trained_test_acc")) is not None]

    def trained_front(self) -> list[dict[str, Any]]:
        """The front after training, cheapest first (``search.trained_front``: non-dominated beyond noise)."""
        rows = [r for r in self.trained() if r.get("trained_front")]
        cost = self.trained_cost or self.cost
        return sorted(rows, key=lambda r: (number(r.get(cost)) if number(r.get(cost)) is not None else np.inf,
                                           r["trained_test_acc"]))

    def trained_intervals(self) -> dict[int, tuple[float, float]]:
        """Trained member id -> its test accuracy's 95 % interval (%): the error bars of the panel after training."""
        return {int(r["id"]): (r["trained_test_acc_low"], r["trained_test_acc_high"]) for r in self.trained()
                if r.get("trained_test_acc_low") is not None}

    @property
    def trained_test_n(self) -> str:
        """The test images the trained accuracies count, e.g. "256" or "256/10000"; "" when unknown."""
        counts = {str(r.get("trained_test_n", "")) for r in self.trained()} - {""}
        return "/".join(sorted(counts, key=lambda n: (len(n), n)))

    @property
    def trained_epochs(self) -> str:
        """The epoch count(s) of the trained candidates, e.g. "5" or "5/12"; "" when none was trained."""
        counts = {str(r.get("trained_epochs", "")) for r in self.trained()} - {""}
        return "/".join(sorted(counts, key=lambda e: (len(e), e)))


def _run_cost(config: Any, x: str) -> str:
    """The run's cost (``Config.cost_objective``), or ``x`` when every objective is maximised."""
    cost = config.cost_objective
    return cost.score if cost is not None else x


def _default_cost(x: str, y: str, config: Any, table: BenchmarkTable) -> tuple[str, TrueFront | None, str]:
    """The 200-epoch panel's cost column: the first of x, y, the run's cost and the other minimised
    objectives that the table measures; else the run's cost, without a true front."""
    cost = _run_cost(config, x)
    mins = [cost] + [o.score for o in config.objectives if o.direction == "min"]
    notes = []
    for column in dict.fromkeys([x, y, *mins]):
        name, note = reference_cost(column, config, table)
        if name is not None and not name.startswith(("cifar", "imagenet")):
            return name, true_front_of_table(table, name, config.dataset_spec.test_column), ""
        if note and column in mins:
            notes.append(note)
    return cost, None, "; ".join(dict.fromkeys(notes)) or f"no table column measures {cost!r}"


def _members(front: list[dict[str, Any]], members: Sequence[Mapping[str, Any]], table: BenchmarkTable | None
             ) -> list[dict[str, Any]]:
    """The front's rows (with the shortlist's columns, e.g. band and on_front, filled in), then members off it."""
    by_id = {int(r["id"]): r for r in front}
    extra: dict[int, dict[str, Any]] = {}
    for m in members:
        i = int(m["id"])
        if i in by_id:
            row = by_id[i]
            row.update({k: v for k, v in m.items() if row.get(k) in (None, "")})
        elif i not in extra:
            extra[i] = dict(m)
    for row in [*front, *extra.values()]:
        if "on_front" in row:
            row["on_front"] = flag(row["on_front"])
    off = list(extra.values())
    return front + (with_table_columns(off, table) if table is not None else off)


def _join_trained(config: Any, members: list[dict[str, Any]], trained: Sequence[Mapping[str, Any]]) -> str:
    """Add trained.csv's test accuracy, epochs, 95 % interval (``interval_of``: none for a training of an older
    evonas) and the front-after-training mark to the members.

    The mark is ``trained_front_rows``'s, as ``pick --trained`` reads it: trained.csv's
    ``trained_front`` column when it has one, else the front on (trained test accuracy,
    ``trained_cost``) computed here. Returns where it came from ("trained.csv", "computed", "").
    """
    by_id = {int(t["id"]): t for t in last_rung(trained)  # a schedule's answer: its last rung
             if t.get("status", "ok") == "ok" and number(t.get("test_acc")) is not None}
    rows = [r for r in members if int(r["id"]) in by_id]
    for r in rows:
        t = by_id[int(r["id"])]
        r["trained_test_acc"], r["trained_epochs"] = float(t["test_acc"]), t.get("epochs", "")
        r["trained_test_acc_low"], r["trained_test_acc_high"] = interval_of(t) or (None, None)
        r["trained_test_n"] = t.get("test_n", "")
    if not rows:
        return ""
    on = {int(r["id"]) for r in trained_front_rows(config, members, [{"status": "ok", **t} for t in by_id.values()])}
    for r in rows:
        r["trained_front"] = int(r["id"]) in on
    return "trained.csv" if any(t.get("trained_front") not in (None, "") for t in by_id.values()) else "computed"


def _trained_axis(config: Any, trained: Sequence[Mapping[str, Any]], cost: str) -> str:
    """The trained panel's cost: the one the front after training is judged on, if the trained rows have it."""
    name = trained_cost(config)
    return name if name is not None and any(number(r.get(name)) is not None for r in trained) else cost


def build_view(config: Any, candidates: Sequence[Mapping[str, Any]], front: Sequence[Mapping[str, Any]],
               table: BenchmarkTable, *, x: str, y: str, members: Sequence[Mapping[str, Any]] = (),
               trained: Sequence[Mapping[str, Any]] = (), run_path: str = "RUN_DIR", title: str = "") -> FrontView:
    """Join candidates, front, members, table and trained.csv; check that ``x`` and ``y`` are columns.

    ``members``: the rows of shortlist.csv (or ``RunDir.members()``), each with an ``id``; those
    on the front add their columns to its row, the others are drawn only once trained.
    ``trained``: the rows of trained.csv, joined to the members by ``id``.
    """
    benchmark = not getattr(config, "custom_data", False)  # a user's data set: no table column applies
    add = with_table_columns if benchmark else (lambda rows, table: [dict(r) for r in rows])
    ok = add([r for r in candidates if r.get("status", "ok") == "ok"], table)
    rows = add(front, table)
    everyone = _members(rows, members, table if benchmark else None)
    choices = numeric_columns(ok, rows)
    for flag_name, column in (("--x", x), ("--y", y)):
        if column not in choices:
            raise EvonasError(f"{flag_name} {column!r}: not a numeric column of candidates.csv/pareto.csv; "
                              f"choose from {choices}")
    source = _join_trained(config, everyone, trained)
    if benchmark:
        cost, reference, note = _default_cost(x, y, config, table)
        accuracy = config.dataset_spec.test_column
    else:  # the middle panel: the front at its trained accuracy, on the cost the front after training is judged on
        cost, reference, accuracy = _run_cost(config, x), None, "trained_test_acc"
        note = "your data is not in the benchmark table; the front's trained accuracies are shown"
    all_cells = None
    if reference is not None:
        cols = table_columns(table)
        all_cells = (np.asarray(cols[cost], float), np.asarray(cols[accuracy], float))
    return FrontView(ok, rows, x, y, accuracy, cost, reference, note,
                     title or f"{config.name}: {len(rows)} non-dominated of {len(ok)} scored", str(run_path),
                     tuple(dict.fromkeys([*config.score_names, x, y])),
                     x in config.score_names and y in config.score_names, all_cells, everyone,
                     {o.score: o.direction for o in config.objectives}, source,
                     _trained_axis(config, [r for r in everyone if "trained_test_acc" in r], cost), benchmark)

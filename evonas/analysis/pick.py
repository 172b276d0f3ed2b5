"""Choosing one architecture from a finished run: by id, under constraints, or by benchmark.

Constraints name columns of the rows they filter; ``pick_columns`` adds the derived ones the
CLI's limits use: ``latency_ms`` (the run's latency objective, else the shipped table's
``2080ti_bs1`` column), ``accuracy`` (the table's 200-epoch test accuracy of the run's data
set, or the trained test accuracy from ``trained.csv``). ``describe_pick`` is the text the
CLI prints for the chosen architecture.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from evonas.config.schema import Config, ObjectiveConfig
from evonas.errors import EvonasError
from evonas.space.table import ACCURACY_COLUMNS
from evonas.datasets import CUSTOM, dataset_spec
from evonas.space.latency_table import DEFAULT_TABLE_DEVICE, latency_columns

__all__ = ["Constraint", "pick", "pick_trained", "pick_columns", "describe_pick", "LATENCY_SOURCES",
           "ACCURACY_SOURCES"]

#: where ``latency_ms`` comes from, in order of preference (the first column a row has)
LATENCY_SOURCES = ("latency", "latency_table")
#: ``--accuracy`` choices: the column ``accuracy`` is copied from
ACCURACY_SOURCES = {"table": "the shipped table's 200-epoch test accuracy",
                    "trained": "the test accuracy of the training stage (trained.csv)"}


@dataclass(frozen=True)
class Constraint:
    column: str
    bound: float
    upper: bool = True  # True: value <= bound; False: value >= bound

    def holds(self, row: Mapping[str, Any]) -> bool:
        """False when the row has no value for the column (e.g. an untrained member)."""
        raw = row.get(self.column)
        if raw in (None, ""):
            return False
        value = float(raw)
        return value <= self.bound if self.upper else value >= self.bound

    def __str__(self) -> str:
        return f"{self.column} {'<=' if self.upper else '>='} {self.bound:g}"


def pick_columns(rows: Sequence[Mapping[str, Any]], dataset: str, *, accuracy: str = "table",
                 trained: Sequence[Mapping[str, Any]] = (), latency_device: str | None = None
                 ) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Rows with ``latency_ms`` and ``accuracy`` added, and a note on where each came from.

    A user's data set (``dataset`` custom) is in neither shipped table: ``accuracy`` is the trained one
    whatever ``accuracy`` says, and ``latency_ms`` only comes from the run's latency objective.
    """
    custom = dataset == CUSTOM
    if accuracy not in ACCURACY_SOURCES:
        raise EvonasError(f"--accuracy {accuracy!r}: choose from {sorted(ACCURACY_SOURCES)}")
    out = [dict(r) for r in rows]
    notes: dict[str, str] = {}
    source = next((c for c in LATENCY_SOURCES if out and out[0].get(c) not in (None, "")), None)
    if source is not None:
        for r in out:
            r["latency_ms"] = r.get(source)
        notes["latency_ms"] = f"the run's {source!r} objective (ms)"
    elif custom:
        pass  # the latency table measures NB201's networks on CIFAR-sized images, not the user's
    else:
        device = latency_device or DEFAULT_TABLE_DEVICE
        column = latency_columns()[device]
        for r in out:
            r["latency_ms"] = float(column[int(r["index"])])
        notes["latency_ms"] = f"the shipped latency table, {device} (ms)"
    by_id = {str(t["id"]): t for t in trained if t.get("status", "ok") == "ok" and t.get("test_acc") not in (None, "")}
    for r in out:
        t = by_id.get(str(r.get("id")))
        if t is not None:
            r["trained_test_acc"], r["trained_epochs"] = float(t["test_acc"]), t.get("epochs", "")
        r["accuracy"] = (r.get(dataset_spec(dataset).test_column) if accuracy == "table" and not custom
                         else r.get("trained_test_acc"))
    if accuracy == "trained" and not by_id:
        raise EvonasError("--accuracy trained: the run has no trained.csv with finished trainings; train first "
                          "(python -m evonas train RUN_DIR) or use --accuracy table")
    notes["accuracy"] = (f"{ACCURACY_SOURCES[accuracy]} on {dataset} (%)" if accuracy == "table" and not custom else
                         f"{ACCURACY_SOURCES[accuracy]} (%); untrained members are skipped")
    return out, notes


def _best(rows: Sequence[Mapping[str, Any]], objectives: Sequence[ObjectiveConfig],
          constrained: set[str]) -> dict[str, Any]:
    by = next((o for o in objectives if o.score not in constrained), objectives[0])
    return dict(min(rows, key=lambda r: by.sign * float(r[by.score])))


def pick(front: Sequence[Mapping[str, Any]], objectives: Sequence[ObjectiveConfig], *,
         id: int | None = None, constraints: Sequence[Constraint] = ()) -> dict[str, Any]:
    """The front member with ``id``, or the best one satisfying every constraint.

    "Best" is judged by the first objective whose column is not constrained (for a
    (knas, flops) search with ``--max-flops``: the highest KNAS score).
    """
    if not front:
        raise EvonasError("the run's front is empty: nothing to pick")
    if id is not None:
        ids = [int(r["id"]) for r in front]
        if id not in ids:
            raise EvonasError(f"--id {id} is not on the front; ids are {min(ids)}..{max(ids)}")
        return dict(next(r for r in front if int(r["id"]) == id))
    for c in constraints:
        if c.column not in front[0]:
            raise EvonasError(f"cannot constrain {c.column!r}: pareto.csv has no such column; "
                              f"columns are {sorted(front[0])}")
    chosen = [r for r in front if all(c.holds(r) for c in constraints)]
    if not chosen:
        raise EvonasError("no front member satisfies " + " and ".join(map(str, constraints))
                          + "; relax the limit")
    return _best(chosen, objectives, {c.column for c in constraints})


def pick_trained(rows: Sequence[Mapping[str, Any]], *, id: int | None = None,
                 constraints: Sequence[Constraint] = ()) -> tuple[dict[str, Any], str]:
    """A member of the front after training (rows with ``trained_test_acc``) and why it was chosen.

    ``id``: that member; else the most accurate one (trained test accuracy) satisfying every constraint.
    """
    if id is not None:
        row = next((r for r in rows if int(r["id"]) == id), None)
        if row is None:
            raise EvonasError(f"--id {id} is not on the front after training; its ids are "
                              f"{', '.join(str(r['id']) for r in rows)}")
        return dict(row), "on the front after training (trained test accuracy vs cost)"
    for c in constraints:
        if c.column not in rows[0]:
            raise EvonasError(f"cannot constrain {c.column!r}: the trained members have no such column")
    kept = [r for r in rows if all(c.holds(r) for c in constraints)]
    if not kept:
        raise EvonasError("no member of the front after training satisfies " + " and ".join(map(str, constraints))
                          + "; relax the limit")
    limits = " and ".join(map(str, constraints))
    return (dict(max(kept, key=lambda r: float(r["trained_test_acc"]))),
            "the most accurate after training (trained test accuracy) on the front after training"
            + (f", with {limits}" if limits else ""))


def describe_pick(config: Config, row: dict[str, Any], run_path: str | Path = "RUN_DIR",
                  why: str = "", notes: Sequence[str] = ()) -> str:
    """The chosen architecture, its objectives and benchmark numbers, ``notes`` (lines), and the export command."""
    on_front = row.get("id") not in (None, "")
    lines = [f"id          {row['id'] if on_front else '- (not on the front)'}", f"arch        {row['arch']}",
             f"index       {row['index']}"]
    if row.get("dead_edges"):
        lines.append(f"dead edges  {row['dead_edges']} (input always zero; NB201 counts the cell without them "
                     f"as another cell)")
    if why:
        lines.insert(0, f"chosen      {why}")
    lines += [f"{o.score:<11} {float(row[o.score]):.6g}  ({o.direction})" for o in config.objectives
              if row.get(o.score) not in (None, "")]
    if not config.custom_data:  # a user's data set is not in the table
        lines += ["benchmark accuracies (shipped NB201 table, %):"]
        lines += [f"  {c:<24} {float(row[c]):.2f}" for c in ACCURACY_COLUMNS if row.get(c) not in (None, "")]
    extra = [c for c in row if c.startswith("nats") and row[c] not in (None, "")]
    if extra:
        lines += ["NATS-Bench:"] + [f"  {c:<24} {float(row[c]):.4g}" for c in extra]
    if row.get("trained_test_acc") not in (None, ""):
        low, high = row.get("trained_test_acc_low"), row.get("trained_test_acc_high")
        interval = (f" (95 % interval {low:.1f}-{high:.1f}% on {row.get('trained_test_n') or '?'} test images)"
                    if low is not None and high is not None else "")
        lines += [f"trained     test acc {float(row['trained_test_acc']):.2f}%{interval} after "
                  f"{row.get('trained_epochs')} epoch(s) (trained.csv)"]
    lines += list(notes)
    target = f"--id {row['id']}" if on_front else f"--arch '{row['arch']}'"
    if str(row.get("on_front", "True")).lower() in ("false", "0"):
        lines.insert(1, "            (shortlisted for training from the scored cells; not on the search's front)")
    lines += ["", f"export it:  python -m evonas export {run_path} {target} --out model.pt"]
    return "\n".join(lines)

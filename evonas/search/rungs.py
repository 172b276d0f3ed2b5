"""The training stage's schedule (``train.schedule``): which trainings of a rung go on to the next, which rung answers.

Successive halving over the shortlist: every candidate is trained at the first rung (few epochs);
a later rung trains only those its ``keep`` rule (``evonas.config.train.Rung``) lets through from
the rung before, judged on that rung's trained test accuracy:

- ``all``: every finished training;
- ``front``: the front after training at that rung (``evonas.search.trained_front``: dominated only
  beyond noise, so members the short training cannot tell apart go on together);
- ``levels``: the most accurate at each distinct cost (one per cost level, the costliest level
  included: a shortlist over the cost levels keeps covering them);
- ``top``: the ``top`` most accurate (it cuts the cheap end first: for a front, ``rank`` is the rule);
- ``rank``: the ``top`` best by NSGA-II's rank and crowding on (accuracy, cost) (``best_k``): whole
  non-dominated layers, the last cut by crowding, so a fixed number goes on and the ends of the
  cost axis stay.

trained.csv holds one row per (id, rung), ``rung`` counting from 1 (a trained.csv of an older
evonas has none: rung 1). The answer of the stage, what ``pick --trained`` and the plots read, is
the last rung that has trainings (``last_rung``). No torch.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from evonas.config.train import Rung
from evonas.search.dominance import best_k

__all__ = ["rung_of", "last_rung", "by_rung", "keep_ids", "describe_keep"]


def rung_of(row: Mapping[str, Any]) -> int:
    """The rung (from 1) of a trained.csv row; 1 when it has none."""
    value = row.get("rung")
    try:
        return max(int(value), 1)
    except (TypeError, ValueError):
        return 1


def by_rung(rows: Sequence[Mapping[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """The rows of each rung, rungs ascending, each rung's rows in their order."""
    out: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(rung_of(r), []).append(dict(r))
    return dict(sorted(out.items()))


def last_rung(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rows of the highest rung with a finished training (else of the highest rung, else none)."""
    rungs = by_rung(rows)
    done = [k for k, rs in rungs.items() if any(r.get("status", "ok") == "ok" for r in rs)]
    return rungs[max(done)] if done else (rungs[max(rungs)] if rungs else [])


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def keep_ids(rows: Sequence[Mapping[str, Any]], rung: Rung, cost: str | None) -> list[int]:
    """The ids of ``rows`` (one rung's trained.csv rows, marked by ``mark_trained_front``) that ``rung.keep`` lets
    through to ``rung``, ascending. Only finished trainings (status ok, a finite accuracy) go on.

    ``levels`` takes each distinct finite value of ``cost`` (all rows one level without a cost); ties in
    accuracy go to the lower id.
    """
    ok = [r for r in rows if r.get("status", "ok") == "ok" and math.isfinite(_number(r.get("test_acc")))]
    best_first = sorted(ok, key=lambda r: (-_number(r["test_acc"]), int(r["id"])))
    if rung.keep == "all":
        chosen = ok
    elif rung.keep == "front":
        chosen = [r for r in ok if str(r.get("trained_front", "")).strip().lower() in ("1", "true")]
    elif rung.keep == "top":
        chosen = best_first[:rung.top]
    elif rung.keep == "rank":
        F = np.array([[-_number(r["test_acc"]), _number(r.get(cost)) if cost else 0.0] for r in ok]).reshape(-1, 2)
        F[~np.isfinite(F)] = np.inf  # a row without a cost is chosen last
        chosen = [ok[i] for i in best_k(F, rung.top)] if ok else []
        chosen += [r for r in best_first if r not in chosen][:max(rung.top - len(chosen), 0)]
    else:  # levels
        seen: set[float] = set()
        chosen = []
        for r in best_first:
            level = _number(r.get(cost)) if cost else 0.0
            if math.isfinite(level) and level not in seen:
                seen.add(level)
                chosen.append(r)
    return sorted(int(r["id"]) for r in chosen)


def describe_keep(rung: Rung, cost: str | None) -> str:
    """The keep rule in words, for the stage's log line."""
    return {"all": "every candidate", "front": "the front after training, beyond noise",
            "levels": f"the most accurate at each {cost or 'cost'} level",
            "top": f"the {rung.top} most accurate",
            "rank": f"the {rung.top} best by rank and crowding on accuracy and {cost or 'cost'}"}[rung.keep]

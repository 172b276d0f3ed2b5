"""Judging runs on true objectives: front indicators per budget and data set, summary rows, single-objective view."""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

import numpy as np

from benchmarks.quality.runs import RunRecord
from evonas.analysis.quality import SHORTLIST_RULES, indicators, prefix_front, trained_front
from evonas.config.schema import Config
from evonas.datasets import DATASETS, dataset_spec
from evonas.space.table import load_table

#: published test accuracies (%) on CIFAR-10 / CIFAR-100 / ImageNet16-120
REFERENCES = {"KNAS paper": (93.05, 68.91, 34.11), "TE-NAS": (93.9, 71.24, 42.38), "optimum": (94.37, 73.51, 47.31)}
#: k of the training-stage fronts
TRAIN_K = (20, 40)


def rule_key(k: int, rule: str) -> str:
    """The indicator prefix of the trained@k front of a shortlist rule: trained20, trained20-bands, ..."""
    return f"trained{k}" if rule == "front" else f"trained{k}-{rule}"


def analyse(record: RunRecord, budget: int, truth: dict[str, np.ndarray], fronts: dict[str, np.ndarray],
            valid: dict[str, np.ndarray] | None = None, train_k: Sequence[int] = TRAIN_K, *,
            cost_col: int = -1, rank_col: int = 0) -> dict[str, Any]:
    """Indicators of the evaluated, returned and trained@k fronts after ``budget`` cells, on each dataset.

    ``valid[ds]``: the 12-epoch validation accuracy of every NB201 cell on ``ds`` (the training
    stage's stand-in); without it no trained@k fronts. A trained@k front per shortlist rule
    (``SHORTLIST_RULES``): the bands rules cut the search's column ``cost_col`` and rank by column
    ``rank_col``.
    """
    idx = np.asarray(record.indices[:budget])
    search_F = np.asarray(record.search_F, dtype=float)[:budget]
    returned = prefix_front(search_F, budget)
    out: dict[str, Any] = {"n": int(len(idx))}
    for ds, T in truth.items():
        F = T[idx]
        kinds = [("evaluated", prefix_front(F, budget)), ("returned", returned)]
        if valid is not None:
            kinds += [(rule_key(k, rule), trained_front(search_F, valid[ds][idx], F[:, 1], k, rule, cost_col=cost_col,
                                                        rank_col=rank_col))
                      for rule in SHORTLIST_RULES for k in train_k]
        for kind, rows in kinds:
            ind = indicators(F[rows], fronts[ds])
            out.update({f"{ds}/{kind}/{k}": v for k, v in ind.items()})
            out[f"{ds}/{kind}/best_acc"] = float(100 - F[rows, 0].min()) if len(rows) else float("nan")
            out[f"{ds}/{kind}/size"] = int(len(rows))
    return out


def single_objective(records: dict[str, list[RunRecord]], config: Config, n: int, top_k: int = 40
                     ) -> dict[str, list[list[float]]]:
    """Test accuracies (C10, C100, IN16) of the cell chosen by KNAS-style rules, per seed."""
    table = load_table()
    acc = np.stack([table.column(dataset_spec(d).test_column) for d in DATASETS], axis=1)
    valid = table.column(config.dataset_spec.valid_column)
    out: dict[str, list[list[float]]] = defaultdict(list)
    for rec in records.get("random", []):
        idx = np.asarray(rec.indices[:n])
        knas = -np.asarray(rec.search_F)[:n, 0]
        out["(a) best knas of the sample"].append(acc[idx[np.argmax(knas)]].tolist())
        top = idx[np.argsort(-knas)[:top_k]]
        out[f"(b) top-{top_k} knas, then 12-ep valid"].append(acc[top[np.argmax(valid[top])]].tolist())
    for rec in records.get("knas+flops", []):
        rows = prefix_front(np.asarray(rec.search_F), n)
        members = np.asarray(rec.indices)[rows]
        out["(c) evonas front, then 12-ep valid"].append(acc[members[np.argmax(valid[members])]].tolist())
    return dict(out)


def mean_std(values: Sequence[float]) -> str:
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.3f} ± {v.std():.3f}" if len(v) > 1 else f"{v.mean():.3f}"


def summary_headers(train_k: Sequence[int]) -> list[str]:
    """The columns of the summary table, one row per (setting, budget, data set)."""
    return ["setting", "budget", "dataset", "HV ratio eval", "HV ratio returned",
            *(f"HV ratio trained@{k}" + ("" if rule == "front" else f" {rule}") for rule in SHORTLIST_RULES
              for k in train_k), "IGD eval", "IGD+ eval",
            "IGD+ returned", "best acc eval", "best acc returned", *(f"best acc trained@{k}" for k in train_k),
            "front size", *(f"trained@{k} size" for k in train_k), "cells reached", "score s/search"]


def _summary_row(name: str, budget: int, ds: str, agg: dict[str, list], train_k: Sequence[int],
                 cost_per_cell: float) -> list:
    return [name, budget, ds, mean_std(agg[f"{ds}/evaluated/hv_ratio"]),
            mean_std(agg[f"{ds}/returned/hv_ratio"]),
            *(mean_std(agg[f"{ds}/{rule_key(k, rule)}/hv_ratio"]) for rule in SHORTLIST_RULES for k in train_k),
            mean_std(agg[f"{ds}/evaluated/igd"]),
            mean_std(agg[f"{ds}/evaluated/igd_plus"]), mean_std(agg[f"{ds}/returned/igd_plus"]),
            mean_std(agg[f"{ds}/evaluated/best_acc"]), mean_std(agg[f"{ds}/returned/best_acc"]),
            *(mean_std(agg[f"{ds}/trained{k}/best_acc"]) for k in train_k),
            mean_std(agg[f"{ds}/returned/size"]),
            *(mean_std(agg[f"{ds}/trained{k}/size"]) for k in train_k), f"{np.mean(agg['n']):.0f}",
            f"{np.mean(agg['n']) * cost_per_cell:.0f}"]


def judge_setting(name: str, recs: list[RunRecord], objectives: list[str], budgets: Sequence[int],
                  truth: dict[str, np.ndarray], fronts: dict[str, np.ndarray], valid: dict[str, np.ndarray],
                  train_k: Sequence[int], cost_per_cell: float, *, cost_col: int = -1,
                  rank_col: int = 0) -> tuple[dict[str, Any], list[list]]:
    """The JSON entry of one setting (its runs, mean and std of every indicator per budget) and its summary rows."""
    entry: dict[str, Any] = {"objectives": objectives, "cost_col": cost_col, "rank_col": rank_col, "runs": [
        {"seed": r.seed, "indices": r.indices, "search_F": r.search_F, "computed": r.computed,
         "from_cache": r.from_cache, "wall_s": r.wall_s} for r in recs], "budgets": {}}
    rows = []
    for b in budgets:
        stats = [analyse(r, b, truth, fronts, valid, train_k, cost_col=cost_col, rank_col=rank_col) for r in recs]
        agg = {k: [s[k] for s in stats] for k in stats[0]}
        entry["budgets"][str(b)] = {k: {"mean": float(np.mean(v)), "std": float(np.std(v))} for k, v in agg.items()}
        rows += [_summary_row(name, b, ds, agg, train_k, cost_per_cell) for ds in DATASETS]
    return entry, rows

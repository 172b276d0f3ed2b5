"""The training stage's schedule on the NB201 table: front after training (HV ratio) against the epochs it costs.

    # the main job's searches, 10 seeds (scores cached in cache.dir; ~1 h on one CPU thread the first time)
    python benchmarks/search_quality.py --config configs/nb201_pareto.yaml --seeds 10 --budgets 800 \
        --generations 20 --settings gradient_kernel+synflow+flops --set ray.backend=serial --json runs.json
    # their shortlists trained by each schedule, on the table (seconds)
    python benchmarks/train_schedule.py --records runs.json --json schedule.json

For each seed's search, the main job's shortlist of k candidates (``--k``, 20 and 40: the
product's rule, ``evonas.analysis.quality.shortlist``: the FLOPs levels round robin, ranked by
the rank sum of the scores) is "trained" by each schedule, NB201's trainings standing in for
the stage's: a 12-epoch rung is NB201's 12-epoch training of the cell (its test accuracy), a
200-epoch rung NB201's 200-epoch one. The rungs' keep rules are the product's
(``evonas.search.rungs.keep_ids`` on rows marked by ``evonas.search.trained_front``, with the
test set's size of each data set for the noise: 10,000 CIFAR-10 images, 5,000 CIFAR-100,
3,000 ImageNet16-120). Each schedule's answer, the cells trained at its last rung, is judged
at their 200-epoch test error and FLOPs: the HV ratio against the true NB201 front
(``evonas.analysis.quality.indicators``; dominated members add nothing, so the noise-aware
front's extra members neither help nor hurt). Epochs are counted as the stage spends them
with ``schedule_from: scratch`` (every rung trains afresh: k x 12 + kept x 200), the only mode
the table can stand in for: NB201 keeps no checkpoint of its 200-epoch trainings at epoch 12,
so ``schedule_from: checkpoint`` (k x 12 + kept x 188) is not measured here.

Schedules: ``200`` (every candidate for 200 epochs, the stage without a schedule), ``12`` (every
candidate for 12 epochs only, judged at 200), and ``12 > 200 keep RULE`` for the rules front,
levels, rank K and top K (``--top``). The cost is given twice against training every candidate
for 200 epochs: in epochs, and in epochs weighted by each cell's FLOPs (a GPU's time per epoch
grows with them, so a rule that drops costly cells saves more than its epochs say).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import machine, print_table, write_json  # noqa: E402
from evonas.analysis.quality import connected_mask, indicators, shortlist, true_objectives  # noqa: E402
from evonas.config.train import Rung  # noqa: E402
from evonas.datasets import DATASETS  # noqa: E402
from evonas.search.dominance import non_dominated  # noqa: E402
from evonas.search.rungs import keep_ids  # noqa: E402
from evonas.search.trained_front import mark_trained_front  # noqa: E402
from evonas.space.table import load_table  # noqa: E402

#: the test images of NB201's test split of each data set (the noise of a trained accuracy)
TEST_N = {"cifar10": 10000, "cifar100": 5000, "imagenet16-120": 3000}
#: the table's 12-epoch test column of each data set
TEST_12 = {"cifar10": "cifar10_test_12ep", "cifar100": "cifar100_test_12ep", "imagenet16-120": "imagenet16_test_12ep"}


def schedules(tops: Sequence[int]) -> list[tuple[str, Rung | None]]:
    """(name, the second rung) of each schedule; None: a single rung (``200`` or ``12``)."""
    return [("200", None), ("12", None), ("12 > 200 keep front", Rung(200, "front")),
            ("12 > 200 keep levels", Rung(200, "levels")),
            *((f"12 > 200 keep rank {t}", Rung(200, "rank", top=t)) for t in tops),
            *((f"12 > 200 keep top {t}", Rung(200, "top", top=t)) for t in tops)]


def run_schedule(name: str, second: Rung | None, cand: np.ndarray, acc12: np.ndarray, flops: np.ndarray,
                 test_n: int) -> tuple[np.ndarray, np.ndarray]:
    """(the NB201 indices trained at the schedule's last rung, the epochs each candidate was trained for, summed
    over rungs) for candidates ``cand``."""
    k = len(cand)
    if name == "200":
        return cand, np.full(k, 200)
    rows = [{"id": j, "status": "ok", "test_acc": float(acc12[i]), "test_n": test_n} for j, i in enumerate(cand)]
    members = [{"id": str(j), "flops": float(flops[i])} for j, i in enumerate(cand)]
    marked = mark_trained_front(rows, members, "flops")
    epochs = np.full(k, 12)
    if second is None:  # 12 epochs only: the answer is the front after training at 12 epochs
        return cand[[int(r["id"]) for r in marked if r["trained_front"]]], epochs
    kept = keep_ids(marked, second, "flops")
    epochs[kept] += 200
    return cand[kept], epochs


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=Path, required=True, help="a benchmarks/search_quality.py --json of the searches")
    p.add_argument("--setting", default=None, help="the setting of the records to use (default: its first)")
    p.add_argument("--k", default="20,40", help="shortlist sizes")
    p.add_argument("--top", default="5,10", help="K of the 'keep rank K' and 'keep top K' schedules")
    p.add_argument("--budget", type=int, default=None, help="cells of each search (default: the records' budget)")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    records = json.loads(args.records.read_text())
    setting = args.setting or next(iter(records["settings"]))
    runs = records["settings"][setting]["runs"]
    budget = args.budget or max(records.get("budgets", [len(runs[0]["indices"])]))
    ks = [int(k) for k in args.k.split(",")]
    plan = schedules([int(t) for t in args.top.split(",")])

    table = load_table()
    eligible = connected_mask(table)
    out: dict[str, Any] = {"machine": machine(), "records": str(args.records), "setting": setting, "budget": budget,
                           "seeds": len(runs), "results": {}}
    rows = []
    for ds in DATASETS:
        truth = true_objectives(ds, table)  # (200-epoch test error %, MFLOPs) of every cell
        front = truth[non_dominated(truth, eligible)]
        acc12 = table.column(TEST_12[ds])
        cost = truth[:, 1]
        for k in ks:
            per: dict[str, dict[str, list[float]]] = {n: {"hv": [], "epochs": [], "flop_epochs": [], "trained": []}
                                                      for n, _ in plan}
            for run in runs:
                idx = np.asarray(run["indices"][:budget])
                F = np.asarray(run["search_F"], dtype=float)[:budget]
                cand = idx[shortlist(F, k, "levels", cost_col=-1, rank_col=None)]
                for name, second in plan:
                    last, epochs = run_schedule(name, second, cand, acc12, cost, TEST_N[ds])
                    per[name]["hv"].append(indicators(truth[last], front)["hv_ratio"])
                    per[name]["epochs"].append(float(epochs.sum()) / (200 * k))
                    per[name]["flop_epochs"].append(float(epochs @ cost[cand]) / (200 * cost[cand].sum()))
                    per[name]["trained"].append(len(last))
            full = np.asarray(per["200"]["hv"])
            for name, _ in plan:
                hv, ep, fe = (np.asarray(per[name][m], dtype=float) for m in ("hv", "epochs", "flop_epochs"))
                diff = hv - full
                out["results"][f"{ds}/{k}/{name}"] = {**{m: list(map(float, v)) for m, v in per[name].items()},
                                                      "hv_mean": float(hv.mean()), "diff_mean": float(diff.mean()),
                                                      "epochs_ratio": float(ep.mean()), "flops_ratio": float(fe.mean())}
                rows.append([ds, k, name, f"{hv.mean():.3f} ± {hv.std():.3f}",
                             f"{diff.mean():+.4f} ± {diff.std():.4f}", f"{diff.min():+.4f}", f"{ep.mean():.2f}",
                             f"{fe.mean():.2f}", f"{np.mean(per[name]['trained']):.1f}"])
    print(f"{setting}: {len(runs)} seeds, {budget} cells each; shortlists by the main job's rule (levels, rank sum)")
    print_table(["dataset", "k", "schedule", "HV ratio", "vs all at 200 (mean ± sd)", "worst seed",
                 "epochs / all at 200", "FLOPs x epochs / all at 200", "answer's cells"], rows)
    if args.json:
        write_json(args.json, out)
    return out


if __name__ == "__main__":
    main()

"""az_nas_gk at half its images: seconds per cell and Kendall tau against NB201 accuracy, full against fast settings.

    python benchmarks/fast_aggregate.py score --seed 0 --n 1000 --json fa_s0.json     # ~25 min on one thread
    python benchmarks/fast_aggregate.py score --seed 1 --n 400 --json fa_s1.json      # the held-out cells
    python benchmarks/fast_aggregate.py analyse fa_s0.json --held-out fa_s1.json

``score`` takes the first ``--n`` connected cells of ``sample_connected("all", seed)``, one per
isomorphism class, and computes on one CPU thread, for each cell, the members of ``az_nas_gk`` at
the full settings (AZ-NAS's pass on 64 Gaussian images, the gradient kernel on 32 examples: the
members' defaults, as the shared packaged reference holds them) and at ``az_nas_gk``'s own (32
images, 16 examples: ``AzNasGkAggregateSettings.member_settings``), timing each pass; the JSON is
rewritten every 50 cells. The images are the packaged CIFAR-10 sample's, as the scorer reads them.

``analyse`` sums the members' log percentile ranks as ``az_nas_gk`` does (``aggregate_of``): the
full values against the shared reference (``rank_reference_<dataset>.npz``), the fast ones
against ``az_nas_gk``'s own (``rank_reference_<dataset>_az_nas_gk.npz``), FLOPs from the shipped
table; and prints Kendall tau with 200-epoch test accuracy on CIFAR-10, CIFAR-100 and
ImageNet16-120, on the scored cells and on the held-out ones (the second file's cells that the
first lacks), with each setting's seconds per cell.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import print_table  # noqa: E402

#: (label, AZ-NAS images, gradient-kernel examples)
SETTINGS = (("full", 64, 32), ("fast", 32, 16))
ACCURACY = {"cifar10": "cifar10_test_200ep", "cifar100": "cifar100_test_200ep",
            "imagenet16-120": "imagenet16_test_200ep"}


def score(seed: int, n: int, out: Path) -> dict[str, Any]:
    """Each cell's members at both settings, with the seconds of each pass."""
    import torch

    from evonas.datasets import dataset_spec
    from evonas.nn.images import load_images
    from evonas.scores import SCORES, aznas
    from evonas.scores.context import ScoreContext
    from evonas.scores.registry import make_settings
    from benchmarks.quality.runs import random_cells

    torch.set_num_threads(1)
    spec = dataset_spec("cifar10")
    data = load_images("cifar10", root=None, split="train", n=64, seed=0)
    cells = random_cells(n, seed)  # one per isomorphism class, in sample_connected("all", seed)'s order
    rows: list[dict[str, Any]] = []
    seconds = {f"az{b}": 0.0 for _, b, _ in SETTINGS} | {f"gk{m}": 0.0 for _, _, m in SETTINGS}
    for i, cell in enumerate(cells, start=1):
        ctx = ScoreContext(cell, torch.device("cpu"), spec, data, 0, 16, 5)
        row: dict[str, Any] = {"index": cell.index}
        for _, b, m in SETTINGS:
            aznas._LAST.clear()
            tic = time.perf_counter()
            s = make_settings("az_expressivity", {"batch_size": b})
            row[f"expr{b}"] = SCORES["az_expressivity"](ctx, s)
            row[f"prog{b}"] = SCORES["az_progressivity"](ctx, s)
            row[f"train{b}"] = SCORES["az_trainability"](ctx, s)
            seconds[f"az{b}"] += time.perf_counter() - tic
            tic = time.perf_counter()
            row[f"gk{m}"] = SCORES["gradient_kernel"](ctx, make_settings("gradient_kernel", {"n_examples": m}))
            seconds[f"gk{m}"] += time.perf_counter() - tic
        rows.append(row)
        if i % 50 == 0 or i == len(cells):
            out.write_text(json.dumps({"seed": seed, "rows": rows, "seconds": seconds}))
            print(f"{i} cells, s/cell " + ", ".join(f"{k} {v / i:.3f}" for k, v in seconds.items()), flush=True)
    return {"rows": rows, "seconds": seconds}


def analyse(first: Path, held_out: Path | None) -> list[list[Any]]:
    """The tau table of both settings on the cells of ``first`` and the held-out cells of ``held_out``."""
    from scipy.stats import kendalltau

    from evonas.analysis.quality import true_objectives
    from evonas.scores.aggregate import aggregate_of
    from evonas.scores.reference import load_reference, reference_path
    from evonas.scores.registry import make_settings
    from evonas.space.table import load_table

    table = load_table()
    flops = true_objectives("cifar10", table)[:, 1]
    members = make_settings("az_nas_gk").members
    refs = {"full": load_reference(str(reference_path("cifar10"))),
            "fast": load_reference(str(reference_path("cifar10", "az_nas_gk")))}
    a = json.loads(first.read_text())
    sets = [(f"{len(a['rows'])} cells (seed {a['seed']})", a)]
    if held_out is not None:
        b = json.loads(held_out.read_text())
        scored = {r["index"] for r in a["rows"]}
        rows = [r for r in b["rows"] if r["index"] not in scored]
        sets.append((f"{len(rows)} held-out cells (seed {b['seed']})", {**b, "rows": rows}))
    out = []
    for label, run in sets:
        idx = np.array([r["index"] for r in run["rows"]])
        n_timed = len(json.loads((first if run is a else held_out).read_text())["rows"])
        for name, az, gk in SETTINGS:
            values = [aggregate_of({"az_expressivity": r[f"expr{az}"], "az_progressivity": r[f"prog{az}"],
                                    "az_trainability": r[f"train{az}"], "gradient_kernel": r[f"gk{gk}"],
                                    "flops": flops[r["index"]]}, members, refs[name]) for r in run["rows"]]
            taus = [kendalltau(values, table.column(col)[idx])[0] for col in ACCURACY.values()]
            per_cell = (run["seconds"][f"az{az}"] + run["seconds"][f"gk{gk}"]) / n_timed
            out.append([label, f"{name} ({az} images / {gk} examples)", *(f"{t:.3f}" for t in taus), f"{per_cell:.3f}"])
    print_table(["cells", "az_nas_gk members", "tau C10", "tau C100", "tau IN16", "s/cell (AZ pass + kernel)"], out)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("score")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--n", type=int, default=1000)
    s.add_argument("--json", type=Path, required=True)
    a = sub.add_parser("analyse")
    a.add_argument("first", type=Path)
    a.add_argument("--held-out", type=Path, default=None)
    args = p.parse_args(argv)
    if args.command == "score":
        score(args.seed, args.n, args.json)
    else:
        analyse(args.first, args.held_out)


if __name__ == "__main__":
    main()

"""Rank measures of each training-free score against NB201 accuracy, and the quality of its (score, FLOPs) front.

Samples ``--n`` connected cells (seeded), scores them through the scorer pool, and prints per
score, against the shipped 200-epoch test accuracy on CIFAR-10, CIFAR-100 and ImageNet16-120:

- Kendall tau and Spearman rho over the sample, the median seconds per cell, the failures;
- **tau within FLOPs bins**: Kendall tau inside ``--bins`` equal-count bins of fvcore FLOPs
  (quintiles by default; the shipped ``flops_<dataset>`` column), mean weighted by bin size
  (``evonas.analysis.quality.within_bin_tau``): how well the score ranks cells of similar cost, the part
  of its ranking a search that already minimises FLOPs can use;
- **front HV ratio**: the sample's cells non-dominated under (score, FLOPs), judged on (true test
  error, FLOPs) and normalised to the true NB201 front as ``benchmarks/search_quality.py`` does
  (``evonas.analysis.quality.score_front_hv_ratio``), with the size of that front.

Images: CIFAR-10 columns are scored on the packaged CIFAR-10 sample, CIFAR-100 columns on the
packaged CIFAR-100 sample (100-class head). No ImageNet16-120 images ship with evonas, so the
ImageNet16-120 columns reuse the CIFAR-10 scores (pass ``--imagenet-root DIR`` holding
NB201's ImageNet16 pickles to score on real ImageNet16-120 images instead); their FLOPs and
errors are ImageNet16-120's.

Taus are raw in the first table: a ``min`` score (lower is better) that ranks well has a negative
tau. The ``adj`` columns, and every column of the second table, multiply by -1 for ``min``
scores, so larger is better for every row. The JSON keeps every cell's values; ``--from-json``
re-analyses them without scoring.

    python benchmarks/score_correlation.py --scores knas,ntk_cond,linear_regions,synflow,naswot,params,flops \
        --n 500 --seed 0 --backend ray --actors 2 --json OUT.json
    python benchmarks/score_correlation.py --from-json OUT.json --bins 10
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHORT, machine, parse_score_settings, print_table, rank_correlations, write_json  # noqa: E402

from evonas.analysis.quality import score_front_hv_ratio, true_front_points, true_objectives, within_bin_tau  # noqa: E402
from evonas.scores.registry import minimise_sign  # noqa: E402
from evonas.datasets import DATASETS  # noqa: E402
from evonas.space.table import load_table, sample_connected  # noqa: E402

DEFAULT_SCORES = "knas,ntk_cond,linear_regions,synflow,naswot,params,flops"


def score_all(cells, scores, settings, dataset, root, args) -> dict[str, Any]:
    """Per score, the value and seconds of each cell (nan where it failed), and the failure count."""
    from evonas.config.schema import RayConfig
    from evonas.engine.pool import make_pool
    from evonas.engine.records import ScorerSpec

    spec = ScorerSpec(scores=tuple(scores), settings=settings, dataset=DATASETS[dataset], data_root=root, seed=args.seed,
                      C=args.C, N=args.N, device=args.device)
    position = {c.arch: i for i, c in enumerate(cells)}
    values = {s: np.full(len(cells), np.nan) for s in scores}
    times = {s: np.full(len(cells), np.nan) for s in scores}
    failures = 0
    with make_pool(spec, RayConfig(backend=args.backend, num_actors=args.actors)) as pool:
        for ev in tqdm(pool.map_unordered(cells), total=len(cells), desc=f"scoring on {dataset}", unit="cell"):
            i = position[ev.arch]
            failures += not ev.ok
            for s in scores:
                values[s][i] = ev.values.get(s, np.nan)
                times[s][i] = ev.times.get(s, np.nan)
    return {"values": {s: v.tolist() for s, v in values.items()}, "seconds": {s: t.tolist() for s, t in times.items()},
            "failures": failures}


def measures(values: np.ndarray, direction: str, idx: np.ndarray, dataset: str, n_bins: int) -> dict[str, Any]:
    """Rank correlations, within-FLOPs tau and the paired-front HV ratio of one score on one data set."""
    T = true_objectives(dataset)[idx]  # (test error %, MFLOPs)
    acc, flops = 100.0 - T[:, 0], T[:, 1]
    tau, rho = rank_correlations(values, acc)
    ratio, size = score_front_hv_ratio(values, direction, flops, T[:, 0], true_front_points(dataset))
    return {"kendall_tau": tau, "spearman": rho, "tau_within_flops": within_bin_tau(values, acc, flops, n_bins),
            "front_hv_ratio": ratio, "front_size": size}


def analyse(data: dict[str, Any], scores: list[str], n_bins: int) -> dict[str, Any]:
    """Every measure of every score on every data set, from the stored per-cell values."""
    idx = np.asarray(data["indices"])
    passes = data["passes"]
    results = {}
    for s in scores:
        direction = data["directions"][s]
        sign = -minimise_sign(direction)  # larger is better in the score's direction
        per = {d: measures(np.asarray(passes[d if d in passes else "cifar10"]["values"][s], dtype=float), direction,
                           idx, d, n_bins) for d in DATASETS}
        fails = float(np.mean([np.mean(~np.isfinite(np.asarray(p["values"][s], dtype=float)))
                               for p in passes.values()]))
        results[s] = {"direction": data["directions"][s],
                      **{k: {d: per[d][k] for d in DATASETS} for k in next(iter(per.values()))},
                      "kendall_tau_adjusted": {d: sign * per[d]["kendall_tau"] for d in DATASETS},
                      "tau_within_flops_adjusted": {d: sign * per[d]["tau_within_flops"] for d in DATASETS},
                      "sec_per_arch": float(np.nanmedian(passes["cifar10"]["seconds"][s])), "failures": fails}
    return results


def print_tables(results: dict[str, Any], data: dict[str, Any], n_bins: int) -> None:
    print(f"{len(data['indices'])} connected cells (seed {data['seed']}), C={data['C']} N={data['N']}, "
          f"{data['machine']}; images: " + "; ".join(f"{SHORT[d]}: {v}" for d, v in data["images"].items()))
    rows = []
    for s, r in results.items():
        sign = -minimise_sign(r["direction"])
        rows.append([s, r["direction"], *(r["kendall_tau"][d] for d in DATASETS), *(r["spearman"][d] for d in DATASETS),
                     *(sign * r["kendall_tau"][d] for d in DATASETS), r["sec_per_arch"], r["failures"]])
    print_table(["score", "dir", *(f"tau {SHORT[d]}" for d in DATASETS), *(f"rho {SHORT[d]}" for d in DATASETS),
                 *(f"adj tau {SHORT[d]}" for d in DATASETS), "s/arch (C10)", "failed"], rows)
    print(f"\nsearch-quality measures (adj: larger is better): tau within {n_bins} equal-count FLOPs bins; "
          f"HV ratio of the sample's (score, FLOPs) front on true (test error, FLOPs), front size in brackets")
    rows = []
    for s, r in results.items():
        sign = -minimise_sign(r["direction"])
        rows.append([s, *(sign * r["kendall_tau"][d] for d in DATASETS),
                     *(sign * r["tau_within_flops"][d] for d in DATASETS),
                     *(f"{r['front_hv_ratio'][d]:.3f} ({r['front_size'][d]})" for d in DATASETS)])
    print_table(["score", *(f"adj tau {SHORT[d]}" for d in DATASETS),
                 *(f"adj tau in FLOPs bins {SHORT[d]}" for d in DATASETS),
                 *(f"front HV {SHORT[d]}" for d in DATASETS)], rows)


def collect(args: argparse.Namespace, scores: list[str]) -> dict[str, Any]:
    """Score the sample on every data-set pass; the per-cell values and what produced them."""
    from evonas.scores import get_score

    directions = {s: get_score(s).direction for s in scores}  # unknown names fail before any scoring
    settings = parse_score_settings(args.score_set)
    cells = sample_connected(args.n, args.seed)
    table = load_table()
    images = {"cifar10": "CIFAR-10 packaged sample", "cifar100": "CIFAR-100 packaged sample"}
    passes = {"cifar10": ("cifar10", None), "cifar100": ("cifar100", None)}
    if args.imagenet_root:
        passes["imagenet16-120"] = ("imagenet16-120", args.imagenet_root)
        images["imagenet16-120"] = f"ImageNet16-120 from {args.imagenet_root}"
    else:
        images["imagenet16-120"] = "CIFAR-10 scores reused (no ImageNet16 images shipped)"
    return {"indices": [table.index(c) for c in cells], "seed": args.seed, "C": args.C, "N": args.N,
            "backend": f"{args.backend} x{args.actors}", "machine": machine(), "images": images,
            "directions": directions, "score_set": args.score_set,
            "passes": {d: score_all(cells, scores, settings, name, root, args) for d, (name, root) in passes.items()}}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scores", default=None, help=f"comma list (default {DEFAULT_SCORES}; with --from-json: "
                                                       "every stored score)")
    parser.add_argument("--n", default="500", help="number of cells, or 'all'")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", default="ray", choices=["ray", "serial"])
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--C", type=int, default=16)
    parser.add_argument("--N", type=int, default=5)
    parser.add_argument("--score-set", action="append", default=[], metavar="SCORE.KEY=VALUE",
                        help="a score's setting, e.g. gradient_kernel.statistic=logdet")
    parser.add_argument("--bins", type=int, default=5, help="equal-count FLOPs bins of the within-bin tau")
    parser.add_argument("--imagenet-root", default=None, help="directory holding ImageNet16/ (optional)")
    parser.add_argument("--from-json", type=Path, default=None, help="re-analyse the per-cell values of an earlier "
                                                                      "--json instead of scoring")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    if args.bins < 1:
        parser.error(f"--bins must be >= 1, got {args.bins}")
    if args.from_json is not None:
        data = json.loads(args.from_json.read_text())["per_cell"]
        stored = list(data["directions"])
        scores = [s.strip() for s in args.scores.split(",") if s.strip()] if args.scores else stored
        missing = [s for s in scores if s not in stored]
        if missing:
            parser.error(f"--scores {missing} are not in {args.from_json}; it holds {stored}")
    else:
        scores = [s.strip() for s in (args.scores or DEFAULT_SCORES).split(",") if s.strip()]
        data = collect(args, scores)
    results = analyse(data, scores, args.bins)
    print_tables(results, data, args.bins)
    out = {"bins": args.bins, "scores": results, "per_cell": data}
    write_json(args.json, out)
    return out


if __name__ == "__main__":
    main()

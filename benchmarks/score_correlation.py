"""How well does each training-free score rank NB201 cells? Rank correlation with 200-epoch accuracy.

Samples ``--n`` connected cells (seeded), scores them through the scorer pool, and prints per
score Kendall tau and Spearman rho with the shipped 200-epoch test accuracy on CIFAR-10,
CIFAR-100 and ImageNet16-120, the median seconds per cell and the failure fraction.

Images: CIFAR-10 columns are scored on the packaged CIFAR-10 sample, CIFAR-100 columns on the
packaged CIFAR-100 sample (100-class head). No ImageNet16-120 images ship with evonas, so the
ImageNet16-120 columns reuse the CIFAR-10 scores (pass ``--imagenet-root DIR`` holding
NB201's ImageNet16 pickles to score on real ImageNet16-120 images instead).

Taus are raw: a ``min`` score (lower is better) that ranks well has a negative tau. The
``adj`` columns multiply by -1 for ``min`` scores, so larger is better for every row.

    python benchmarks/score_correlation.py --scores knas,ntk_cond,linear_regions,synflow,naswot,params,flops \
        --n 500 --seed 0 --backend ray --actors 2 --json OUT.json
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import accuracy, machine, print_table, rank_correlations, sample_connected, write_json  # noqa: E402

from evonas.pool import ScorerSpec, make_pool  # noqa: E402
from evonas.scores import get_score  # noqa: E402

DATASETS = ("cifar10", "cifar100", "imagenet16-120")
SHORT = {"cifar10": "C10", "cifar100": "C100", "imagenet16-120": "IN16"}


def score_all(cells, scores, dataset, root, args) -> tuple[dict, dict, int]:
    """values[score] and times[score] per cell (nan where it failed), and the failure count."""
    spec = ScorerSpec(scores=tuple(scores), dataset=dataset, data_root=root, seed=args.seed, C=args.C, N=args.N,
                      device=args.device)
    position = {c.arch: i for i, c in enumerate(cells)}
    values = {s: np.full(len(cells), np.nan) for s in scores}
    times = {s: np.full(len(cells), np.nan) for s in scores}
    failures = 0
    with make_pool(spec, backend=args.backend, num_actors=args.actors) as pool:
        for ev in tqdm(pool.map_unordered(cells), total=len(cells), desc=f"scoring on {dataset}", unit="cell"):
            i = position[ev.arch]
            failures += not ev.ok
            for s in scores:
                values[s][i] = ev.values.get(s, np.nan)
                times[s][i] = ev.times.get(s, np.nan)
    return values, times, failures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scores", default="knas,ntk_cond,linear_regions,synflow,naswot,params,flops")
    parser.add_argument("--n", default="500", help="number of cells, or 'all'")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", default="ray", choices=["ray", "serial"])
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--C", type=int, default=16)
    parser.add_argument("--N", type=int, default=5)
    parser.add_argument("--imagenet-root", default=None, help="directory holding ImageNet16/ (optional)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    scores = [s.strip() for s in args.scores.split(",") if s.strip()]
    infos = {s: get_score(s) for s in scores}
    cells = sample_connected(args.n, args.seed)

    images = {"cifar10": "CIFAR-10 packaged sample", "cifar100": "CIFAR-100 packaged sample"}
    passes = {"cifar10": ("cifar10", None), "cifar100": ("cifar100", None)}
    if args.imagenet_root:
        passes["imagenet16-120"] = ("imagenet16-120", args.imagenet_root)
        images["imagenet16-120"] = f"ImageNet16-120 from {args.imagenet_root}"
    else:
        images["imagenet16-120"] = "CIFAR-10 scores reused (no ImageNet16 images shipped)"
    scored = {d: score_all(cells, scores, name, root, args) for d, (name, root) in passes.items()}
    if "imagenet16-120" not in scored:
        scored["imagenet16-120"] = scored["cifar10"]

    results, rows = {}, []
    for s in scores:
        sign = 1.0 if infos[s].direction == "max" else -1.0
        tau, rho = {}, {}
        for d in DATASETS:
            tau[d], rho[d] = rank_correlations(scored[d][0][s], accuracy(cells, d))
        sec = float(np.nanmedian(scored["cifar10"][1][s]))
        fails = float(np.mean([np.mean(~np.isfinite(scored[d][0][s])) for d in passes]))
        results[s] = {"direction": infos[s].direction, "kendall_tau": tau, "spearman": rho,
                      "kendall_tau_adjusted": {d: sign * t for d, t in tau.items()},
                      "sec_per_arch": sec, "failures": fails, "images": images}
        rows.append([s, infos[s].direction, *(tau[d] for d in DATASETS), *(rho[d] for d in DATASETS),
                     *(sign * tau[d] for d in DATASETS), sec, fails])
    print(f"{len(cells)} connected cells (seed {args.seed}), C={args.C} N={args.N}, backend {args.backend} "
          f"x{args.actors}, {machine()}; images: " + "; ".join(f"{SHORT[d]}: {v}" for d, v in images.items()))
    print_table(["score", "dir", *(f"tau {SHORT[d]}" for d in DATASETS), *(f"rho {SHORT[d]}" for d in DATASETS),
                 *(f"adj tau {SHORT[d]}" for d in DATASETS), "s/arch (C10)", "failed"], rows)
    write_json(args.json, results)


if __name__ == "__main__":
    main()

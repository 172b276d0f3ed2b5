"""Which gradient-kernel variant ranks NB201 cells best? Kendall tau of each variant with accuracy.

For each of ``--n`` random connected cells (fixed seed), the exact per-tensor Gram matrices of
per-example gradients are computed once per batch-norm mode; every variant (parameters,
centring, normalisation, statistic) is derived from them. Log scale is not a separate
variant: a monotone map leaves Kendall tau unchanged. Prints the ``--top`` variants by mean
tau over CIFAR-10, CIFAR-100 and ImageNet16-120 (200-epoch test accuracy), plus params.

    python benchmarks/gradient_kernel_variants.py --n 200 --seed 0 --examples 32 --json OUT.json
"""
from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import accuracy, print_table, rank_correlations, sample_connected, write_json  # noqa: E402

from evonas.cost import count_parameters, dataset_spec  # noqa: E402
from evonas.datasets import load_images  # noqa: E402
from evonas.model import build_network  # noqa: E402
from evonas.scores import ScoreContext  # noqa: E402
from evonas.scores.gradient_kernel import GradientKernelSettings, kernel_statistic, tensor_grams  # noqa: E402

DATASETS = ("cifar10", "cifar100", "imagenet16-120")


def variants(bn_modes: list[str], examples: int, batch_size: int) -> list[GradientKernelSettings]:
    out = []
    for bn, params, normalise, statistic, centre in itertools.product(
            bn_modes, ("all", "weights", "first"), ("none", "params", "norm"), ("mean", "offdiag", "diag"),
            (False, True)):
        if (centre and statistic == "mean") or (normalise == "norm" and statistic == "diag"):
            continue  # constant: the mean of a centred Gram matrix is 0, a cosine kernel's diagonal is 1
        out.append(GradientKernelSettings(n_examples=examples, batch_size=batch_size, bn=bn, params=params, normalise=normalise,
                                          statistic=statistic, centre=centre))
    return out


def label(s: GradientKernelSettings) -> str:
    return f"bn={s.bn} params={s.params} norm={s.normalise} stat={s.statistic}{' centred' if s.centre else ''}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="200", help="number of cells, or 'all'")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--examples", type=int, default=32, help="examples per Gram matrix")
    parser.add_argument("--batch-size", type=int, default=1, help="examples per gradient (mini-batch)")
    parser.add_argument("--bn", default="sample,batch,eval", help="batch-norm modes to try")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cells = sample_connected(args.n, args.seed)
    data = load_images("cifar10", n=args.examples, seed=args.seed)
    spec = dataset_spec("cifar10")
    modes = args.bn.split(",")
    grid = variants(modes, args.examples, args.batch_size)
    values = {label(s): [] for s in grid}
    seconds = {m: [] for m in modes}
    params = []
    for cell in cells:
        ctx = ScoreContext(cell, torch.device("cpu"), spec, data, args.seed)
        params.append(count_parameters(build_network(cell)))
        grams = {}
        for mode in modes:
            start = time.perf_counter()
            grams[mode] = tensor_grams(ctx, args.examples, args.batch_size, mode, args.seed)
            seconds[mode].append(time.perf_counter() - start)
        for s in grid:
            values[label(s)].append(kernel_statistic(grams[s.bn], s))
    acc = {d: accuracy(cells, d) for d in DATASETS}
    results = {}
    for name, vals in list(values.items()) + [("params (reference)", params)]:
        taus = {d: rank_correlations(vals, acc[d])[0] for d in DATASETS}
        results[name] = {"kendall_tau": taus, "mean_tau": float(np.mean(list(taus.values())))}
    ranked = sorted(results.items(), key=lambda kv: -np.nan_to_num(kv[1]["mean_tau"], nan=-9))
    rows = [[name, *(r["kendall_tau"][d] for d in DATASETS), r["mean_tau"]] for name, r in ranked[: args.top]]
    if not any(name == "params (reference)" for name, _ in ranked[: args.top]):
        r = results["params (reference)"]
        rows.append(["params (reference)", *(r["kendall_tau"][d] for d in DATASETS), r["mean_tau"]])
    print(f"{len(cells)} connected cells, seed {args.seed}, {args.examples} CIFAR-10 examples in mini-batches of "
          f"{args.batch_size}; "
          f"median s/cell per BN mode: " + ", ".join(f"{m} {np.median(seconds[m]):.2f}" for m in modes))
    print_table(["variant", "tau C10", "tau C100", "tau IN16", "mean"], rows)
    write_json(args.json, {"n": len(cells), "seed": args.seed, "examples": args.examples, "batch_size": args.batch_size,
                           "sec_per_cell": {m: float(np.median(seconds[m])) for m in modes},
                           "variants": results})


if __name__ == "__main__":
    main()

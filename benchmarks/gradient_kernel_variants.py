"""Rank measures of every gradient-kernel variant against NB201 accuracy: which variant ranks cells best.

For each of ``--n`` random connected cells (fixed seed), the exact per-tensor Gram matrices of
per-example gradients are computed once per (examples, examples per class, batch-norm mode);
every variant (centring, normalisation, statistic, per-layer aggregation) is derived from them.
Log scale is not a separate variant: a monotone map leaves every measure unchanged.

Per variant and data set (200-epoch test accuracy of CIFAR-10, CIFAR-100, ImageNet16-120;
scores always on CIFAR-10 images, 10-class head): Kendall tau, Spearman rho, Kendall tau
within FLOPs quintiles (``evonas.analysis.quality.within_bin_tau``), the HV ratio of the front the
score returns paired with FLOPs (``evonas.analysis.quality.score_front_hv_ratio``), and s/cell (the
Gram matrices plus the statistic, median). ``--values`` keeps every cell's value of every
variant; ``--from-values`` re-analyses such a file without scoring.

Held-out cells: ``--exclude-seed 0 --exclude-n 500`` drops the first 500 cells of seed 0
from the sample (use with ``--seed 1``).

    python benchmarks/gradient_kernel_variants.py --n 150 --seed 0 --workers 2 --values gk_150.json
    python benchmarks/gradient_kernel_variants.py --n 500 --seed 0 --workers 2 --grid default \\
        --examples 32 --bn sample --values gk_500.json
"""
from __future__ import annotations

import argparse
import functools
import itertools
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHORT, print_table, rank_correlations, write_json  # noqa: E402

from evonas.datasets import DATASETS, dataset_spec  # noqa: E402
from evonas.nn.images import load_images  # noqa: E402
from evonas.errors import ConfigError  # noqa: E402
from evonas.nn.network import build_network  # noqa: E402
from evonas.analysis.quality import score_front_hv_ratio, true_front_points, true_objectives, within_bin_tau  # noqa: E402
from evonas.scores import ScoreContext  # noqa: E402
from evonas.scores.gradient_kernel import STATISTICS, kernel_statistic, tensor_grams  # noqa: E402
from evonas.scores.settings import GradientKernelSettings  # noqa: E402
from evonas.space.cell import Cell  # noqa: E402
from evonas.space.table import load_table, sample_connected  # noqa: E402



def variants(bn_modes: list[str], examples: list[int], per_class: list[int], grid: str,
             stats: list[str] | None = None, only: list[dict[str, Any]] | None = None) -> list[GradientKernelSettings]:
    """The settings to measure: the ``screen`` grid (of ``stats``, all when None), or each Gram configuration's default."""
    out = []
    for n, k, bn in itertools.product(examples, per_class, bn_modes):
        if grid == "default":
            out.append(GradientKernelSettings(n_examples=n, per_class=k, bn=bn))
            continue
        if only:
            for kw in only:
                try:
                    out.append(GradientKernelSettings(n_examples=n, per_class=k, bn=bn, **kw))
                except ConfigError:  # n not a multiple of per_class
                    continue
            continue
        for statistic, normalise, layers, centre in itertools.product(
                stats or STATISTICS, ("none", "norm"), ("sum", "log_sum"), (False, True)):
            try:
                out.append(GradientKernelSettings(n_examples=n, per_class=k, bn=bn, statistic=statistic,
                                                  normalise=normalise, layers=layers, centre=centre))
            except ConfigError:  # combinations the settings reject (constant, or n not a multiple of per_class)
                continue
    return out


def parse_variant(text: str) -> dict[str, Any]:
    """'statistic=logdet,normalise=norm,centre=true' -> keyword arguments of GradientKernelSettings."""
    kw: dict[str, Any] = {}
    for item in text.split(","):
        key, _, value = item.partition("=")
        kw[key] = {"true": True, "false": False}.get(value, value)
    return kw


def label(s: GradientKernelSettings) -> str:
    d = GradientKernelSettings()
    gram = f"n={s.n_examples}{f' pc={s.per_class}' if s.per_class else ''} bn={s.bn}"
    return (f"{gram} stat={s.statistic} norm={s.normalise} layers={s.layers}{' centred' if s.centre else ''}"
            f"{' params=' + s.params if s.params != d.params else ''}")


def gram_key(s: GradientKernelSettings) -> tuple[int, int, str]:
    return s.n_examples, s.per_class, s.bn


def _score_chunk(job: tuple[list[str], list[GradientKernelSettings], int]) -> list[dict[str, Any]]:
    arches, grid, seed = job
    torch.set_num_threads(1)
    data = load_images("cifar10", n=max(s.n_images for s in grid), seed=seed)
    spec = dataset_spec("cifar10")
    rows = []
    for arch in arches:
        ctx = ScoreContext(Cell.parse(arch), torch.device("cpu"), spec, data, seed)
        grams, gram_sec, values, seconds = {}, {}, {}, {}
        for s in grid:
            key = gram_key(s)
            if key not in grams:
                start = time.perf_counter()
                grams[key] = tensor_grams(ctx, s.n_examples, s.batch_size, s.bn, seed, s.per_class)
                gram_sec[key] = time.perf_counter() - start
            start = time.perf_counter()
            values[label(s)] = kernel_statistic(grams[key], s)
            seconds[label(s)] = gram_sec[key] + time.perf_counter() - start
        rows.append({"arch": arch, "values": values, "seconds": seconds})
    return rows


def score_cells(cells: list[Cell], grid: list[GradientKernelSettings], seed: int, workers: int) -> dict[str, Any]:
    chunks = [([c.arch for c in cells[i:i + 10]], grid, seed) for i in range(0, len(cells), 10)]
    rows: list[dict[str, Any]] = []
    start = time.time()
    with ProcessPoolExecutor(workers) as pool:
        for part in pool.map(_score_chunk, chunks):
            rows.extend(part)
            print(f"  {len(rows)}/{len(cells)} cells, {time.time() - start:.0f} s", file=sys.stderr, flush=True)
    names = [label(s) for s in grid]
    return {"arches": [r["arch"] for r in rows],
            "values": {n: [r["values"][n] for r in rows] for n in names},
            "seconds": {n: float(np.median([r["seconds"][n] for r in rows])) for n in names}}


@functools.lru_cache(maxsize=None)
def _truth(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    return true_objectives(dataset), true_front_points(dataset)


def measures(values: list[float], idx: np.ndarray, direction: str = "max") -> dict[str, dict[str, float]]:
    """tau, rho, within-FLOPs-quintile tau and paired-front HV ratio per data set (raw signs)."""
    out = {}
    v = np.asarray(values, dtype=float)
    for d in DATASETS:
        objectives, front = _truth(d)
        T = objectives[idx]
        acc, flops = 100.0 - T[:, 0], T[:, 1]
        tau, rho = rank_correlations(v, acc)
        hv, size = score_front_hv_ratio(v, direction, flops, T[:, 0], front)
        out[d] = {"tau": tau, "rho": rho, "within_tau": within_bin_tau(v, acc, flops, 5), "hv": hv, "front": size}
    return out


def report(result: dict[str, Any], top: int) -> None:
    table = load_table()
    idx = np.array([table.index(Cell.parse(a)) for a in result["arches"]])
    rows = []
    names = list(result["values"])
    flops = true_objectives("cifar10")[idx][:, 1]
    entries = [(n, result["values"][n], result["seconds"].get(n, float("nan")), "max") for n in names]
    entries.append(("flops (reference, larger ranked better)", list(flops), float("nan"), "max"))
    tensors = [len(list(build_network(Cell.parse(a)).parameters())) for a in result["arches"]]
    entries.append(("parameter tensors (reference: a count, no data)", tensors, float("nan"), "max"))
    for name, vals, sec, direction in entries:
        m = measures(vals, idx, direction)
        rows.append([name, *(m[d]["tau"] for d in DATASETS), *(m[d]["rho"] for d in DATASETS),
                     m["cifar10"]["within_tau"], m["cifar10"]["hv"], m["cifar10"]["front"], sec])
    rows.sort(key=lambda r: -np.nan_to_num(r[1], nan=-9))
    print(f"{len(idx)} connected cells; scores on CIFAR-10 images (10-class head) for every column")
    print_table(["variant", *(f"tau {SHORT[d]}" for d in DATASETS), *(f"rho {SHORT[d]}" for d in DATASETS),
                 "within-FLOPs tau C10", "front HV C10", "front size", "s/cell"], rows[:top])
    result["measures"] = {r[0]: dict(zip(["tau_c10", "tau_c100", "tau_in16", "rho_c10", "rho_c100", "rho_in16",
                                          "within_tau_c10", "hv_c10", "front_c10", "sec"], r[1:])) for r in rows}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="150", help="number of cells, or 'all'")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--exclude-seed", type=int, default=None, help="drop the cells of this seed's sample")
    parser.add_argument("--exclude-n", type=int, default=500, help="how many cells of --exclude-seed to drop")
    parser.add_argument("--examples", default="32", help="examples per Gram matrix (comma-separated)")
    parser.add_argument("--per-class", default="0", help="examples per class (comma-separated; 0: first images)")
    parser.add_argument("--bn", default="sample,batch,eval", help="batch-norm modes to try")
    parser.add_argument("--grid", choices=("screen", "default"), default="screen")
    parser.add_argument("--stats", default=None, help="statistics of the screen grid (comma-separated; all by default)")
    parser.add_argument("--variant", action="append", default=None,
                        help="only these variants, e.g. 'statistic=decile_entropy,layers=log_sum' (repeatable)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--values", default=None, help="write per-cell values and measures (JSON)")
    parser.add_argument("--from-values", default=None, help="re-analyse a --values file")
    args = parser.parse_args(argv)
    if args.from_values:
        result = json.loads(Path(args.from_values).read_text())
    else:
        cells = sample_connected("all" if args.exclude_seed is not None else args.n, args.seed)
        if args.exclude_seed is not None:
            seen = {c.arch for c in sample_connected(args.exclude_n, args.exclude_seed)}
            cells = [c for c in cells if c.arch not in seen][: int(args.n)]
        grid = variants(args.bn.split(","), [int(v) for v in args.examples.split(",")],
                        [int(v) for v in args.per_class.split(",")], args.grid,
                        args.stats.split(",") if args.stats else None,
                        [parse_variant(v) for v in args.variant] if args.variant else None)
        print(f"{len(cells)} cells x {len(grid)} variants, {args.workers} workers", file=sys.stderr)
        result = score_cells(cells, grid, args.seed, args.workers)
        result.update(n=len(cells), seed=args.seed, exclude_seed=args.exclude_seed, exclude_n=args.exclude_n)
    report(result, args.top)
    write_json(args.values, result)


if __name__ == "__main__":
    main()

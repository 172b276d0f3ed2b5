"""Rank agreement of latency measured on this machine with the shipped latency table and FLOPs, and its noise.

Samples ``--n`` connected cells and times each on this machine twice (two full passes, so
slow drift and bursts of load from other processes show as noise), exactly as the
``latency`` score does (its settings, its thread count, ``measure_latency``), keeping the
median of the repeats (the score's value) and their minimum. Prints one table: Spearman's
rho between the per-cell mean over the two passes and each column of the shipped table
(CPU, edge and GPU settings) and fvcore FLOPs; the last column gives, for comparison, the
rho between fvcore FLOPs and that reference on the same cells. Then the run-to-run noise
(Spearman between the passes, median relative difference |a - b| / mean(a, b)).

    nice python benchmarks/latency_check.py --n 200 --seed 0 --json latency_check.json
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from evonas.nn.flops import count_flops
from evonas.datasets import dataset_spec
from evonas.nn.devices import device_name, resolve_device
from evonas.nn.timing import cpu_threads, measure_latency
from evonas.scores import ScoreContext, make_settings
from evonas.scores.settings import LatencySettings
from evonas.space.latency_table import latency_columns
from evonas.space.table import sample_uniform

CPU = ("gold_6226", "gold_6240", "silver_4114", "silver_4210r")
EDGE = ("raspi4", "pixel2", "pixel3", "samsung_a50", "samsung_s7", "essential_ph_1", "eyeriss", "fpga")
STATS = ("median", "min")


def kind(column: str) -> str:
    return "cpu" if column in CPU else "edge" if column in EDGE else "gpu"


def time_cell(ctx: ScoreContext, s: LatencySettings) -> tuple[float, float]:
    """(median, min) in ms, measured the way the ``latency`` score measures."""
    with cpu_threads(s.threads if ctx.device.type == "cpu" else None):
        stats = measure_latency(ctx.network(), resolution=ctx.dataset.resolution, batch_size=s.batch_size,
                                warmup=s.warmup, repeats=s.repeats, device=ctx.device,
                                channels_last=s.channels_last, amp=s.amp, compile=s.compile)
    return stats.median_ms, stats.min_ms


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(spearmanr(a, b).statistic)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--threads", type=int, default=1, help="CPU intra-op threads while timing")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    device, spec = resolve_device(args.device), dataset_spec(args.dataset)
    settings = make_settings("latency", {"batch_size": args.batch_size, "warmup": args.warmup,
                                         "repeats": args.repeats, "threads": args.threads})
    cells = sample_uniform(args.n, args.seed)
    contexts = [ScoreContext(c, device, spec, seed=args.seed) for c in cells]

    load_before, start = os.getloadavg()[0], time.perf_counter()
    # runs[pass, cell, stat]: two full passes over the cells
    runs = np.array([[time_cell(ctx, settings) for ctx in contexts] for _ in range(2)])
    measure_s, load_after = time.perf_counter() - start, os.getloadavg()[0]
    flops = np.array([count_flops(ctx.network(), spec.resolution) for ctx in contexts])
    measured = runs.mean(axis=0)  # (cell, stat)
    index = np.array([c.index for c in cells])

    refs = [(name, kind(name), column[index]) for name, column in latency_columns().items()]
    rows = [(name, k, [spearman(measured[:, j], ref) for j in range(len(STATS))] + [spearman(flops, ref)])
            for name, k, ref in refs]
    rows.sort(key=lambda r: (("cpu", "edge", "gpu").index(r[1]), -r[2][0]))
    rows.append(("fvcore FLOPs", "cost", [spearman(measured[:, j], flops) for j in range(len(STATS))] + [1.0]))
    noise = {"run 1 vs run 2": [spearman(runs[0, :, j], runs[1, :, j]) for j in range(len(STATS))],
             "median |rel diff|": [float(np.median(np.abs(runs[0, :, j] - runs[1, :, j]) / measured[:, j]))
                                   for j in range(len(STATS))]}

    name = device_name(device)
    print(f"latency_check: n={args.n} connected cells (seed {args.seed}), {args.dataset}, batch {args.batch_size}, "
          f"{args.threads} thread(s), warmup {args.warmup}, repeats {args.repeats}, on {name}")
    print(f"median-of-repeats latency over cells: median {np.median(measured[:, 0]):.2f} ms, range "
          f"{measured[:, 0].min():.2f} .. {measured[:, 0].max():.2f}; 2 passes took {measure_s:.0f} s; "
          f"1-min load average {load_before:.2f} before, {load_after:.2f} after")
    print(f"{'reference':<18} {'kind':<5} " + " ".join(f"{'rho ' + s:>10}" for s in STATS) + f" {'FLOPs rho':>10}")
    for ref, k, rhos in rows:
        print(f"{ref:<18} {k:<5} " + " ".join(f"{r:>10.3f}" for r in rhos))
    for label, values in noise.items():
        print(f"{label:<18} {'noise':<5} " + " ".join(f"{v:>10.3f}" for v in values))

    result = {
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "device": name, "torch": torch.__version__, "measure_seconds": measure_s,
        "load_average": [load_before, load_after],
        "spearman": {ref: dict(zip((*STATS, "flops"), rhos)) for ref, _, rhos in rows},
        "noise": {label: dict(zip(STATS, values)) for label, values in noise.items()},
        "archs": [{"index": int(i), "arch": c.arch, "flops": float(f),
                   **{f"run{p + 1}_{s}_ms": float(runs[p, k, j]) for p in range(2) for j, s in enumerate(STATS)}}
                  for k, (i, c, f) in enumerate(zip(index, cells, flops))],
    }
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()

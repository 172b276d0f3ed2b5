"""Build the reference sample ``gradient_kernel_agg`` ranks member scores against.

    python -m evonas.data.build_reference [--dataset cifar10] [--n 200] [--seed 20260] [--workers 2]

Scores ``--n`` random connected cells (sample seed ``--seed``, distinct from the benchmark
seeds 0 and 1) with every ``--members`` score at its current default settings, on the
packaged image sample (scoring seed 0, C=16, N=5), and writes
``rank_reference_<dataset>.npz``: ``arches``, ``values_<member>`` (raw values) and ``meta``
(JSON: data set, C, N, seeds, image source, each member's settings). The settings are
recorded so the aggregate computes every member exactly as the reference did.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from evonas.cost import dataset_spec
from evonas.datasets import load_images
from evonas.schema import to_mapping
from evonas.scores import SCORES, ScoreContext, make_settings
from evonas.scores.aggregate import reference_path
from evonas.space import Cell
from evonas.table import sample_connected

MEMBERS = ("gradient_kernel", "naswot", "synflow", "flops")


def sample_cells(n: int, seed: int) -> list[str]:
    """The arch strings of ``table.sample_connected(n, seed)``."""
    return [c.arch for c in sample_connected(n, seed)]


def _score(job: tuple[list[str], tuple[str, ...], str, int, int, int]) -> list[dict[str, float]]:
    arches, members, dataset, C, N, seed = job
    torch.set_num_threads(1)
    settings = {m: make_settings(m) for m in members}
    n_images = max(SCORES[m].images_needed(settings[m]) for m in members)
    data = load_images(dataset, n=max(n_images, 1), seed=seed)
    spec = dataset_spec(dataset)
    rows = []
    for arch in arches:
        ctx = ScoreContext(Cell.parse(arch), torch.device("cpu"), spec, data, seed, C, N)
        rows.append({m: SCORES[m](ctx, settings[m]) for m in members})
    return rows


def build(dataset: str, n: int, seed: int, members: tuple[str, ...], workers: int, out: Path,
          C: int = 16, N: int = 5, scoring_seed: int = 0) -> Path:
    arches = sample_cells(n, seed)
    chunks = [(arches[i:i + 8], members, dataset, C, N, scoring_seed) for i in range(0, n, 8)]
    rows: list[dict[str, float]] = []
    start = time.time()
    with ProcessPoolExecutor(workers) as pool:
        for part in pool.map(_score, chunks):
            rows.extend(part)
            print(f"  {len(rows)}/{n} cells, {time.time() - start:.0f} s", file=sys.stderr, flush=True)
    meta = {"dataset": dataset, "C": C, "N": N, "sample_seed": seed, "scoring_seed": scoring_seed,
            "images": f"{dataset} packaged sample", "settings": {m: to_mapping(make_settings(m)) for m in members}}
    np.savez_compressed(out, arches=np.array(arches), meta=np.array(json.dumps(meta, sort_keys=True)),
                        **{f"values_{m}": np.array([r[m] for r in rows], dtype=np.float64) for m in members})
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20260)
    parser.add_argument("--members", default=",".join(MEMBERS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=None, help="default: the packaged evonas/data/rank_reference_<dataset>.npz")
    args = parser.parse_args(argv)
    out = Path(args.out) if args.out else reference_path(args.dataset)
    path = build(args.dataset, args.n, args.seed, tuple(args.members.split(",")), args.workers, out)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

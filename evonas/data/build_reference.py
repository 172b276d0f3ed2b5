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
from pathlib import Path

import numpy as np

from evonas.errors import EvonasError
from evonas.engine.pool import make_pool
from evonas.engine.records import ScorerSpec
from evonas.config.strict import to_mapping
from evonas.scores import make_settings
from evonas.scores.reference import reference_path
from evonas.space.cell import Cell
from evonas.space.table import sample_connected

MEMBERS = ("gradient_kernel", "naswot", "synflow", "flops")


def sample_cells(n: int, seed: int) -> list[str]:
    """The arch strings of ``table.sample_connected(n, seed)``."""
    return [c.arch for c in sample_connected(n, seed)]


def build(dataset: str, n: int, seed: int, members: tuple[str, ...], workers: int, out: Path,
          C: int = 16, N: int = 5, scoring_seed: int = 0) -> Path:
    """Score the reference cells through the scorer pool the search uses (Ray with ``workers`` > 1)."""
    arches = sample_cells(n, seed)
    spec = ScorerSpec(scores=members, dataset=dataset, seed=scoring_seed, C=C, N=N, device="cpu")
    position = {arch: i for i, arch in enumerate(arches)}
    rows: list[dict[str, float]] = [{} for _ in arches]
    start = time.time()
    with make_pool(spec, backend="ray" if workers > 1 else "serial", num_actors=workers) as pool:
        for done, ev in enumerate(pool.map_unordered([Cell.from_string(a) for a in arches]), start=1):
            if not ev.ok:
                raise EvonasError(f"reference cell {ev.arch} failed: {ev.error}")
            rows[position[ev.arch]] = ev.values
            print(f"  {done}/{n} cells, {time.time() - start:.0f} s", file=sys.stderr, flush=True)
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

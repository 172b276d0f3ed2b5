"""Count FLOPs and parameters of all 15,625 cells with fvcore and ship them as a table.

    python -m evonas.builders.cost [--workers 2]

writes ``nb201_cost.npz`` with ``flops_<dataset>`` (MFLOPs) and ``params_<dataset>`` (millions)
for cifar10, cifar100 and imagenet16-120 in NB201 index order. Resumable: partial results
are kept in ``nb201_cost.partial.npz`` next to it.
"""
from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from evonas.nn.flops import count_flops, count_parameters
from evonas.datasets import DATASETS
from evonas.data import DATA_DIR
from evonas.files import atomic_write
from evonas.nn.network import build_network
from evonas.space.cell import N_ARCHS
from evonas.space.table import load_table

CHUNK = 125


def _chunk(start: int) -> tuple[int, dict[str, np.ndarray]]:
    torch.set_num_threads(1)
    table = load_table()
    stop = min(start + CHUNK, N_ARCHS)
    out = {f"{kind}_{name}": np.zeros(stop - start) for name in DATASETS for kind in ("flops", "params")}
    for i in range(start, stop):
        for name, spec in DATASETS.items():
            model = build_network(table.cell(i), num_classes=spec.num_classes)
            out[f"flops_{name}"][i - start] = count_flops(model, spec.resolution) / 1e6
            out[f"params_{name}"][i - start] = count_parameters(model) / 1e6
    return start, out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=DATA_DIR / "nb201_cost.npz")
    args = parser.parse_args(argv)
    partial = args.out.with_suffix(".partial.npz")
    names = [f"{k}_{n}" for n in DATASETS for k in ("flops", "params")]
    if partial.exists():
        with np.load(partial) as d:
            cols, done = {n: d[n] for n in names}, d["done"]
    else:
        cols, done = {n: np.zeros(N_ARCHS) for n in names}, np.zeros(N_ARCHS, dtype=bool)
    todo = [s for s in range(0, N_ARCHS, CHUNK) if not done[s]]
    t0 = time.time()
    with ProcessPoolExecutor(args.workers) as pool:
        for k, (start, out) in enumerate(pool.map(_chunk, todo), start=1):
            stop = start + len(out[names[0]])
            for n in names:
                cols[n][start:stop] = out[n]
            done[start:stop] = True
            atomic_write(partial, lambda tmp: np.savez(tmp, done=done, **cols), suffix=".tmp.npz")
            rate = k * CHUNK / (time.time() - t0)
            print(f"{done.sum()}/{N_ARCHS} cells, {rate:.1f}/s", flush=True)
    np.savez_compressed(args.out, **{n: cols[n].astype(np.float32) for n in names})
    partial.unlink()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

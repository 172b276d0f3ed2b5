"""Score cells into the score cache ahead of searches (resumable: cached cells are skipped).

    python benchmarks/fill_cache.py --score knas --all [--config configs/nb201_pareto.yaml] [--json OUT.json]
    python benchmarks/fill_cache.py --score synflow --n 500          # a seeded random subset
    python benchmarks/fill_cache.py --score knas --indices 6111,9930  # these NB201 indices

The cache is keyed by canonical form, so one connected cell per isomorphism class (6,461 cells;
disconnected cells are never scored by a search) covers every connected cell. The
score's settings, seed, data, network shape, device and ``cache.dir`` come from the config,
exactly as a search with that config would use them. Runs on the GPU when there is one
(``device: auto``). Prints one table: cells, computed, already cached, wall time, s/cell.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import machine, print_table, write_json  # noqa: E402
from evonas.config import Config, load_config  # noqa: E402
from evonas.errors import ConfigError  # noqa: E402
from evonas.evaluator import Evaluator  # noqa: E402
from evonas.pool import Evaluation, make_pool  # noqa: E402
from evonas.search import open_caches, scorer_spec  # noqa: E402
from evonas.space import Cell  # noqa: E402
from evonas.table import load_table  # noqa: E402

CHUNK = 64


def class_representatives() -> list[int]:
    """The first NB201 index of each isomorphism class of connected cells."""
    table = load_table()
    seen: set[str] = set()
    out = []
    for i in range(len(table.ops)):
        cell = table.cell(i)
        if cell.is_connected and cell.canonical not in seen:
            seen.add(cell.canonical)
            out.append(i)
    return out


def choose(all_: bool, n: int | None, indices: str | None, seed: int) -> list[int]:
    if sum(x is not None and x is not False for x in (all_ or None, n, indices)) != 1:
        raise ConfigError("give exactly one of --all, --n N or --indices I,J,...")
    if indices is not None:
        return [int(i) for i in indices.split(",") if i.strip()]
    reps = class_representatives()
    if all_:
        return reps
    return sorted(np.random.default_rng(seed).permutation(reps)[: int(n)].tolist())


def fill(config: Config, score: str, indices: list[int]) -> dict:
    """Score ``indices`` with ``score`` through the config's pool into its cache."""
    if config.cache.dir is None:
        raise ConfigError("cache.dir is null: set it (e.g. --set cache.dir=~/.cache/evonas/scores)")
    spec = scorer_spec(config, (score,))
    table = load_table()
    cells = [c for c in (table.cell(i) for i in indices) if c.is_connected]
    rc = config.ray
    times: list[float] = []
    devices: set[str] = set()

    def on_result(ev: Evaluation) -> None:
        if ev.device != "cache":
            times.append(ev.wall_time)
            devices.add(ev.device)

    t0 = time.perf_counter()
    with make_pool(spec, backend=rc.backend, num_actors=rc.num_actors, address=rc.address,
                   max_retries=rc.max_retries, actors_per_gpu=rc.actors_per_gpu,
                   connect_timeout_s=rc.connect_timeout_s) as pool:
        caches = open_caches(config, spec, pool.device_kind)
        evaluator = Evaluator(pool, spec.scores, caches=caches, on_result=on_result)
        failed = 0
        for start in range(0, len(cells), CHUNK):
            results = evaluator(cells[start:start + CHUNK])
            failed += sum(ev is not None and not ev.ok for ev in results)
            done = min(start + CHUNK, len(cells))
            print(f"{done}/{len(cells)} cells, {len(times)} computed, {time.perf_counter() - t0:.0f} s", flush=True)
        path = str(caches[score].path)
    wall = time.perf_counter() - t0
    return {"score": score, "cells": len(cells), "computed": len(times), "cached": evaluator.n_cached,
            "failed": failed, "wall_s": wall, "score_s": float(np.sum(times)),
            "s_per_cell": float(np.mean(times)) if times else float("nan"), "devices": sorted(devices),
            "workers": pool.num_workers, "cache_file": path, "machine": machine()}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="configs/nb201_pareto.yaml")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--score", required=True, help="a registered score, e.g. knas")
    p.add_argument("--all", action="store_true", help="every isomorphism class of connected cells (6,461)")
    p.add_argument("--n", type=int, help="a seeded random subset of that many classes")
    p.add_argument("--indices", help="comma-separated NB201 indices")
    p.add_argument("--seed", type=int, default=0, help="seed of the --n subset")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    config = load_config(args.config, args.set)
    res = fill(config, args.score, choose(args.all, args.n, args.indices, args.seed))
    print_table(["score", "cells", "computed", "already cached", "failed", "wall s", "score s/cell", "device",
                 "workers"],
                [[res["score"], res["cells"], res["computed"], res["cached"], res["failed"], res["wall_s"],
                  res["s_per_cell"], ", ".join(res["devices"]) or "cache", res["workers"]]])
    print(f"cache: {res['cache_file']}")
    write_json(args.json, res)
    return res


if __name__ == "__main__":
    main()

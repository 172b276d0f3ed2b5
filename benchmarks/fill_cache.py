"""Score cells into the score cache ahead of searches (resumable: cached cells are skipped).

    python benchmarks/fill_cache.py --score knas --all [--config configs/nb201_pareto.yaml] [--json OUT.json]
    python benchmarks/fill_cache.py --score synflow --n 500          # a seeded random subset
    python benchmarks/fill_cache.py --score knas --indices 6111,9930  # these NB201 indices
    python benchmarks/fill_cache.py --setting tfmoenas --score ntk_cond --all --score-set ntk_cond.repeats=1
    python benchmarks/fill_cache.py --setting gradient_kernel+flops --score gradient_kernel --all

Cells are scored by the pool that the search of ``--config`` (or of a search_quality.py setting,
``--setting``: a named one, ``SCORE+SCORE[+...]`` or ``random-SCORE``, built from that config the
same way) uses: its workers load the images all of that search's objectives need, so the cached
values are the ones that search computes. The evaluator scores the reduced cell of each class
(``Cell.reduced``, the cheapest member of an isomorphism class) and the cache is keyed by that
reduced arch, so one connected cell per isomorphism class (6,461 cells; disconnected cells are
never scored by a search) covers every connected cell. Runs on the GPU when there is one
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
from benchmarks.quality.settings import SETTINGS_HELP, config_for, resolve_setting  # noqa: E402
from evonas.config.schema import Config  # noqa: E402
from evonas.config.load import load_config  # noqa: E402
from evonas.errors import ConfigError  # noqa: E402
from evonas.engine.cache import open_caches  # noqa: E402
from evonas.engine.evaluator import Evaluator  # noqa: E402
from evonas.engine.pool import make_pool  # noqa: E402
from evonas.engine.records import Evaluation, ScorerSpec  # noqa: E402
from evonas.space.table import load_table  # noqa: E402

CHUNK = 64


def class_representatives() -> list[int]:
    """The first NB201 index of each isomorphism class of connected cells, in index order.

    Not ``evonas.space.table.sample_connected`` (a seeded order of every connected cell, isomorphic
    ones included): one cell per class, in index order, which the ``--n`` subsets are drawn from.
    """
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
    """The NB201 indices to fill: ``--indices`` as given, every class representative, or a seeded subset of them."""
    if sum(x is not None and x is not False for x in (all_ or None, n, indices)) != 1:
        raise ConfigError("give exactly one of --all, --n N or --indices I,J,...")
    if indices is not None:
        return [int(i) for i in indices.split(",") if i.strip()]
    reps = class_representatives()
    if all_:
        return reps
    return sorted(np.random.default_rng(seed).permutation(reps)[: int(n)].tolist())


def fill(config: Config, score: str, indices: list[int]) -> dict:
    """Score ``indices`` with ``score`` into the cache, with the pool a search with ``config`` uses.

    The workers are built for all of the config's objectives (the images they load depend on
    them), so the values match what that search would compute; only ``score`` is computed.
    """
    if config.cache.dir is None:
        raise ConfigError("cache.dir is null: set it (e.g. --set cache.dir=~/.cache/evonas/scores)")
    if score not in config.score_names:
        raise ConfigError(f"--score {score!r} is not an objective of this search ({list(config.score_names)}); "
                          f"choose one of them or a --setting whose objectives include it")
    spec = ScorerSpec.from_config(config)
    table = load_table()
    cells = [c for c in (table.cell(i) for i in indices) if c.is_connected]
    times: list[float] = []
    devices: set[str] = set()

    def on_result(ev: Evaluation) -> None:
        if ev.device != "cache":
            times.append(ev.wall_time)
            devices.add(ev.device)

    t0 = time.perf_counter()
    with make_pool(spec, config.ray) as pool:
        caches = {score: open_caches(config.cache.dir, spec, pool.device_for)[score]}
        evaluator = Evaluator(pool, (score,), caches=caches, on_result=on_result)
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


def _setting(name: str) -> str:
    """``--setting``: a setting search_quality.py accepts, checked as the options are parsed."""
    try:
        resolve_setting(name)
    except (ConfigError, KeyError) as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return name


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="configs/nb201_pareto.yaml")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--score", required=True, help="a registered score, e.g. knas")
    p.add_argument("--all", action="store_true", help="every isomorphism class of connected cells (6,461)")
    p.add_argument("--n", type=int, help="a seeded random subset of that many classes")
    p.add_argument("--indices", help="comma-separated NB201 indices")
    p.add_argument("--seed", type=int, default=0, help="seed of the --n subset")
    p.add_argument("--setting", type=_setting, help=f"fill for this search_quality.py setting: {SETTINGS_HELP}")
    p.add_argument("--score-set", action="append", default=[], metavar="SCORE.KEY=VALUE",
                   help="as search_quality.py --score-set (with --setting)")
    p.add_argument("--knas-score", default="knas", choices=["knas", "knas_fast"], help="as search_quality.py")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    config = load_config(args.config, args.set)
    if args.setting is not None:
        config = config_for(config, args.setting, args.score_set, args.knas_score)
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

"""Seconds per cell of every score, KNAS loop versus knas_fast, and Ray pool throughput.

Each score runs in this process (one thread) on ``--n`` connected cells at C=16, N=5 on the
packaged CIFAR-10 sample; the table gives the median seconds per cell. A score may carry settings,
``NAME:key=value[:key=value]`` (``az_nas_gk:half_images=true``), values read as YAML. Then ``--pool-score``
is mapped over ``--pool-n`` cells by a Ray pool of 1 and of 2 actors: cells per second and
the scaling efficiency (rate with 2 actors / (2 x rate with 1)). Ray is started here with 2 CPUs,
not through ``evonas.engine.cluster.start_ray``: the figures are for a 2-CPU Ray whatever the machine.

    python benchmarks/score_speed.py --n 10 --json OUT.json
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, print_table, write_json  # noqa: E402

from evonas.datasets import dataset_spec  # noqa: E402
from evonas.nn.images import load_images  # noqa: E402
from evonas.config.schema import RayConfig  # noqa: E402
from evonas.engine.pool import make_pool  # noqa: E402
from evonas.engine.records import ScorerSpec  # noqa: E402
from evonas.scores import SCORES, ScoreContext, aznas, make_settings  # noqa: E402
from evonas.space.table import sample_connected  # noqa: E402

MEASURED = {"latency"}  # timing scores measure themselves


def parse_score(entry: str) -> tuple[str, dict]:
    """``NAME:key=value:...`` as (name, settings mapping), the values read as YAML."""
    import yaml

    name, *pairs = entry.split(":")
    values = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq:
            raise SystemExit(f"--scores {entry!r}: settings are key=value, got {pair!r}")
        values[key] = yaml.safe_load(value)
    return name, values


def per_score_seconds(names, cells, seed: int) -> dict[str, list[float]]:
    """Seconds per cell of each entry of ``names`` (``parse_score``), each cell's context fresh for each entry."""
    data = load_images("cifar10", n=256, seed=seed)
    spec = dataset_spec("cifar10")
    seconds = {n: [] for n in names}
    parsed = {n: parse_score(n) for n in names}
    settings = {n: make_settings(name, values) for n, (name, values) in parsed.items()}
    for cell in cells:
        for entry, (name, _) in parsed.items():
            ctx = ScoreContext(cell, torch.device("cpu"), spec, data, seed)
            aznas._LAST.clear()  # AZ-NAS's three terms share one pass per cell: each entry pays for its own
            start = time.perf_counter()
            SCORES[name](ctx, settings[entry])
            seconds[entry].append(time.perf_counter() - start)
    return seconds


def pool_rate(score: str, cells, actors: int, seed: int) -> float:
    spec = ScorerSpec(scores=(score,), dataset=dataset_spec("cifar10"), seed=seed, device="cpu")
    with make_pool(spec, RayConfig(num_actors=actors)) as pool:
        list(pool.map_unordered(cells[:actors]))  # warm the actors
        start = time.perf_counter()
        done = sum(ev.ok for ev in pool.map_unordered(cells))
        return done / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10, help="cells per score")
    parser.add_argument("--scores", default=",".join(sorted(set(SCORES) - MEASURED)))
    parser.add_argument("--pool-score", default="knas_fast")
    parser.add_argument("--pool-n", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    names = [s for s in args.scores.split(",") if s]
    cells = sample_connected(args.n, args.seed)
    seconds = per_score_seconds(names, cells, args.seed)
    median = {n: float(np.median(v)) for n, v in seconds.items()}

    import ray

    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    try:
        pool_cells = sample_connected(args.pool_n + 2, args.seed + 1)[2:]
        rates = {k: pool_rate(args.pool_score, pool_cells, k, args.seed) for k in (1, 2)}
    finally:
        ray.shutdown()
    efficiency = rates[2] / (2 * rates[1])

    print(f"{args.n} connected cells, C=16 N=5, CIFAR-10 sample, 1 thread, {machine()}")
    rows = [[n, SCORES[parse_score(n)[0]].direction, median[n]] for n in names]
    if "knas" in median and "knas_fast" in median:
        rows.append(["knas / knas_fast (speed-up)", "", median["knas"] / median["knas_fast"]])
    rows += [[f"Ray pool, {k} actor(s), {args.pool_score}: cells/s", "", r] for k, r in rates.items()]
    rows.append(["Ray scaling efficiency 1 -> 2 actors", "", efficiency])
    print_table(["score", "dir", "median s/cell"], rows)
    write_json(args.json, {"sec_per_arch": median, "knas_speedup": median.get("knas", np.nan) / median.get("knas_fast", np.nan),
                           "pool_archs_per_s": {str(k): r for k, r in rates.items()},
                           "pool_scaling_efficiency": efficiency, "pool_score": args.pool_score, "n": args.n,
                           "machine": machine()})


if __name__ == "__main__":
    main()

"""Rank measures of the published rankers (AZ-NAS, VKDNW), their terms and rank aggregates against NB201 accuracy.

Scores ``--n`` random connected cells (seeded; ``--exclude-seed`` drops another sample's
cells for a held-out check) with every ``--scores`` score, on each ``--datasets`` pass: the
network has that data set's head and resolution, the scores that read images read its
packaged sample (none ships for ImageNet16-120: those scores are left out of that pass).
Member settings are the packaged reference's where it holds the member, else the defaults.
Values are kept in a score cache (``--cache``, one file per score and settings, the engine's
format) and each cell's seconds in ``seconds-<dataset>.jsonl`` there, so a rerun or a larger
``--n`` scores only the cells it lacks.

Prints, per data set, for every score and every ``--sets`` aggregate, Kendall tau and
Spearman rho with 200-epoch test accuracy, tau within FLOPs quintiles, the HV ratio of the
sample's (score, FLOPs) front on true (test error, FLOPs), and s/cell (median per score; an
aggregate sums its members'; the three AZ-NAS terms share one pass, timed on
``az_expressivity`` and counted once, and ``vkdnw`` costs ``vkdnw_entropy``'s). Each aggregate is formed two
ways: against the packaged reference (``evonas.scores.aggregate.aggregate_of``, the registered
score's value) and, as the papers do, from ranks within the sample itself (``pop``).
``--ref-from`` another run's ``--json`` (other cells, same scoring seed) also forms them
against references of its first m cells, m in ``--ref-sizes``: how the reference's size
changes the ranking.

    python benchmarks/published_rankers.py --n 400 --seed 0 --workers 2 --cache /tmp/evq_rank --json pr_400.json
    python benchmarks/published_rankers.py --n 200 --seed 1 --exclude-seed 0 --exclude-n 400 --workers 2 \\
        --cache /tmp/evq_rank --json pr_held.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHORT, print_table, rank_correlations, write_json  # noqa: E402

from evonas.analysis.quality import (score_front_hv_ratio, true_front_points, true_objectives,  # noqa: E402
                                     within_bin_tau)
from evonas.strict import to_mapping  # noqa: E402
from evonas.engine.cache import ScoreCache, cache_key  # noqa: E402
from evonas.scores import SCORES, make_settings  # noqa: E402
from evonas.scores.aggregate import aggregate_of  # noqa: E402
from evonas.scores.reference import (AZ_NAS_MEMBERS, DEFAULT_MEMBERS, VKDNW_AGG_MEMBERS, Reference,  # noqa: E402
                                     load_reference, parse_member, reference_path)
from evonas.scores.registry import minimise_sign  # noqa: E402
from evonas.space.cell import Cell  # noqa: E402
from evonas.space.table import load_table, sample_connected  # noqa: E402

SCORES_DEFAULT = ("az_expressivity,az_progressivity,az_trainability,vkdnw_entropy,vkdnw,trainable_layers,jacob_cov,"
                  "gradient_kernel,naswot,synflow,flops")
SETS = ";".join([
    "az_nas=" + ",".join(AZ_NAS_MEMBERS),
    "vkdnw_agg=" + ",".join(VKDNW_AGG_MEMBERS),
    "vkdnw_agg (lexicographic vkdnw)=vkdnw,az_expressivity,az_trainability,flops:max,jacob_cov",
    "gradient_kernel_agg=" + ",".join(DEFAULT_MEMBERS),
    "gk + vkdnw_agg=gradient_kernel,vkdnw_entropy,az_expressivity,az_trainability,flops:max,jacob_cov",
    "gk + az_nas=gradient_kernel,az_expressivity,az_progressivity,az_trainability,flops:max",
    "gk + az + layers=gradient_kernel,trainable_layers,az_expressivity,az_trainability,flops:max",
])


#: scores computed in another score's pass (the same cell right after it costs nothing more): their cost is the owner's
SHARED = {"az_progressivity": "az_expressivity", "az_trainability": "az_expressivity", "vkdnw": "vkdnw_entropy"}


def cost(names: list[str], seconds: dict[str, float]) -> float:
    """Seconds per cell of computing ``names`` together: each shared pass counted once."""
    owners = {SHARED.get(n, n) for n in names}
    return float(sum(seconds.get(o, np.nan) for o in owners) + sum(seconds[n] for n in names if n in SHARED))


def _settings(dataset: str, scores: list[str]) -> dict[str, Any]:
    path = reference_path(dataset)
    ref = load_reference(str(path)) if path.is_file() else None
    return {s: ref.settings_of(s) if ref is not None and s in ref.values else make_settings(s) for s in scores}


def _score_chunk(job: tuple[list[str], str, list[str], int, int, int]) -> list[dict[str, Any]]:
    import torch

    from evonas.nn.images import load_images
    from evonas.scores import ScoreContext
    from evonas.datasets import dataset_spec

    arches, dataset, scores, seed, C, N = job
    torch.set_num_threads(1)
    settings = _settings(dataset, scores)
    n_images = max([SCORES[s].images_needed(settings[s]) for s in scores] + [0])
    data = load_images(dataset, n=n_images, seed=seed) if n_images else None
    rows = []
    for arch in arches:
        ctx = ScoreContext(Cell.parse(arch), torch.device("cpu"), dataset_spec(dataset), data, seed, C, N)
        values, seconds = {}, {}
        for s in scores:
            start = time.perf_counter()
            values[s] = SCORES[s](ctx, settings[s])
            seconds[s] = time.perf_counter() - start
        rows.append({"arch": arch, "values": values, "seconds": seconds})
    return rows


def score_pass(arches: list[str], dataset: str, scores: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """Values and seconds of every score on every cell for one data set, through the cache."""
    has_images = dataset in ("cifar10", "cifar100")
    scores = [s for s in scores if has_images or "data" not in SCORES[s].needs]
    settings = _settings(dataset, scores)
    caches = {s: ScoreCache(args.cache, cache_key(s, to_mapping(settings[s]), seed=args.scoring_seed, dataset=dataset,
                                                  data_root=None, C=args.C, N=args.N, device_kind="cpu"))
              for s in scores}
    timing_path = Path(args.cache) / f"seconds-{dataset}.jsonl"
    timing_path.parent.mkdir(parents=True, exist_ok=True)
    timing: dict[str, dict[str, float]] = {s: {} for s in scores}
    if timing_path.exists():
        for line in timing_path.read_text().splitlines():
            row = json.loads(line)
            if row["score"] in timing:
                timing[row["score"]][row["arch"]] = row["seconds"]
    todo = [a for a in arches if any(caches[s].get(a) is None for s in scores)]
    if todo:
        chunks = [(todo[i:i + 5], dataset, scores, args.scoring_seed, args.C, args.N) for i in range(0, len(todo), 5)]
        start, done = time.time(), 0
        with ProcessPoolExecutor(args.workers) as pool, open(timing_path, "a") as log:
            for part in pool.map(_score_chunk, chunks):
                for row in part:
                    for s in scores:
                        caches[s].put(row["arch"], row["values"][s])
                        timing[s][row["arch"]] = row["seconds"][s]
                        log.write(json.dumps({"score": s, "arch": row["arch"], "seconds": row["seconds"][s]}) + "\n")
                    log.flush()
                done += len(part)
                print(f"  {dataset}: {done}/{len(todo)} cells, {time.time() - start:.0f} s", file=sys.stderr,
                      flush=True)
    return {"values": {s: [caches[s].get(a) for a in arches] for s in scores},
            "seconds": {s: float(np.nanmedian([timing[s].get(a, np.nan) for a in arches])) for s in scores}}


def population_aggregate(values: dict[str, list[float]], members: tuple[str, ...]) -> np.ndarray:
    """Sum of log(rank / n) of the members within the sample itself (average ranks for ties), as the papers."""
    from scipy.stats import rankdata

    total = np.zeros(len(next(iter(values.values()))))
    for member in members:
        name, sign = parse_member(member)
        v = sign * np.asarray(values[name], dtype=float)
        total += np.log(rankdata(np.nan_to_num(v, nan=-np.inf)) / len(v))
    return total


def measures(values: np.ndarray, direction: str, idx: np.ndarray, dataset: str) -> dict[str, float]:
    T = true_objectives(dataset)[idx]  # (test error %, MFLOPs)
    acc, flops = 100.0 - T[:, 0], T[:, 1]
    sign = -minimise_sign(direction)
    tau, rho = rank_correlations(values, acc)
    hv, size = score_front_hv_ratio(values, direction, flops, T[:, 0], true_front_points(dataset))
    return {"tau": sign * tau, "rho": sign * rho, "within_tau": sign * within_bin_tau(values, acc, flops, 5),
            "hv": hv, "front": size}


def sample_reference(other: dict[str, Any], dataset: str, m: int) -> Reference | None:
    """A reference of the first ``m`` cells of another run's per-cell values (None if it lacks the data set)."""
    p = other["passes"].get(dataset)
    if p is None or len(other["arches"]) < m:
        return None
    values = {s: np.asarray(v[:m], dtype=float) for s, v in p["values"].items()}
    return Reference("sample", dataset, other["C"], other["N"], tuple(other["arches"][:m]), values,
                     {s: {} for s in values})


def analyse(data: dict[str, Any], sets: list[tuple[str, tuple[str, ...]]], other: dict[str, Any] | None = None,
            sizes: tuple[int, ...] = ()) -> dict[str, Any]:
    table = load_table()
    idx = np.array([table.index(Cell.parse(a)) for a in data["arches"]])
    out: dict[str, Any] = {}
    for dataset, p in data["passes"].items():
        rows: dict[str, dict[str, float]] = {}
        for s, v in p["values"].items():
            rows[s] = {**measures(np.asarray(v, dtype=float), SCORES[s].direction, idx, dataset),
                       "sec": cost([s], p["seconds"])}
        path = reference_path(dataset)
        ref = load_reference(str(path)) if path.is_file() else None
        samples = {m: sample_reference(other, dataset, m) for m in sizes} if other else {}
        for label, members in sets:
            names = [parse_member(m)[0] for m in members]
            if not set(names) <= set(p["values"]):
                continue
            sec = cost(names, p["seconds"])
            pop = population_aggregate(p["values"], members)
            rows[f"{label} [pop]"] = {**measures(pop, "max", idx, dataset), "sec": sec}
            if ref is not None and set(names) <= set(ref.values):
                agg = np.array([aggregate_of({n: p["values"][n][i] for n in names}, members, ref)
                                for i in range(len(idx))])
                rows[f"{label} [ref {len(ref.arches)}]"] = {**measures(agg, "max", idx, dataset), "sec": sec}
            for m, sample in samples.items():
                if sample is not None and set(names) <= set(sample.values):
                    agg = np.array([aggregate_of({n: p["values"][n][i] for n in names}, members, sample)
                                    for i in range(len(idx))])
                    rows[f"{label} [ref seed {other['seed']}, {m}]"] = {**measures(agg, "max", idx, dataset),
                                                                         "sec": sec}
        out[dataset] = rows
    return out


def print_results(results: dict[str, Any], data: dict[str, Any]) -> None:
    held = "" if data["exclude_seed"] is None else \
        f", minus the first {data['exclude_n']} of seed {data['exclude_seed']}"
    for dataset, rows in results.items():
        print(f"\n{dataset}: {len(data['arches'])} connected cells (seed {data['seed']}{held}), C={data['C']} "
              f"N={data['N']}; taus signed so larger is better; one CPU thread per worker")
        table = [[name, r["tau"], r["rho"], r["within_tau"], f"{r['hv']:.3f} ({r['front']})", r["sec"]]
                 for name, r in sorted(rows.items(), key=lambda kv: -np.nan_to_num(kv[1]["tau"], nan=-9))]
        print_table(["score", f"tau {SHORT[dataset]}", f"rho {SHORT[dataset]}", "tau in FLOPs quintiles",
                     "front HV (size)", "s/cell"], table)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed")
    parser.add_argument("--scoring-seed", type=int, default=0, help="initial weights and noise (the reference's: 0)")
    parser.add_argument("--exclude-seed", type=int, default=None)
    parser.add_argument("--exclude-n", type=int, default=400)
    parser.add_argument("--datasets", default="cifar10")
    parser.add_argument("--scores", default=SCORES_DEFAULT)
    parser.add_argument("--sets", default=SETS, help="'label=member,member;...'")
    parser.add_argument("--C", type=int, default=16)
    parser.add_argument("--N", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", default="/tmp/evq_rank")
    parser.add_argument("--ref-from", type=Path, default=None, help="another run's --json: references of its cells")
    parser.add_argument("--ref-sizes", default="50,100,200,400", help="with --ref-from: reference sizes")
    parser.add_argument("--from-json", type=Path, default=None, help="re-analyse an earlier --json, no scoring")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    scores = [s for s in args.scores.split(",") if s]
    for s in scores:
        SCORES[s]  # noqa: B018  (unknown names fail before any scoring)
    sets = [(label, tuple(members.split(","))) for label, _, members in
            (item.partition("=") for item in args.sets.split(";") if item)]
    if args.from_json is not None:
        data = json.loads(args.from_json.read_text())["per_cell"]
    else:
        cells = sample_connected("all" if args.exclude_seed is not None else args.n, args.seed)
        if args.exclude_seed is not None:
            seen = {c.arch for c in sample_connected(args.exclude_n, args.exclude_seed)}
            cells = [c for c in cells if c.arch not in seen][: args.n]
        arches = [c.arch for c in cells]
        data = {"arches": arches, "seed": args.seed, "scoring_seed": args.scoring_seed,
                "exclude_seed": args.exclude_seed, "exclude_n": args.exclude_n, "C": args.C, "N": args.N,
                "passes": {d: score_pass(arches, d, scores, args) for d in args.datasets.split(",")}}
    other = json.loads(args.ref_from.read_text())["per_cell"] if args.ref_from else None
    if other is not None and set(other["arches"]) & set(data["arches"]):
        parser.error(f"--ref-from {args.ref_from} shares cells with this sample; pass a disjoint one")
    results = analyse(data, sets, other, tuple(int(m) for m in args.ref_sizes.split(",")))
    print_results(results, data)
    out = {"results": results, "per_cell": data}
    write_json(args.json, out)
    return out


if __name__ == "__main__":
    main()

"""Rank measures of ``gradient_kernel_agg`` and of each of its members against NB201 accuracy.

Scores ``--n`` random connected cells (seeded; ``--exclude-seed`` drops another sample's cells
for a held-out check) with every member of the packaged reference, at the reference's
settings, in ``--workers`` processes; the aggregate of each ``--sets`` member list is then
formed exactly as the score forms it (``evonas.scores.aggregate.aggregate_of``). Prints Kendall
tau and Spearman rho with 200-epoch test accuracy (CIFAR-10, CIFAR-100, ImageNet16-120; scores
always on CIFAR-10 images), tau within FLOPs quintiles, the paired-front HV ratio (CIFAR-10),
and s/cell (sum of the members' median seconds). ``--check K`` also runs the registered score
on K cells and asserts it equals the offline aggregate.

    python benchmarks/gradient_kernel_agg.py --n 500 --seed 0 --workers 2 --gk-values gk_500.json --values agg_500.json
    python benchmarks/gradient_kernel_agg.py --n 300 --seed 1 --exclude-seed 0 --exclude-n 500 --values agg_held.json
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
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHORT, print_table, write_json  # noqa: E402
from gradient_kernel_variants import measures  # noqa: E402

from evonas.datasets import DATASETS, dataset_spec  # noqa: E402
from evonas.nn.images import load_images  # noqa: E402
from evonas.scores import SCORES, ScoreContext, make_settings  # noqa: E402
from evonas.scores.aggregate import aggregate_of  # noqa: E402
from evonas.scores.reference import DEFAULT_MEMBERS, load_reference, parse_member, reference_path  # noqa: E402
from evonas.scores.registry import minimise_sign  # noqa: E402
from evonas.space.cell import Cell  # noqa: E402
from evonas.space.table import load_table, sample_connected  # noqa: E402

SETS = ";".join([",".join(DEFAULT_MEMBERS), "gradient_kernel,flops:max", "gradient_kernel,naswot,flops:max",
                 "gradient_kernel,naswot,synflow", "naswot,synflow,flops:max"])


def _score_chunk(job: tuple[list[str], str, int, tuple[str, ...]]) -> list[dict[str, Any]]:
    arches, path, seed, skip = job
    torch.set_num_threads(1)
    ref = load_reference(path)
    settings = {m: ref.settings_of(m) for m in ref.values if m not in skip}
    data = load_images(ref.dataset, n=max(SCORES[m].images_needed(s) for m, s in settings.items()), seed=seed)
    rows = []
    for arch in arches:
        ctx = ScoreContext(Cell.parse(arch), torch.device("cpu"), dataset_spec(ref.dataset), data, seed, ref.C, ref.N)
        values, seconds = {}, {}
        for m, s in settings.items():
            start = time.perf_counter()
            values[m] = SCORES[m](ctx, s)
            seconds[m] = time.perf_counter() - start
        rows.append({"arch": arch, "values": values, "seconds": seconds})
    return rows


def reuse_gradient_kernel(path: str | None, arches: list[str], ref) -> dict[str, tuple[list[float], float]]:
    """gradient_kernel values of ``arches`` from a ``gradient_kernel_variants.py --values`` file, if it holds them.

    The file's variant with the reference's settings is taken (same cells, same seed, same
    computation); nothing when there is no file or the variant or a cell is missing.
    """
    if path is None or "gradient_kernel" not in ref.values:
        return {}
    from gradient_kernel_variants import label

    stored = json.loads(Path(path).read_text())
    name = label(ref.settings_of("gradient_kernel"))
    if name not in stored["values"] or not set(arches) <= set(stored["arches"]):
        print(f"{path} lacks {name!r} or some cells; scoring gradient_kernel here", file=sys.stderr)
        return {}
    where = {a: i for i, a in enumerate(stored["arches"])}
    return {"gradient_kernel": ([stored["values"][name][where[a]] for a in arches], stored["seconds"][name])}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--exclude-seed", type=int, default=None)
    parser.add_argument("--exclude-n", type=int, default=500)
    parser.add_argument("--reference", default=str(reference_path("cifar10")))
    parser.add_argument("--sets", default=SETS, help="member lists, ';'-separated")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--check", type=int, default=3, help="cells to score through the registered score")
    parser.add_argument("--gk-values", default=None, help="take gradient_kernel values from a variants --values file "
                        "of the same cells and seed")
    parser.add_argument("--values", default=None)
    parser.add_argument("--from-values", default=None)
    args = parser.parse_args(argv)
    ref = load_reference(args.reference)
    if args.from_values:
        result = json.loads(Path(args.from_values).read_text())
        for m, (vals, sec) in reuse_gradient_kernel(args.gk_values, result["arches"], ref).items():
            result["values"][m], result["seconds"][m] = vals, sec
        result["reference"] = Path(args.reference).name
    else:
        cells = sample_connected("all" if args.exclude_seed is not None else args.n, args.seed)
        if args.exclude_seed is not None:
            seen = {c.arch for c in sample_connected(args.exclude_n, args.exclude_seed)}
            cells = [c for c in cells if c.arch not in seen][: args.n]
        given = reuse_gradient_kernel(args.gk_values, [c.arch for c in cells], ref)
        chunks = [([c.arch for c in cells[i:i + 10]], args.reference, args.seed, tuple(given))
                  for i in range(0, len(cells), 10)]
        rows: list[dict[str, Any]] = []
        start = time.time()
        with ProcessPoolExecutor(args.workers) as pool:
            for part in pool.map(_score_chunk, chunks):
                rows.extend(part)
                print(f"  {len(rows)}/{len(cells)} cells, {time.time() - start:.0f} s", file=sys.stderr, flush=True)
        result = {"n": len(rows), "seed": args.seed, "exclude_seed": args.exclude_seed, "exclude_n": args.exclude_n,
                  "reference": Path(args.reference).name, "arches": [r["arch"] for r in rows],
                  "values": {m: [r["values"][m] for r in rows] for m in ref.values if m not in given},
                  "seconds": {m: float(np.median([r["seconds"][m] for r in rows])) for m in ref.values if m not in given}}
        for m, (vals, sec) in given.items():
            result["values"][m], result["seconds"][m] = vals, sec
        write_json(args.values, result)
    table = load_table()
    idx = np.array([table.index(Cell.parse(a)) for a in result["arches"]])
    out_rows, summary = [], {}
    entries = [(m, result["values"][m], result["seconds"][m], SCORES[m].direction) for m in ref.values
               if m in result["values"]]
    for members in args.sets.split(";"):
        members = tuple(members.split(","))
        names = [parse_member(m)[0] for m in members]
        if not set(names) <= set(result["values"]) & set(ref.values):
            print(f"skipping {members}: values or reference lack a member", file=sys.stderr)
            continue
        agg = [aggregate_of({n: result["values"][n][i] for n in names}, members, ref) for i in range(len(idx))]
        entries.append((f"gradient_kernel_agg [{' + '.join(members)}]", agg,
                        float(sum(result["seconds"][n] for n in names)), "max"))
    for name, vals, sec, direction in entries:
        m = measures(vals, idx, direction)
        sign = -minimise_sign(direction)  # larger is better in the score's direction
        row = [name, direction, *(sign * m[d]["tau"] for d in DATASETS), *(sign * m[d]["rho"] for d in DATASETS),
               sign * m["cifar10"]["within_tau"], m["cifar10"]["hv"], m["cifar10"]["front"], sec]
        out_rows.append(row)
        summary[name] = dict(zip(["dir", "tau_c10", "tau_c100", "tau_in16", "rho_c10", "rho_c100", "rho_in16",
                                  "within_tau_c10", "hv_c10", "front_c10", "sec"], row[1:]))
    held = "" if result["exclude_seed"] is None else \
        f", minus the first {result['exclude_n']} of seed {result['exclude_seed']}"
    print(f"{len(idx)} connected cells (seed {result['seed']}{held}); "
          f"reference {result['reference']} ({len(ref.arches)} cells); CIFAR-10 images for every column; "
          f"taus and rhos signed so larger is better in the score's direction")
    print_table(["score", "dir", *(f"tau {SHORT[d]}" for d in DATASETS), *(f"rho {SHORT[d]}" for d in DATASETS),
                 "within-FLOPs tau C10", "front HV C10", "front size", "s/cell"], out_rows)
    result["measures"] = summary
    if args.check and not args.from_values and set(ref.values) == {parse_member(m)[0] for m in DEFAULT_MEMBERS}:
        default = make_settings("gradient_kernel_agg", {"reference": args.reference})
        data = load_images(ref.dataset, n=default.n_images, seed=args.seed)
        for i in range(args.check):
            ctx = ScoreContext(Cell.parse(result["arches"][i]), torch.device("cpu"), dataset_spec(ref.dataset), data,
                               args.seed, ref.C, ref.N)
            start = time.perf_counter()
            live = SCORES["gradient_kernel_agg"](ctx, default)
            offline = aggregate_of({n: result["values"][n][i] for n in ref.values}, default.members, ref)
            print(f"registered score, cell {i}: {live:.6f} (offline {offline:.6f}), {time.perf_counter() - start:.2f} s")
            assert abs(live - offline) < 1e-9, "the registered score disagrees with the offline aggregate"
    write_json(args.values, result)


if __name__ == "__main__":
    main()

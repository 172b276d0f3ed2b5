"""Build the reference sample the rank aggregates (``gradient_kernel_agg``, ``az_nas``, ...) rank against.

    python -m evonas.builders.reference [--dataset cifar10] [--n 200] [--seed 20260] [--workers 2]
    python -m evonas.builders.reference --dataset cifar10 --add az_expressivity,vkdnw   # more members, same cells
    python -m evonas.builders.reference --dataset cifar10 --rescore gradient_kernel   # after a change of its values
    python -m evonas.builders.reference --dataset cifar10 --aggregate az_nas_gk   # for half_images: true
    python -m evonas.builders.reference --config CFG.yaml --out ref.npz   # your own data (dataset: custom)
    python -m evonas.builders.reference --dataset custom --data-root my_data.npz --members ... --out ref.npz

Scores ``--n`` random connected cells (sample seed ``--seed``, distinct from the benchmark
seeds 0 and 1) with every ``--members`` score at its current default settings, on the
packaged image sample (scoring seed 0, C=16, N=5), and writes
``rank_reference_<dataset>.npz``: ``arches``, ``values_<member>`` (raw values) and ``meta``
(JSON: data set, C, N, seeds, image source, each member's settings). The settings are
recorded so the aggregate computes every member exactly as the reference did. ``--add``
scores more members on the cells of an existing reference (same seeds and shape) and writes
it back with them, the members it held unchanged; ``--rescore`` scores members it holds again on its cells
(after a change to their implementation, with their version bumped), the others unchanged. ``--config`` scores the cells on the config's own
data (``dataset: custom``: its training images, at the config's network shape and seed) and records the
data's fingerprint as the reference's data set (``custom:<fingerprint>``), so the aggregate refuses it
for any other images; set ``scores.<aggregate>.reference`` to the file written. ``--dataset custom`` with
``--data-root`` (``--resolution``, ``--val-split``) does the same for the images the ``score`` command reads with
those flags (network C=16, N=5, scoring seed 0); give it to ``score`` as ``--settings "{<aggregate>: {reference:
ref.npz}}"``. A bad flag or file is one line, exit code 2.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from evonas.config.schema import RayConfig
from evonas.errors import EvonasError
from evonas.engine.pool import make_pool
from evonas.engine.records import ScorerSpec
from evonas.strict import to_mapping
from evonas.scores import SCORES, make_settings
from evonas.scores.reference import (AZ_NAS_GK_MEMBERS, AZ_NAS_MEMBERS, DEFAULT_MEMBERS, VKDNW_AGG_MEMBERS,
                                     read_reference, reference_path)
from evonas.space.cell import Cell
from evonas.datasets import DatasetSpec, dataset_spec
from evonas.space.table import sample_connected

#: every member of the aggregates' default member lists, without direction suffixes
MEMBERS = tuple(dict.fromkeys(m.partition(":")[0] for m in DEFAULT_MEMBERS + AZ_NAS_MEMBERS + VKDNW_AGG_MEMBERS
                              + AZ_NAS_GK_MEMBERS))


def sample_cells(n: int, seed: int) -> list[str]:
    """The arch strings of ``table.sample_connected(n, seed)``."""
    return [c.arch for c in sample_connected(n, seed)]


def score_cells(arches: list[str], dataset: str | DatasetSpec, members: tuple[str, ...], workers: int, C: int,
                N: int, scoring_seed: int, settings: dict[str, dict] | None = None) -> list[dict[str, float]]:
    """Each cell's member values (``settings``: a member's, else its defaults), through the scorer pool the search
    uses (Ray with ``workers`` > 1)."""
    spec = ScorerSpec(scores=members, settings=settings or {}, dataset=dataset_spec(dataset), seed=scoring_seed, C=C,
                      N=N, device="cpu")
    position = {arch: i for i, arch in enumerate(arches)}
    rows: list[dict[str, float]] = [{} for _ in arches]
    start = time.time()
    with make_pool(spec, RayConfig(backend="ray" if workers > 1 else "serial", num_actors=workers)) as pool:
        for done, ev in enumerate(pool.map_unordered([Cell.from_string(a) for a in arches]), start=1):
            if not ev.ok:
                raise EvonasError(f"reference cell {ev.arch} failed: {ev.error}")
            rows[position[ev.arch]] = ev.values
            print(f"  {done}/{len(arches)} cells, {time.time() - start:.0f} s", file=sys.stderr, flush=True)
    return rows


def _write(out: Path, arches: list[str], meta: dict, values: dict[str, np.ndarray]) -> Path:
    np.savez_compressed(out, arches=np.array(arches), meta=np.array(json.dumps(meta, sort_keys=True)),
                        **{f"values_{m}": np.asarray(v, dtype=np.float64) for m, v in values.items()})
    return out


def build(dataset: str | DatasetSpec, n: int, seed: int, members: tuple[str, ...], workers: int, out: Path,
          C: int = 16, N: int = 5, scoring_seed: int = 0, settings: dict[str, dict] | None = None) -> Path:
    """Score ``n`` sampled reference cells with every member at its default settings (``settings``: a member's own);
    write the reference."""
    settings = settings or {}
    arches = sample_cells(n, seed)
    rows = score_cells(arches, dataset, members, workers, C, N, scoring_seed, settings)
    spec = dataset_spec(dataset)
    name, images = ((f"{spec.name}:{spec.fingerprint}", spec.source.root) if spec.source is not None
                    else (spec.name, f"{spec.name} packaged sample"))
    if not any("data" in SCORES[m].needs for m in members):
        images = "none (every member is data-free)"
    meta = {"dataset": name, "C": C, "N": N, "sample_seed": seed, "scoring_seed": scoring_seed,
            "images": images, "settings": {m: to_mapping(make_settings(m, settings.get(m))) for m in members}}
    return _write(out, arches, meta, {m: [r[m] for r in rows] for m in members})


def extend(path: Path, members: tuple[str, ...], workers: int, out: Path | None = None, *,
           rescore: bool = False) -> Path:
    """Score ``members`` (default settings) on the cells of the reference at ``path``; write it with them added
    (``rescore``: members it holds, scored again with their settings of today)."""
    meta, cells, values = read_reference(path)
    arches = list(cells)
    held = sorted(set(members) & set(values))
    if held and not rescore:
        raise EvonasError(f"reference {path} already holds {held}; --rescore scores them again on its cells")
    missing = sorted(set(members) - set(values))
    if rescore and missing:
        raise EvonasError(f"reference {path} does not hold {missing} to rescore; add them with --add")
    rows = score_cells(arches, meta["dataset"], members, workers, meta["C"], meta["N"], meta["scoring_seed"])
    for m in members:
        values[m] = np.array([r[m] for r in rows], dtype=np.float64)
        meta["settings"][m] = to_mapping(make_settings(m))
    return _write(out or path, arches, meta, values)


def _members_of(raw: dict) -> tuple[str, ...]:
    """The member scores of a raw config's rank-aggregate objectives (every aggregate's when it has none)."""
    names: list[str] = []
    for objective in raw.get("objectives") or ():
        score = objective.get("score") if isinstance(objective, dict) else None
        values = {k: v for k, v in ((raw.get("scores") or {}).get(score) or {}).items() if k != "reference"}
        settings = make_settings(score, values) if score else None
        names += [m.partition(":")[0] for m in getattr(settings, "members", ())]
    return tuple(dict.fromkeys(names)) or MEMBERS


def _build_for_config(args: argparse.Namespace) -> Path:
    """``--config``: a reference on the config's own images, network shape and seed."""
    import yaml

    from evonas.config.load import config_from_mapping, yaml_problem

    if not args.out:
        raise EvonasError("--config needs --out PATH (the packaged references are NB201's)")
    if args.add:
        raise EvonasError("--config builds a new reference; --add extends one (give --reference instead)")
    try:
        raw = yaml.safe_load(Path(args.config).read_text())
    except OSError as err:
        raise EvonasError(f"{args.config}: cannot be read ({err})") from None
    except yaml.YAMLError as err:
        raise EvonasError(f"{args.config}: not valid YAML: {yaml_problem(err)}") from None
    if not isinstance(raw, dict):
        raise EvonasError(f"{args.config}: expected a YAML mapping")
    # only the data, the network and the seed: the config may name the aggregate whose reference this builds
    config = config_from_mapping({k: raw[k] for k in ("dataset", "data", "network", "seed") if k in raw})
    members = tuple(args.members.split(",")) if args.members else _members_of(raw)
    return build(config.dataset_spec, args.n, args.seed, members, args.workers,
                 Path(args.out), C=config.network.C, N=config.network.N, scoring_seed=config.seed)


def _build_for_data(args: argparse.Namespace) -> Path:
    """``--dataset custom --data-root ROOT``: a reference on the user's images, read as ``evonas score`` reads them."""
    from evonas.engine.batch import user_data

    if not args.out:
        raise EvonasError("--dataset custom needs --out PATH (the packaged references are NB201's)")
    if args.add:
        raise EvonasError("--dataset custom builds a new reference; --add extends one (give --reference instead)")
    spec = user_data(args.data_root, args.resolution, args.val_split)  # read and checked; a bad flag named
    members = tuple(args.members.split(",")) if args.members else MEMBERS
    return build(spec, args.n, args.seed, members, args.workers, Path(args.out))


def _run(args: argparse.Namespace) -> Path:
    if args.config:
        return _build_for_config(args)
    if args.dataset == "custom":
        return _build_for_data(args)
    if args.data_root or args.resolution is not None or args.val_split is not None:
        raise EvonasError("--data-root, --resolution and --val-split are for --dataset custom (your own images)")
    out = Path(args.out) if args.out else reference_path(args.dataset)
    if args.aggregate:  # az_nas_gk's own reference: its members at half their images, on the same cells
        settings = make_settings(args.aggregate, {"half_images": True})
        members = tuple(dict.fromkeys(m.partition(":")[0] for m in settings.members))
        out = Path(args.out) if args.out else reference_path(args.dataset, args.aggregate)
        return build(args.dataset, args.n, args.seed, members, args.workers, out, settings=settings.member_settings)
    if args.add or args.rescore:
        source = Path(args.reference) if args.reference else reference_path(args.dataset)
        return extend(source, tuple((args.add or args.rescore).split(",")), args.workers,
                      Path(args.out) if args.out else source, rescore=bool(args.rescore))
    members = tuple(args.members.split(",")) if args.members else MEMBERS
    return build(args.dataset, args.n, args.seed, members, args.workers, out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20260)
    parser.add_argument("--members", default=None, help="default: every aggregate's members (with --config: the "
                                                        "members of the config's aggregate objectives)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--add", default=None, help="members to score on the cells of the existing reference "
                                                     "(--reference, default the packaged one) and add to it")
    parser.add_argument("--aggregate", default=None, choices=["az_nas_gk"],
                        help="build az_nas_gk's own reference, for half_images: true (its members at half their images) "
                             "(default out: evonas/data/rank_reference_<dataset>_<aggregate>.npz)")
    parser.add_argument("--rescore", default=None, help="members of the existing reference to score again on its "
                                                         "cells (after a change to their values)")
    parser.add_argument("--reference", default=None, help="with --add or --rescore: the reference to change")
    parser.add_argument("--out", default=None, help="default: the packaged evonas/data/rank_reference_<dataset>.npz")
    parser.add_argument("--config", default=None, help="score the cells on this config's data (dataset: custom), "
                                                       "network shape and seed; needs --out")
    parser.add_argument("--data-root", default=None, help="with --dataset custom: your image folder or .npz, read "
                                                          "as evonas score reads it; needs --out")
    parser.add_argument("--resolution", type=int, default=None,
                        help="with --dataset custom: the network's input size (an image folder needs it)")
    parser.add_argument("--val-split", type=float, default=None,
                        help="with --dataset custom: the share of each class folder held out (a folder without val/)")
    args = parser.parse_args(argv)
    try:
        path = _run(args)
    except EvonasError as err:
        print(f"evonas.builders.reference: error: {err}", file=sys.stderr)
        sys.exit(2)
    print(f"wrote {path}" + (f"; use it with scores.<aggregate>.reference: {path}" if args.config else
                             f"; use it with --settings \"{{<aggregate>: {{reference: {path}}}}}\""
                             if args.dataset == "custom" else ""))


if __name__ == "__main__":
    main()

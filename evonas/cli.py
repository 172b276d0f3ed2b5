"""Command line: ``python -m evonas --config CFG`` searches; ``pick``, ``info`` inspect.

Every bad input (config key, arch string, missing file, run dir) ends with one line
``evonas: error: ...`` and exit code 2, before any expensive work starts.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from evonas.errors import EvonasError

if TYPE_CHECKING:
    from evonas.config.schema import Config
    from evonas.run.rundir import RunDir
    from evonas.space.datasets import DatasetSpec

__all__ = ["main"]


def _search_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="evonas",
        description="NSGA-II search over NAS-Bench-201 with training-free scores. "
                    "Other commands: evonas {pick,plot,export,info,score,train} --help",
    )
    p.add_argument("--config", type=Path, help="YAML config (e.g. configs/nb201_pareto.yaml)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set search.pop_size=20 (repeatable)")
    p.add_argument("--out", type=Path, help="run directory (default runs/<config-name>-<timestamp>)")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue an interrupted run")
    p.add_argument("--quiet", action="store_true", help="log to run.log only")
    return p


def cmd_search(argv: Sequence[str]) -> int:
    from evonas.config.load import load_config
    from evonas.nn.images import check_available, dataset_of, train_dataset_of
    from evonas.nn.devices import resolve_device
    from evonas.viz.report import finish_run
    from evonas.run.rundir import RunDir, default_run_dir
    from evonas.search.nsga2 import run_search
    from evonas.search.progress import setup_logging
    from evonas.search.scoring import scorer_spec

    args = _search_parser().parse_args(argv)
    if args.resume is not None:
        if args.config is not None or args.overrides or args.out is not None:
            raise EvonasError("--resume continues a run with its own config.yaml; drop --config/--set/--out")
        run = RunDir.open(args.resume)
        config = run.config()
        run.check_resumable(config)
    else:
        if args.config is None:
            raise EvonasError("give --config CFG.yaml (e.g. configs/nb201_pareto.yaml) or --resume RUN_DIR")
        config = load_config(args.config, args.overrides)
    dataset = dataset_of(config)  # a user's data set is read and checked here, before any other work
    _check_references(config.scores, config.score_names, dataset)
    scorer_spec(config).validate()
    check_available(dataset, config.data.root)
    if config.benchmark.path is not None:
        from evonas.space.natsbench import NatsBenchLookup

        NatsBenchLookup(config.benchmark.path)  # a missing or unreadable benchmark fails now
    if config.train.after_search:  # the second stage's data too, before the search spends any time
        tc = config.train
        check_available(train_dataset_of(config), tc.data_root if tc.data_root is not None else config.data.root)
    if config.ray.address is None and config.ray.backend == "ray" or config.ray.backend == "serial":
        resolve_device(config.device)  # a GPU asked for where there is none: fail now

    if args.resume is None:
        run = RunDir.create(args.out or Path(config.output.dir or default_run_dir(config)), config)
    run.check_dataset(dataset)  # recorded in dataset.json; a resume on changed images is refused
    setup_logging(run, quiet=args.quiet)
    try:
        result = run_search(config, run, resume=args.resume is not None)
    except KeyboardInterrupt:
        print(f"\ninterrupted; continue with: python -m evonas --resume {run.path}", file=sys.stderr)
        return 130
    print(finish_run(config, run, result.front))
    if config.train.after_search:
        from evonas.train.stage import train_front

        rows = train_front(config, run)
        png, html = _redraw(config, run)
        answer = [r for r in rows if r.get("trained_front")]
        print(f"trained models in {run.path / 'models'}; metrics in {run.file('trained.csv')}; "
              f"{png.name} and {html.name} redrawn with the trained accuracies")
        if answer:
            print(f"front after training (test accuracy vs cost): "
                  + ", ".join(f"id {r['id']} {float(r['test_acc']):.2f}%" for r in answer)
                  + f"\npick one:  python -m evonas pick {run.path} --trained [--id N | --max-flops M]")
    return 0


def _check_references(scores: "Mapping[str, Any]", names: Sequence[str], dataset: "DatasetSpec") -> None:
    """A rank aggregate's reference built on other images than the user's fails now, not on every cell."""
    if not dataset.custom:
        return
    from evonas.scores.reference import load_reference
    from evonas.scores.registry import make_settings

    want = f"{dataset.name}:{dataset.fingerprint}"
    for name in names:
        path = getattr(make_settings(name, scores.get(name)), "reference", "")
        held = load_reference(path).dataset if path else want
        if held != want:
            raise EvonasError(f"scores.{name}.reference: {path} was built on {held}, not on these images ({want}); "
                              f"build one for them with python -m evonas.data.build_reference --config CONFIG "
                              f"--out PATH")


def _redraw(config: "Config", run: "RunDir") -> tuple[Path, Path]:
    """Redraw the run's pareto.png and pareto.html (after training: with the trained accuracies)."""
    from evonas.viz.report import load_view, write_plots

    return write_plots(load_view(run, config), run)


def _pick_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="evonas pick", description="Choose an architecture from a run's front "
                                "(or, with --select benchmark_valid, from all scored candidates).")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--id", type=int, help="the id of a front member (pareto.csv / pareto.png / pareto.html)")
    p.add_argument("--max-flops", type=float, metavar="MFLOPS", help="best member with at most this many MFLOPs")
    p.add_argument("--max-params", type=float, metavar="M", help="best member with at most this many M parameters")
    p.add_argument("--max-latency-ms", type=float, metavar="MS",
                   help="best member at most this slow: the run's latency objective, else the shipped "
                        "latency table (2080ti_bs1)")
    p.add_argument("--min-accuracy", type=float, metavar="PCT",
                   help="best member at least this accurate (see --accuracy)")
    p.add_argument("--accuracy", choices=["table", "trained"], default=None,
                   help="what --min-accuracy reads: the table's 200-epoch test accuracy of the run's data set, "
                        "or trained.csv's test accuracy (default: trained when trained.csv exists, else table)")
    p.add_argument("--select", choices=["front", "benchmark_valid", "bands"], default="front",
                   help="benchmark_valid: KNAS's second stage, the top-k scored candidates by the first "
                        "objective, then the best by the table's 12-epoch validation accuracy; bands: the "
                        "training shortlist's rule (the best front member by train.rank_by in each of --bands "
                        "equal-count cost bands), listed, and the one of the costliest band within the limits")
    p.add_argument("--bands", type=int, default=None, help="with --select bands (default: the config's train.bands)")
    p.add_argument("--top-k", type=int, default=40, help="with --select benchmark_valid (default 40)")
    p.add_argument("--trained", action="store_true",
                   help="choose from the front after training (trained.csv's trained_front: trained test accuracy "
                        "vs cost): --id N, or the most accurate member within the limits (the most accurate "
                        "overall without limits)")
    return p


def cmd_pick(argv: Sequence[str]) -> int:
    from evonas.analysis.pick import Constraint, describe_pick, pick, pick_columns
    from evonas.run.rundir import RunDir
    from evonas.analysis.views import select_by_benchmark, with_table_columns
    from evonas.space.datasets import dataset_spec
    from evonas.space.table import load_table

    args = _pick_parser().parse_args(argv)
    run = RunDir.open(args.run_dir)
    config = run.config()
    trained = run.trained()
    if config.custom_data:
        _check_custom_pick(args, config)
    if args.trained:
        return _pick_trained(args, run, config, trained)
    if args.select == "bands":
        return _pick_bands(args, run, config)
    source = args.accuracy or ("trained" if any(t.get("status") == "ok" for t in trained) else "table")
    limits = [("flops", args.max_flops, True), ("params", args.max_params, True),
              ("latency_ms", args.max_latency_ms, True), ("accuracy", args.min_accuracy, False)]
    constraints = [Constraint(c, v, upper) for c, v, upper in limits if v is not None]
    if args.select == "front" and args.id is None and not constraints:
        raise EvonasError("pick needs --id N, a limit such as --max-flops 50, or --select benchmark_valid")
    latency_device = (config.scores.get("latency_table") or {}).get("device")
    pool = run.pareto() if args.select == "front" else [r for r in run.candidates() if r.get("status") == "ok"]
    if args.select != "front":
        if args.id is not None:
            raise EvonasError("--id picks a front member; drop it with --select benchmark_valid")
        pool = with_table_columns(pool, load_table())
    rows, notes = pick_columns(pool, config.dataset, accuracy=source if args.min_accuracy is not None else "table",
                               trained=trained, latency_device=latency_device)
    why = " and ".join(f"{c} ({notes[c.column]})" if c.column in notes else str(c) for c in constraints)
    if args.select == "front":
        row = pick(rows, config.objectives, id=args.id, constraints=constraints)
    else:
        kept = [r for r in rows if all(c.holds(r) for c in constraints)]
        if not kept:
            raise EvonasError("no scored candidate satisfies " + " and ".join(map(str, constraints)))
        first, by = config.objectives[0], dataset_spec(config.dataset).valid_column
        row = select_by_benchmark(kept, score=first.score, direction=first.direction, top_k=args.top_k, by=by)
        on_front = {r["canonical"]: r["id"] for r in run.pareto()}
        row["id"] = on_front.get(row.get("canonical"), "")
        why = (f"best {by} among the top {args.top_k} by {first.score} of {len(kept)} scored candidates"
               + (f", with {why}" if why else ""))
    print(describe_pick(config, row, run.path, why))
    return 0


def _check_custom_pick(args: argparse.Namespace, config: "Config") -> None:
    """A run on the user's own data has no table columns: refuse the limits and rules that read them."""
    if args.accuracy == "table" or args.select == "benchmark_valid":
        raise EvonasError(f"{'--accuracy table' if args.accuracy == 'table' else '--select benchmark_valid'}: your "
                          f"data set is not in the benchmark table; accuracy limits read the trained accuracy "
                          f"(train the front, then --min-accuracy PCT or --trained)")
    if args.max_latency_ms is not None and "latency" not in config.score_names:
        raise EvonasError("--max-latency-ms: the shipped latency table measures NB201's networks on CIFAR-sized "
                          "images, not yours; search with a latency objective ({score: latency}) to limit latency")


def _pick_bands(args: argparse.Namespace, run: "RunDir", config: "Config") -> int:
    """``pick --select bands``: the bands shortlist of the front, and its costliest candidate within the limits."""
    from evonas.analysis.pick import Constraint, describe_pick
    from evonas.config.load import apply_overrides, config_from_mapping
    from evonas.config.strict import to_mapping
    from evonas.search.shortlist import shortlist_rows

    if args.id is not None or args.min_accuracy is not None or args.max_latency_ms is not None:
        raise EvonasError("--select bands takes --bands and the cost limits --max-flops / --max-params; pick a "
                          "listed member with --id N (without --select)")
    sets = ["train.candidates=bands", "train.bands_over=front"] + ([f"train.bands={args.bands}"] if args.bands else [])
    bands_config = config_from_mapping(apply_overrides(to_mapping(config), sets))
    rows = shortlist_rows(bands_config, run.pareto())
    by = bands_config.train_rank_by
    rank, cost = (by.score if by else "the rank sum of the other objectives"), bands_config.train_band_by.score
    print(f"{len(rows)} band(s) of {cost} over the front, the best by {rank} in each:")
    print(f"  {'band':>4} {'id':>4} {cost:>12}" + (f" {rank:>16}" if by else ""))
    for r in rows:
        print(f"  {r['band']:>4} {r['id']:>4} {float(r[cost]):>12.5g}" + (f" {float(r[rank]):>16.5g}" if by else ""))
    limits = [("flops", args.max_flops), ("params", args.max_params)]
    constraints = [Constraint(c, v) for c, v in limits if v is not None]
    kept = [r for r in rows if all(c.holds(r) for c in constraints)]
    if not kept:
        raise EvonasError("no band's candidate satisfies " + " and ".join(map(str, constraints)) + "; relax the limit")
    row = max(kept, key=lambda r: int(r["band"]))
    why = (f"the best by {rank} in the costliest band of {cost}" + (" within " + " and ".join(map(str, constraints))
                                                                  if constraints else ""))
    print()
    print(describe_pick(config, row, run.path, why))
    return 0


def _pick_trained(args: argparse.Namespace, run: "RunDir", config: "Config", trained: list) -> int:
    """``pick --trained``: a member of the front after training, by id or the most accurate within the limits."""
    from evonas.analysis.pick import Constraint, describe_pick, pick_trained
    from evonas.search.shortlist import trained_front_rows

    if args.select != "front" or args.accuracy == "table":
        raise EvonasError("--trained picks by trained accuracy from the front after training; drop --select and "
                          "--accuracy table")
    rows = trained_front_rows(config, run.members(), trained)
    if not rows:
        raise EvonasError(f"{run.path} has no front after training (no finished training in trained.csv); train "
                          f"first: python -m evonas train {run.path}")
    limits = [("flops", args.max_flops, True), ("params", args.max_params, True),
              ("latency_ms", args.max_latency_ms, True), ("trained_test_acc", args.min_accuracy, False)]
    constraints = [Constraint(c, v, upper) for c, v, upper in limits if v is not None]
    if any(c.column == "latency_ms" for c in constraints):
        from evonas.analysis.pick import pick_columns

        latency_device = (config.scores.get("latency_table") or {}).get("device")
        rows, _ = pick_columns(rows, config.dataset, latency_device=latency_device)
    row, why = pick_trained(rows, id=args.id, constraints=constraints)
    print(describe_pick(config, row, run.path, why))
    return 0


def cmd_plot(argv: Sequence[str]) -> int:
    from evonas.viz.report import load_view, write_plots
    from evonas.run.rundir import RunDir

    p = argparse.ArgumentParser(prog="evonas plot", description="Redraw pareto.png and pareto.html of a run.")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--x", default=None, help="x column (default: the cost objective), e.g. latency_table")
    p.add_argument("--y", default=None, help="y column (default: the first objective), e.g. cifar10_test_200ep")
    p.add_argument("--out", type=Path, default=None,
                   help="write OUT.png and OUT.html instead of the run's pareto.png/pareto.html")
    args = p.parse_args(argv)
    run = RunDir.open(args.run_dir)
    view = load_view(run, run.config(), x=args.x, y=args.y)
    out = args.out
    png, html = write_plots(view, run, png=out.with_suffix(".png") if out else None,
                            html=out.with_suffix(".html") if out else None)
    if not view.benchmark:
        print(f"wrote {png} and {html} ({view.y} vs {view.x}; middle panel: the front at its trained accuracy vs "
              f"{view.cost}: {view.note})")
        return 0
    print(f"wrote {png} and {html} ({view.y} vs {view.x}; right panel: {view.accuracy} vs {view.cost}"
          + (f", true front of {len(view.reference.indices)} table cells)" if view.reference is not None
             else f"; no true front: {view.note})"))
    gaps = view.gaps
    if gaps:
        print("gap to the true front (accuracy points below the best cell of the table at that cost or less):")
        print("  " + "  ".join(f"id {i}: {g:.2f}" for i, g in sorted(gaps.items())))
    return 0


def cmd_export(argv: Sequence[str]) -> int:
    from evonas.train.export import export_arch
    from evonas.run.rundir import RunDir

    p = argparse.ArgumentParser(prog="evonas export", description="Write a model file of a run's architecture, "
                                "and files that deployment tools read.")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--id", type=int, help="a front member (its trained weights when models/<id>.pt exists)")
    p.add_argument("--arch", help="any arch string or NB201 index instead of --id (fresh weights unless on the "
                                  "front and trained)")
    p.add_argument("--out", type=Path, default=Path("model.pt"), help="model file (default model.pt)")
    p.add_argument("--format", dest="formats", action="append", default=[], choices=["program", "onnx"],
                   help="also write program: OUT-stem.pt2, a torch.export program (torch.export.load); onnx: "
                        "OUT-stem.onnx, checked with onnx.checker and against torch under onnxruntime (needs "
                        "pip install 'evonas[export]'); repeatable")
    p.add_argument("--torchscript", action="store_true",
                   help="also write OUT-stem.torchscript.pt (deprecated by torch, kept while torch has it: "
                        "prefer --format program)")
    args = p.parse_args(argv)
    formats = args.formats + ["torchscript"] * args.torchscript
    print(export_arch(RunDir.open(args.run_dir), args.out, id=args.id, arch=args.arch, formats=formats).describe())
    return 0


def cmd_train(argv: Sequence[str]) -> int:
    from evonas.config.load import apply_overrides, config_from_mapping
    from evonas.run.rundir import LOG, RunDir
    from evonas.config.strict import to_mapping
    from evonas.search.progress import setup_logging
    from evonas.train.stage import train_front

    p = argparse.ArgumentParser(prog="evonas train", description="Train front members of a finished search.")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--ids", default=None, help="comma-separated ids of front or shortlisted members (default: the "
                                               "config's train.candidates, e.g. --set train.candidates=bands)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override train settings, e.g. --set train.recipe.epochs=3")
    args = p.parse_args(argv)
    run = RunDir.open(args.run_dir)
    bad = [o for o in args.overrides if not o.startswith("train.")]
    if bad:
        raise EvonasError(f"--set {bad[0]!r}: only train.* settings can change after the search")
    config = config_from_mapping(apply_overrides(to_mapping(run.config()), args.overrides))
    try:
        ids = [int(i) for i in args.ids.split(",")] if args.ids else None
    except ValueError:
        raise EvonasError(f"--ids {args.ids!r}: expected comma-separated integers, e.g. --ids 1,4") from None
    setup_logging(run)
    rows = train_front(config, run, ids)
    for r in rows:
        acc = f"{float(r['test_acc']):.2f}%" if r.get("status") == "ok" else r.get("error", "")
        print(f"id {r['id']}: {r.get('status')}  test acc {acc}" + ("  (front after training)" if r.get("trained_front")
                                                                      else ""))
    if any(r.get("trained_front") for r in rows):
        print(f"pick from the front after training: python -m evonas pick {run.path} --trained")
    png, html = _redraw(config, run)
    print(f"redrew {png} and {html} with the trained accuracies")
    return 0


def cmd_info(argv: Sequence[str]) -> int:
    from evonas.nn.info import arch_info, format_info

    p = argparse.ArgumentParser(prog="evonas info", description="Describe one NB201 architecture.")
    p.add_argument("arch", help="an arch string '|op~0|+|op~0|op~1|+|...|' or an NB201 index")
    p.add_argument("--dataset", default="cifar10", help="cifar10 (default), cifar100 or imagenet16-120")
    args = p.parse_args(argv)
    print(format_info(arch_info(args.arch, args.dataset)))
    return 0


def cmd_score(argv: Sequence[str]) -> int:
    import yaml

    from evonas.engine.records import ScorerSpec
    from evonas.engine.batch import read_archs, sample_archs, score_archs
    from evonas.run.tables import write_scores

    p = argparse.ArgumentParser(prog="evonas score", description="Score architectures with registered scores.")
    p.add_argument("--scores", required=True, help="comma-separated score names, e.g. knas,synflow")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--archs", type=Path, help="file with one arch string or NB201 index per line")
    src.add_argument("--n", type=int, help="sample this many connected architectures")
    p.add_argument("--seed", type=int, default=0, help="sampling seed and scoring seed (default 0)")
    p.add_argument("--out", type=Path, default=Path("scores.csv"))
    p.add_argument("--dataset", default="cifar10", help="cifar10 (default), cifar100, imagenet16-120, or custom: "
                                                          "your image folder or .npz at --data-root")
    p.add_argument("--data-root", default=None)
    p.add_argument("--resolution", type=int, default=None,
                   help="with --dataset custom: the network's input size (an image folder needs it)")
    p.add_argument("--val-split", type=float, default=None,
                   help="with --dataset custom: the share of each class folder held out (a folder without val/)")
    p.add_argument("--device", default="auto")
    p.add_argument("--settings", default=None, help='YAML mapping of per-score settings, e.g. "{knas: {n_batches: 20}}"')
    p.add_argument("--backend", default="ray", choices=["ray", "serial"])
    p.add_argument("--actors", type=int, default=None)
    p.add_argument("--address", default=None, help="Ray cluster address: the head's host:port (GCS, 6379 by "
                                                    "default), ray://host:port or auto (default: a local Ray)")
    p.add_argument("--connect-timeout", type=float, default=10.0, metavar="S",
                   help="give up on --address after this many seconds (default 10)")
    args = p.parse_args(argv)
    names = tuple(s.strip() for s in args.scores.split(",") if s.strip())
    settings = yaml.safe_load(args.settings) if args.settings else {}
    if not isinstance(settings, dict):
        raise EvonasError(f"--settings must be a YAML mapping, got {args.settings!r}")
    dataset = args.dataset
    if dataset == "custom":
        from evonas.config.load import config_from_mapping
        from evonas.nn.images import dataset_of

        data = {"root": args.data_root, "resolution": args.resolution, "val_split": args.val_split}
        dataset = dataset_of(config_from_mapping({"dataset": "custom", "data": data}))
        _check_references(settings, names, dataset)
    elif args.resolution is not None or args.val_split is not None:
        raise EvonasError("--resolution and --val-split are for --dataset custom (your own images)")
    spec = ScorerSpec(scores=names, settings=settings, dataset=dataset, data_root=args.data_root,
                      seed=args.seed, device=args.device)
    spec.validate()
    cells = read_archs(args.archs) if args.archs else sample_archs(args.n, args.seed)
    if args.address is not None and args.backend == "ray":
        from evonas.engine.cluster import check_ray_address

        if not args.connect_timeout > 0:
            raise EvonasError(f"--connect-timeout {args.connect_timeout:g}: must be > 0 seconds")

        check_ray_address(args.address, args.connect_timeout, name="--address")

    def progress(done: int, total: int, seconds: float) -> None:
        print(f"\r{done}/{total} scored, {done / max(seconds, 1e-9):.2f} archs/s", end="", file=sys.stderr)

    evs = score_archs(cells, spec, backend=args.backend, num_actors=args.actors, address=args.address,
                      progress=progress)
    write_scores(args.out, evs, names)
    failed = sum(not ev.ok for ev in evs)
    print(f"\nwrote {len(evs)} rows ({failed} failed) to {args.out}", file=sys.stderr)
    return 0


COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {"pick": cmd_pick, "plot": cmd_plot, "export": cmd_export,
                                                    "info": cmd_info, "score": cmd_score, "train": cmd_train}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = COMMANDS.get(argv[0]) if argv else None
    try:
        return command(argv[1:]) if command else cmd_search(argv)
    except EvonasError as err:
        print(f"evonas: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""Command line: ``python -m evonas --config CFG`` searches; ``pick``, ``info`` inspect.

Every bad input (config key, arch string, missing file, run dir) ends with one line
``evonas: error: ...`` and exit code 2, before any expensive work starts; a value a ``--set`` gave is
blamed on that ``--set`` (``config.load.blame``). Ctrl-C and SIGTERM (a batch scheduler's stop) end every
command the same way: what was written is kept, one line ``evonas: stopped (SIGTERM); continue with ...``,
exit code 128 + the signal (130, 143). This module parses the arguments and hands each command to the layer
that owns it: the search's checks to ``search.preflight``, pick to ``analysis.picking``, score to
``engine.batch``, the summaries to ``viz.report``.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from evonas.errors import EvonasError, stop_on_sigterm, stop_signal

if TYPE_CHECKING:
    from evonas.config.schema import Config

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


def _stopped(err: KeyboardInterrupt, how: str) -> int:
    """One line for a command stopped by Ctrl-C or SIGTERM (``how``: how to go on); its exit code, 128 + the signal."""
    signum = stop_signal(err)
    print(f"evonas: stopped ({signum.name}); {how}", file=sys.stderr)
    return 128 + signum


def cmd_search(argv: Sequence[str]) -> int:
    from evonas.config.load import blame, load_config, override_sources
    from evonas.run.rundir import RunDir, default_run_dir
    from evonas.search.nsga2 import run_search
    from evonas.search.preflight import check_search
    from evonas.search.progress import setup_logging
    from evonas.viz.report import finish_run, finish_training

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
    try:
        spec = check_search(config)  # data, references, scores, NATS-Bench file, device: before any work
    except EvonasError as err:
        raise blame(err, override_sources(args.overrides)) or err from None
    if args.resume is None:
        run = RunDir.create(args.out or Path(config.output.dir or default_run_dir(config)), config)
    run.check_dataset(spec.dataset)  # recorded in dataset.json; a resume on changed images is refused
    setup_logging(run, quiet=args.quiet)
    try:  # the search, then its training stage: stopped anywhere, --resume goes on from what was written
        result = run_search(config, run, resume=args.resume is not None, spec=spec)
        print(finish_run(config, run, result.front))
        if config.train.after_search:
            from evonas.train.stage import train_front

            print(finish_training(config, run, train_front(config, run), after_search=True))
    except KeyboardInterrupt as err:
        return _stopped(err, f"continue with python -m evonas --resume {shlex.quote(str(run.path))}")
    return 0


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
    from dataclasses import fields

    from evonas.analysis.picking import PickRequest, pick_from_run
    from evonas.run.rundir import RunDir

    args = _pick_parser().parse_args(argv)
    request = PickRequest(**{f.name: getattr(args, f.name) for f in fields(PickRequest)})
    pick_from_run(RunDir.open(args.run_dir), request)
    return 0


def cmd_plot(argv: Sequence[str]) -> int:
    from evonas.run.rundir import RunDir
    from evonas.viz.report import load_view, plot_summary, write_plots

    p = argparse.ArgumentParser(prog="evonas plot", description="Redraw pareto.png and pareto.html of a run.")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--x", default=None, help="x column (default: the cost objective), e.g. latency_table")
    p.add_argument("--y", default=None, help="y column (default: the first objective but the cost), "
                                             "e.g. cifar10_test_200ep")
    p.add_argument("--out", type=Path, default=None,
                   help="write OUT.png and OUT.html instead of the run's pareto.png/pareto.html")
    args = p.parse_args(argv)
    run = RunDir.open(args.run_dir)
    view = load_view(run, run.config(), x=args.x, y=args.y)
    out = args.out
    png, html = write_plots(view, run, png=out.with_suffix(".png") if out else None,
                            html=out.with_suffix(".html") if out else None)
    print(plot_summary(view, png, html))
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
    from evonas.run.rundir import RunDir
    from evonas.search.progress import setup_logging
    from evonas.train.stage import train_front
    from evonas.viz.report import finish_training

    p = argparse.ArgumentParser(prog="evonas train", description="Train front members of a finished search.")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--ids", default=None, help="comma-separated ids of front or shortlisted members (default: the "
                                               "config's train.candidates, e.g. --set train.candidates=bands)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override train settings, e.g. --set train.recipe.epochs=3")
    args = p.parse_args(argv)
    run = RunDir.open(args.run_dir)
    config = _with_train_overrides(run.config(), args.overrides)
    try:
        ids = [int(i) for i in args.ids.split(",")] if args.ids else None
    except ValueError:
        raise EvonasError(f"--ids {args.ids!r}: expected comma-separated integers, e.g. --ids 1,4") from None
    setup_logging(run)
    try:
        print(finish_training(config, run, train_front(config, run, ids), after_search=False))
    except KeyboardInterrupt as err:  # the checkpoints are kept: the same command goes on from them
        return _stopped(err, f"continue with python -m evonas {shlex.join(['train', *argv])}")
    return 0


def _with_train_overrides(config: "Config", overrides: Sequence[str]) -> "Config":
    """``config`` with ``--set train.KEY=VALUE`` applied: its train section re-read and checked, the rest kept."""
    import dataclasses

    from evonas.config.load import apply_overrides, blame, override_sources
    from evonas.config.schema import TrainConfig
    from evonas.strict import from_mapping, to_mapping

    bad = [o for o in overrides if not o.startswith("train.")]
    if bad:
        raise EvonasError(f"--set {bad[0]!r}: only train.* settings can change after the search")
    if not overrides:
        return config
    tree = apply_overrides({"train": to_mapping(config.train)}, list(overrides))
    try:
        return dataclasses.replace(config, train=from_mapping(TrainConfig, tree["train"], "train"))
    except EvonasError as err:
        raise blame(err, override_sources(overrides)) or err from None


def cmd_info(argv: Sequence[str]) -> int:
    from evonas.nn.info import arch_info, format_info

    p = argparse.ArgumentParser(prog="evonas info", description="Describe one NB201 architecture.")
    p.add_argument("arch", help="an arch string '|op~0|+|op~0|op~1|+|...|' or an NB201 index")
    p.add_argument("--dataset", default="cifar10", help="cifar10 (default), cifar100 or imagenet16-120")
    args = p.parse_args(argv)
    print(format_info(arch_info(args.arch, args.dataset)))
    return 0


def cmd_score(argv: Sequence[str]) -> int:
    from evonas.engine.batch import score_command
    from evonas.run.csvfiles import write_scores

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
    args = vars(p.parse_args(argv))
    out = args.pop("out")
    try:
        names, evs = score_command(**args)
    except KeyboardInterrupt:
        print(file=sys.stderr)  # the progress line ends: the stop's line is one of its own
        raise
    write_scores(out, evs, names)
    print(f"\nwrote {len(evs)} rows ({sum(not ev.ok for ev in evs)} failed) to {out}", file=sys.stderr)
    return 0


COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {"pick": cmd_pick, "plot": cmd_plot, "export": cmd_export,
                                                    "info": cmd_info, "score": cmd_score, "train": cmd_train}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = COMMANDS.get(argv[0]) if argv else None
    with stop_on_sigterm():  # SIGTERM stops a command as Ctrl-C does
        try:
            return command(argv[1:]) if command else cmd_search(argv)
        except EvonasError as err:
            print(f"evonas: error: {err}", file=sys.stderr)
            return 2
        except KeyboardInterrupt as err:  # before a search's run directory exists, or a command without one
            return _stopped(err, f"start it again with python -m evonas {shlex.join(argv)}")


if __name__ == "__main__":
    sys.exit(main())

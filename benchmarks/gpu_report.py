"""Every GPU measurement of evonas in one command: one JSON and the markdown tables for docs/benchmarks.md.

    python benchmarks/gpu_report.py --json gpu_report.json          # on a GPU machine: about 9 minutes
    python benchmarks/gpu_report.py --quick --json /tmp/report.json  # any machine: small n, under a minute

Sections, in order (``--sections`` picks some):

- ``env``: device name, torch / CUDA / cuDNN versions, the scoring flags in force.
- ``scores``: seconds per cell of every registered score on the device and on the CPU (one
  thread, as one actor), and the relative difference of the values (device vs CPU); the KNAS
  loop against ``knas_fast``.
- ``objective``: the gradient-kernel objective (and any registered ``*aggregate*`` score) over
  ``--n`` cells (``all``: every connected cell) through a pool of actors on the device:
  Kendall tau and Spearman rho with 200-epoch test accuracy, tau within FLOPs quintiles.
- ``latency``: >= 500 cells timed twice at batch 1 and 256 on the device (this process has it
  to itself): run-to-run Spearman, Spearman with the shipped GPU columns at the same batch and
  with FLOPs.
- ``pool``: cells/s of the Ray pool with 1, 2, 4 actors per GPU and with 16 CPU actors, for a
  cheap (synflow) and an expensive (gradient_kernel) score.
- ``main``: ``python -m evonas --config configs/nb201_gpu.yaml`` end to end (search, training,
  plots): wall time and what it found.

Each section has its own time budget (``--budget SECTION=SECONDS``) and stops early when it is
spent, saying how far it got; one that cannot run (no GPU, no Ray) is skipped with the reason.
The JSON is rewritten after every section and every few seconds inside long ones, so a killed
run leaves its partial results. The markdown goes to OUT.md next to the JSON and to stdout.
Each section is one module of ``benchmarks/gpu/``; this script parses the options and runs them.
"""
from __future__ import annotations

import argparse
import signal
import sys
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # evonas, problems and operators of this checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))  # _common and the gpu sections

from evonas.nn.devices import configure_scoring, resolve_device  # noqa: E402
from evonas.scores import SCORES  # noqa: E402
from evonas.datasets import dataset_spec  # noqa: E402
from gpu.env import section_env  # noqa: E402
from gpu.latency import section_latency  # noqa: E402
from gpu.main import section_main  # noqa: E402
from gpu.markdown import markdown  # noqa: E402
from gpu.objective import section_objective  # noqa: E402
from gpu.plan import FULL, QUICK, SECTIONS, Budget, Context, Skip  # noqa: E402
from gpu.pool import section_pool  # noqa: E402
from gpu.report import Report  # noqa: E402
from gpu.scores import section_scores  # noqa: E402

SECTION_FUNCTIONS: dict[str, Callable[[Context, dict[str, Any], Budget], None]] = {
    "env": section_env, "scores": section_scores, "objective": section_objective,
    "latency": section_latency, "pool": section_pool, "main": section_main,
}


def _parse_budgets(items: list[str]) -> dict[str, float]:
    budgets = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name not in SECTIONS:
            raise SystemExit(f"gpu_report: --budget {item!r}: expected SECTION=SECONDS with SECTION in "
                             f"{list(SECTIONS)}")
        budgets[name] = float(value)
    return budgets


def _parse_n(text: str) -> int | str:
    if text == "all":
        return text
    if not text.isdigit() or int(text) < 1:
        raise SystemExit(f"gpu_report: --n {text!r}: expected a positive count or 'all'")
    return int(text)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, required=True, help="the report (rewritten as sections finish)")
    parser.add_argument("--md", type=Path, default=None, help="the markdown tables (default: the JSON's name .md)")
    parser.add_argument("--quick", action="store_true", help="small n, a small network: minutes on a CPU")
    parser.add_argument("--device", default="auto", help="auto | cuda | cuda:K | cpu")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated, of {list(SECTIONS)}")
    parser.add_argument("--scores", default=None, help="comma-separated scores for the scores section "
                                                         "(default: every registered score)")
    parser.add_argument("--n", type=_parse_n, default=None, help="cells for the objective section ('all' or a count)")
    parser.add_argument("--latency-n", type=int, default=None, help="cells per latency pass")
    parser.add_argument("--budget", action="append", default=[], metavar="SECTION=SECONDS")
    parser.add_argument("--total-s", type=float, default=None, help="time budget of the whole report")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    sections = [s for s in args.sections.split(",") if s]
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise SystemExit(f"gpu_report: --sections: unknown {unknown}; choose from {list(SECTIONS)}")
    plan = QUICK if args.quick else FULL
    only = tuple(x for x in args.scores.split(",") if x) if args.scores else None
    if only:
        missing = [x for x in only if x not in SCORES]
        if missing:
            raise SystemExit(f"gpu_report: --scores: unknown {missing}; choose from {sorted(SCORES)}")
    plan = replace(plan, budgets={**plan.budgets, **_parse_budgets(args.budget)}, only_scores=only,
                   objective_n=args.n if args.n is not None else plan.objective_n,
                   latency_n=args.latency_n or plan.latency_n, total_s=args.total_s or plan.total_s)
    dataset_spec(args.dataset)
    device = resolve_device(args.device)
    configure_scoring(device)
    report = Report(args.json, args.md or args.json.with_suffix(".md"))
    report.data["command"] = "python benchmarks/gpu_report.py " + " ".join(argv if argv is not None else sys.argv[1:])
    report.data["plan"] = {k: v for k, v in plan.__dict__.items()}
    ctx = Context(plan, device, args.dataset, args.seed, report)
    total = Budget(plan.total_s)

    def on_term(signum: int, frame: Any) -> None:  # a polite kill still leaves the partial report
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        for name in sections:
            out = report.section(name)
            budget = Budget(min(plan.budgets[name], max(0.0, total.left)))
            tic = time.perf_counter()
            print(f"[gpu_report] {name}: budget {budget.seconds:.0f} s", file=sys.stderr, flush=True)
            report.save(force=True)
            try:
                if budget.seconds <= 0:
                    raise Skip("the report's total time budget is spent")
                SECTION_FUNCTIONS[name](ctx, out, budget)
                out["status"] = "done"
            except Skip as why:
                out.update(status="skipped", reason=str(why))
            except KeyboardInterrupt as err:
                out.update(status="interrupted", error=str(err))
                raise
            except Exception as err:  # noqa: BLE001 - the next sections still run
                out.update(status="error", error=f"{type(err).__name__}: {err}".splitlines()[0][:300],
                           traceback=traceback.format_exc(limit=6))
            finally:
                out["seconds"] = time.perf_counter() - tic
                report.save(force=True)
        report.data["finished"] = True
    finally:
        signal.signal(signal.SIGTERM, previous)
        report.data["total_s"] = total.used
        report.save(force=True)
    print(markdown(report.data))
    return report.data


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)

"""How close the found front is to the true NB201 front, per search setting, over seeds.

    python benchmarks/search_quality.py --config configs/nb201_pareto.yaml --seeds 10 \
        --budgets 300,1000,3000 --json OUT.json --plot OUT.png
    # the main job's budget (the config's population for its search.n_gen generations), any score with FLOPs
    python benchmarks/search_quality.py --config configs/nb201_pareto.yaml --seeds 10 --budgets 800 \
        --generations 20 --settings synflow+flops,gradient_kernel+flops --json OUT.json

Each setting runs the product's NSGA-II (same Problem, operators, Evaluator, pool and score
cache as ``evonas.search.nsga2.run_search``) until it has scored the largest budget of distinct
cells, or samples that many cells at random. Seeds vary the search's randomness; the scores
use the config's seed, so each (cell, score) is computed once across seeds and settings
(``cache.dir``). At each budget both fronts of a run are judged on true objectives (200-epoch
test error, fvcore MFLOPs): the *evaluated* front (non-dominated among everything scored, on
true objectives) and the *returned* front (pareto.csv: non-dominated under the search's own
objectives). A third front stands for the training stage: the k best candidates of the run
(``evonas.analysis.quality.best_k``: NSGA-II's rank-and-crowding survival under the search's objectives,
i.e. the returned front, then further non-dominated layers, the last one cut by crowding
distance) get the benchmark's 12-epoch validation accuracy on the judged data set as the result
of a short training, and the *trained@k* front is non-dominated on (that accuracy, FLOPs) among
them (``--train-k``, 20 and 40 by default), for each shortlist rule of the product
(``evonas.analysis.quality.SHORTLIST_RULES``): rank and crowding (``front``), the best cell by
``--rank-by`` in each of k equal-count FLOPs bands of every scored cell (``bands``) or of the
returned front (``bands-front``), and k cells round robin over the distinct FLOPs values
(``levels``, ``levels-front``). Prints one table (mean and std over seeds), a
KNAS-style single-objective table, and saves the anytime plot (HV ratio vs evaluations, evaluated
and returned fronts).

Settings: the named ones in ``SETTINGS``, or any registered scores joined by ``+`` (e.g.
``gradient_kernel+flops``, ``naswot+synflow+flops``; ``valid12`` stands for ``valid_12ep``), or
``random-SCORE`` (uniform sampling ranked by (SCORE, flops)); ``fill_cache.py --setting`` takes the
same names. The settings, the runs, their judgement and the anytime plot are modules of
``benchmarks/quality/``; this script parses the options, runs the settings and prints the tables.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import machine, print_table, write_json  # noqa: E402
from benchmarks.quality.anytime import anytime_plot  # noqa: E402
from benchmarks.quality.judge import (REFERENCES, TRAIN_K, judge_setting, mean_std, single_objective,  # noqa: E402
                                      summary_headers)
from benchmarks.quality.runs import RunRecord, run_setting  # noqa: E402
from benchmarks.quality.settings import SETTINGS, SETTINGS_HELP, config_for, resolve_setting  # noqa: E402
from evonas.analysis.quality import connected_mask, true_objectives  # noqa: E402
from evonas.config.load import load_config  # noqa: E402
from evonas.config.schema import RANKS, Config  # noqa: E402
from evonas.engine.records import Evaluation  # noqa: E402
from evonas.errors import ConfigError  # noqa: E402
from evonas.search.dominance import non_dominated  # noqa: E402
from evonas.datasets import DATASETS, dataset_spec  # noqa: E402
from evonas.space.table import load_table  # noqa: E402


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="configs/nb201_pareto.yaml")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override the base config")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--budgets", default="300,1000,3000")
    p.add_argument("--settings", default=",".join(SETTINGS), help=f"comma list of settings, each {SETTINGS_HELP}")
    p.add_argument("--generations", type=int, default=None,
                   help="stop each NSGA-II run after this many generations (the main job: its search.n_gen), "
                        "or at the largest budget if sooner")
    p.add_argument("--train-k", default=",".join(map(str, TRAIN_K)),
                   help="sizes k of the training-stage fronts (k best candidates, 12-epoch validation accuracy)")
    p.add_argument("--rank-by", default=None,
                   help="the score that picks each cost band's candidate in the bands shortlists (an objective of "
                        "each setting, or 'ranks': the rank sum of every objective but the cost; default: the "
                        "base config's train.rank_by, else the setting's first maximised objective)")
    p.add_argument("--score-set", action="append", default=[], metavar="SCORE.KEY=VALUE",
                   help="settings of a score in every setting, e.g. ntk_cond.repeats=1")
    p.add_argument("--knas-score", default="knas", choices=["knas", "knas_fast"],
                   help="which implementation computes knas (knas_fast: the same number, batched)")
    p.add_argument("--single-n", type=int, default=300, help="sample size of the single-objective view")
    p.add_argument("--json", type=Path)
    p.add_argument("--records", type=Path, help="re-analyse the runs stored in an earlier --json (no search)")
    p.add_argument("--plot", type=Path, default=Path("docs/search_quality_anytime.png"))
    return p


class ScoreTimes:
    """Seconds of every score computed (not read from the cache), and the devices that computed them."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)
        self.devices: set[str] = set()

    def __call__(self, ev: Evaluation) -> None:
        if ev.device != "cache":
            self.devices.add(ev.device)
            for score, t in ev.times.items():
                self.times[score].append(t)

    def per_cell(self) -> dict[str, float]:
        return {s: float(np.mean(v)) for s, v in self.times.items()}

    def counts(self) -> dict[str, int]:
        return {s: len(v) for s, v in self.times.items()}


def _earlier_records(path: Path, names: list[str], seen: ScoreTimes) -> dict[str, list[RunRecord]]:
    """The runs of an earlier ``--json`` (and its score times), to analyse without searching again."""
    earlier = json.loads(path.read_text())
    seen.times.update({s: [v] * n for s, v in earlier["score_s_per_cell"].items()
                       for n in [earlier["cells_computed"][s]]})
    seen.devices.update(earlier["devices"])
    return {name: [RunRecord(name, r["seed"], r["indices"], r["search_F"], r["computed"], r["from_cache"],
                             r["wall_s"]) for r in earlier["settings"][name]["runs"]] for name in names}


def _search_all(configs: dict[str, Config], args: argparse.Namespace, budget: int, seen: ScoreTimes,
                t0: float) -> dict[str, list[RunRecord]]:
    """Every setting's seeds, the partial results written to ``--json`` after each setting."""
    records: dict[str, list[RunRecord]] = {}
    for name, config in configs.items():
        print(f"{name}: {[o.score for o in config.objectives]}", flush=True)
        records[name] = run_setting(name, config, range(args.seeds), budget, seen, args.generations)
        write_json(args.json, {"partial": True, "wall_s": time.perf_counter() - t0, "devices": sorted(seen.devices),
                               "score_s_per_cell": seen.per_cell(), "cells_computed": seen.counts(),
                               "settings": {n: {"runs": [vars(r) for r in rs]} for n, rs in records.items()}})
    return records


def _print_single(single: dict[str, list[list[float]]], n_single: int) -> None:
    print(f"\nsingle-objective view ({n_single}-cell sample / budget), test accuracy % (200 epochs)")
    srows = [[k, *(mean_std([v[i] for v in vals]) for i in range(3))] for k, vals in single.items()]
    srows += [[k, *v] for k, v in REFERENCES.items()]
    print_table(["rule", "CIFAR-10", "CIFAR-100", "ImageNet16-120"], srows)


def band_columns(config: Config, rank_by: str | None) -> tuple[int, int | None]:
    """(cost column, rank column) of the bands shortlists in a setting's objectives: the product's
    defaults (the last minimised objective; ``Config.train_rank_by``), or ``rank_by`` when it is one of
    them; rank column None for ``ranks`` (the rank sum of every objective but the cost)."""
    names = list(config.score_names)
    cost = next((o.score for o in reversed(config.objectives) if o.direction == "min"), names[-1])
    if rank_by == RANKS:
        return names.index(cost), None
    rank = rank_by if rank_by in names else (config.train_rank_by.score if config.train_rank_by else None)
    return names.index(cost), (names.index(rank) if rank is not None else None)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = _parser()
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    base = load_config(args.config, args.set)
    budgets = sorted(int(b) for b in args.budgets.split(","))
    names = [s.strip() for s in args.settings.split(",") if s.strip()]
    try:
        for n in names:
            resolve_setting(n)
    except (ConfigError, KeyError) as err:
        p.error(str(err))
    train_k = sorted(int(k) for k in args.train_k.split(",") if k.strip())
    if args.generations is not None and args.generations < 1:
        p.error(f"--generations must be >= 1, got {args.generations}")

    table = load_table()  # the true objectives first: a missing cost table stops before any search
    eligible = connected_mask(table)
    truth = {ds: true_objectives(ds, table) for ds in DATASETS}
    fronts = {ds: truth[ds][non_dominated(truth[ds], eligible)] for ds in DATASETS}
    valid = {ds: table.column(dataset_spec(ds).valid_column) for ds in DATASETS}

    seen = ScoreTimes()
    t0 = time.perf_counter()
    configs = {name: config_for(base, name, args.score_set, args.knas_score) for name in names}
    if args.records is not None:  # analyse the runs of an earlier --json instead of searching again
        records = _earlier_records(args.records, names, seen)
    else:
        records = _search_all(configs, args, budgets[-1], seen, t0)
    wall = time.perf_counter() - t0 if args.records is None else json.loads(args.records.read_text())["wall_s"]
    per_cell = seen.per_cell()

    results: dict[str, Any] = {"machine": machine(), "devices": sorted(seen.devices), "wall_s": wall,
                               "score_s_computed": {s: float(np.sum(v)) for s, v in seen.times.items()},
                               "score_s_per_cell": per_cell, "cells_computed": seen.counts(),
                               "budgets": budgets, "seeds": args.seeds, "config": args.config, "set": args.set,
                               "score_set": args.score_set, "knas_score": args.knas_score, "settings": {},
                               "generations": args.generations, "train_k": train_k,
                               "true_front_size": {ds: int(len(f)) for ds, f in fronts.items()}}
    rows = []
    for name, recs in records.items():
        objectives = [o.score for o in configs[name].objectives]
        cost_per_cell = sum(per_cell.get(s, float("nan")) for s in objectives)
        cost_col, rank_col = band_columns(configs[name], args.rank_by)
        results["settings"][name], setting_rows = judge_setting(name, recs, objectives, budgets, truth, fronts,
                                                                valid, train_k, cost_per_cell, cost_col=cost_col,
                                                                rank_col=rank_col)
        rows += setting_rows
    print(f"\n{machine()}; scores on {sorted(seen.devices) or ['cache only']}; {args.seeds} seeds; wall {wall:.0f} s; "
          f"score s/cell: " + ", ".join(f"{s}={v:.3f}" for s, v in per_cell.items()))
    print_table(summary_headers(train_k), rows)

    n_single = min(args.single_n, budgets[-1])
    single = single_objective(records, base, n_single)
    results["single_objective"] = {"n": n_single, "choices": single, "references": REFERENCES}
    if single:
        _print_single(single, n_single)

    step = max(budgets[0] // 10, 1)
    results["anytime"] = {"dataset": base.dataset, "step": step, "curves": anytime_plot(
        args.plot, records, truth[base.dataset], fronts[base.dataset], step, budgets[-1], base.dataset)}
    print(f"\nanytime plot: {args.plot}")
    write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()

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
them (``--train-k``, 20 and 40 by default). Prints one table (mean and std over seeds), a
KNAS-style single-objective table, and saves the anytime plot (HV ratio vs evaluations, evaluated
and returned fronts).

Settings: the named ones in ``SETTINGS``, or any registered scores joined by ``+`` (e.g.
``gradient_kernel+flops``, ``naswot+synflow+flops``; ``valid12`` stands for ``valid_12ep``), or
``random-SCORE`` (uniform sampling ranked by (SCORE, flops)).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from pymoo.core.termination import Termination
from pymoo.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import machine, parse_score_settings, print_table, write_json  # noqa: E402
from evonas.config.schema import Config, config_from_mapping, load_config  # noqa: E402
from evonas.errors import ConfigError  # noqa: E402
from evonas.engine.evaluator import Evaluator  # noqa: E402
from evonas.engine.pool import Evaluation, make_pool  # noqa: E402
from evonas.analysis.quality import (connected_mask, indicators, prefix_front, trained_front, true_front,  # noqa: E402
                            true_objectives)
from evonas.scores import get_score  # noqa: E402
from evonas.config.strict import to_mapping  # noqa: E402
from evonas.scores.table_scores import TABLE_PREFIX  # noqa: E402
from evonas.search.nsga2 import make_algorithm, open_caches, scorer_spec  # noqa: E402
from evonas.space.table import load_table  # noqa: E402
from problems import NB201Problem, to_minimised  # noqa: E402

DATASETS = ("cifar10", "cifar100", "imagenet16-120")
#: published test accuracies (%) on CIFAR-10 / CIFAR-100 / ImageNet16-120
REFERENCES = {"KNAS paper": (93.05, 68.91, 34.11), "TE-NAS": (93.9, 71.24, 42.38), "optimum": (94.37, 73.51, 47.31)}


@dataclass(frozen=True)
class Setting:
    """A way of searching: NSGA-II (or uniform random sampling) over these scores."""

    scores: tuple[str, ...]
    random: bool = False


SETTINGS: dict[str, Setting] = {
    "knas+flops": Setting(("knas", "flops")),
    "synflow+flops": Setting(("synflow", "flops")),
    "tfmoenas": Setting(("ntk_cond", "linear_regions", "flops")),
    "params+flops": Setting(("params", "flops")),
    "random": Setting(("knas", "flops"), random=True),
    "random-synflow": Setting(("synflow", "flops"), random=True),
    "valid12+flops": Setting(("valid_12ep", "flops")),
}
#: short names accepted in a ``+`` setting
ALIASES = {"valid12": "valid_12ep"}
#: k of the training-stage fronts
TRAIN_K = (20, 40)


def resolve_setting(name: str) -> Setting:
    """A named setting, ``SCORE+SCORE[+...]`` (NSGA-II over those scores) or ``random-SCORE`` (sampling, with flops)."""
    if name in SETTINGS:
        return SETTINGS[name]
    random = name.startswith("random-")
    parts = [ALIASES.get(s, s) for s in (name[len("random-"):] + "+flops" if random else name).split("+")]
    if len(parts) < 2 or not all(parts):
        raise ConfigError(f"unknown setting {name!r}; choose from {list(SETTINGS)}, or join scores by '+' "
                          f"(e.g. gradient_kernel+flops), or random-SCORE")
    for score in parts:
        get_score(score)  # an unknown score fails here, naming the registered ones
    return Setting(tuple(parts), random=random)


@dataclass
class RunRecord:
    """One search: the cells scored in order (NB201 indices) and their search objectives (minimised)."""

    setting: str
    seed: int
    indices: list[int]
    search_F: list[list[float]]
    computed: int
    from_cache: int
    wall_s: float


class EvaluationBudget(Termination):
    """Stop once ``count()`` (distinct cells scored) reaches ``budget``, or after ``max_gen`` generations.

    ``count`` is a function so that pymoo's deep copy of the termination leaves the evaluator alone.
    """

    def __init__(self, count: Callable[[], int], budget: int, max_gen: int) -> None:
        super().__init__()
        self.count, self.budget, self.max_gen = count, budget, max_gen

    def _update(self, algorithm: Any) -> float:
        return max(self.count() / self.budget, (algorithm.n_gen or 0) / self.max_gen)


def max_generations(budget: int, pop_size: int) -> int:
    """A cap on generations: a search that keeps proposing cells it has already scored stops here."""
    return 5 * budget // pop_size + 50


def setting_config(base: Config, setting: Setting, score_settings: dict[str, dict[str, Any]],
                   rename: dict[str, str]) -> Config:
    """The base config with the setting's objectives (scores renamed, e.g. knas -> knas_fast)."""
    tree = to_mapping(base)
    names = [rename.get(s, s) for s in setting.scores]
    tree["objectives"] = [{"score": n} for n in names]
    tree["scores"] = {n: {**base.scores.get(s, {}), **score_settings.get(n, {})}
                      for s, n in zip(setting.scores, names) if base.scores.get(s) or score_settings.get(n)}
    return config_from_mapping(tree)


def random_cells(budget: int, seed: int) -> list[int]:
    """``budget`` NB201 indices of connected cells, one per isomorphism class, in a seeded random order."""
    table = load_table()
    seen: set[str] = set()
    out: list[int] = []
    for i in np.random.default_rng(seed).permutation(len(table.ops)):
        cell = table.cell(int(i))
        if cell.is_connected and cell.canonical not in seen:
            seen.add(cell.canonical)
            out.append(int(i))
            if len(out) == budget:
                break
    return out


def run_setting(name: str, config: Config, seeds: Sequence[int], budget: int,
                on_result: Callable[[Evaluation], None], generations: int | None = None) -> list[RunRecord]:
    """Every seed of one setting through one pool; records truncated to ``budget`` cells.

    NSGA-II stops at ``budget`` distinct cells or after ``generations`` generations (default: a
    cap, ``max_generations``); random sampling takes ``budget`` cells.
    """
    setting, spec, rc = resolve_setting(name), scorer_spec(config), config.ray
    records = []
    with make_pool(spec, backend=rc.backend, num_actors=rc.num_actors, address=rc.address,
                   max_retries=rc.max_retries, actors_per_gpu=rc.actors_per_gpu,
                   connect_timeout_s=rc.connect_timeout_s) as pool:
        caches = open_caches(config, spec, pool.device_kind)
        for seed in seeds:
            t0 = time.perf_counter()
            evaluator = Evaluator(pool, spec.scores, caches=caches, on_result=on_result)
            if setting.random:
                table = load_table()
                cells = [table.cell(i) for i in random_cells(budget, seed)]
                for start in range(0, len(cells), config.search.pop_size):
                    evaluator(cells[start:start + config.search.pop_size])
            else:
                problem = NB201Problem(config.objectives, evaluator)
                stop = EvaluationBudget(lambda: len(evaluator.memo), budget,
                                        generations or max_generations(budget, config.search.pop_size))
                minimize(problem, make_algorithm(config), stop,
                         seed=seed, verbose=False, copy_algorithm=False)
            evs = list(evaluator.memo.values())[:budget]
            F = [to_minimised(ev.values, config.objectives) if ev.ok else [np.inf] * len(config.objectives)
                 for ev in evs]
            records.append(RunRecord(name, seed, [ev.index for ev in evs], F, evaluator.n_scored - evaluator.n_cached,
                                     evaluator.n_cached, time.perf_counter() - t0))
            print(f"  {name} seed {seed}: {len(evs)} cells, {records[-1].computed} computed, "
                  f"{records[-1].from_cache} from cache, {records[-1].wall_s:.0f} s", flush=True)
    return records


def analyse(record: RunRecord, budget: int, truth: dict[str, np.ndarray], fronts: dict[str, np.ndarray],
            valid: dict[str, np.ndarray] | None = None, train_k: Sequence[int] = TRAIN_K) -> dict[str, Any]:
    """Indicators of the evaluated, returned and trained@k fronts after ``budget`` cells, on each dataset.

    ``valid[ds]``: the 12-epoch validation accuracy of every NB201 cell on ``ds`` (the training
    stage's stand-in); without it no trained@k fronts.
    """
    idx = np.asarray(record.indices[:budget])
    search_F = np.asarray(record.search_F, dtype=float)[:budget]
    returned = prefix_front(search_F, budget)
    out: dict[str, Any] = {"n": int(len(idx))}
    for ds, T in truth.items():
        F = T[idx]
        kinds = [("evaluated", prefix_front(F, budget)), ("returned", returned)]
        if valid is not None:
            kinds += [(f"trained{k}", trained_front(search_F, valid[ds][idx], F[:, 1], k)) for k in train_k]
        for kind, rows in kinds:
            ind = indicators(F[rows], fronts[ds])
            out.update({f"{ds}/{kind}/{k}": v for k, v in ind.items()})
            out[f"{ds}/{kind}/best_acc"] = float(100 - F[rows, 0].min()) if len(rows) else float("nan")
            out[f"{ds}/{kind}/size"] = int(len(rows))
    return out


def single_objective(records: dict[str, list[RunRecord]], config: Config, n: int, top_k: int = 40
                     ) -> dict[str, list[list[float]]]:
    """Test accuracies (C10, C100, IN16) of the cell chosen by KNAS-style rules, per seed."""
    table = load_table()
    acc = np.stack([table.column(f"{TABLE_PREFIX[d]}_test_200ep") for d in DATASETS], axis=1)
    valid = table.column(f"{TABLE_PREFIX[config.dataset]}_valid_12ep")
    out: dict[str, list[list[float]]] = defaultdict(list)
    for rec in records.get("random", []):
        idx = np.asarray(rec.indices[:n])
        knas = -np.asarray(rec.search_F)[:n, 0]
        out["(a) best knas of the sample"].append(acc[idx[np.argmax(knas)]].tolist())
        top = idx[np.argsort(-knas)[:top_k]]
        out[f"(b) top-{top_k} knas, then 12-ep valid"].append(acc[top[np.argmax(valid[top])]].tolist())
    for rec in records.get("knas+flops", []):
        rows = prefix_front(np.asarray(rec.search_F), n)
        members = np.asarray(rec.indices)[rows]
        out["(c) evonas front, then 12-ep valid"].append(acc[members[np.argmax(valid[members])]].tolist())
    return dict(out)


def mean_std(values: Sequence[float]) -> str:
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.3f} ± {v.std():.3f}" if len(v) > 1 else f"{v.mean():.3f}"


def anytime_plot(path: Path, records: dict[str, list[RunRecord]], truth: np.ndarray, front: np.ndarray,
                 step: int, budget: int, dataset: str) -> dict[str, dict[str, list[float]]]:
    """HV ratio vs evaluations, mean over seeds, one line per setting: evaluated and returned fronts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = list(range(step, budget + 1, step))

    def hv_at(r: RunRecord, x: int, kind: str) -> float:
        F = truth[np.asarray(r.indices[:x])]
        rows = prefix_front(F, x) if kind == "evaluated" else prefix_front(np.asarray(r.search_F), x)
        return indicators(F[rows], front)["hv_ratio"]

    curves: dict[str, dict[str, list[float]]] = {}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, kind in zip(axes, ("evaluated", "returned")):
        for name, recs in records.items():
            ys = [float(np.mean([hv_at(r, x, kind) for r in recs])) for x in xs]
            curves.setdefault(name, {})[kind] = ys
            ax.plot(xs, ys, label=name)
        ax.set_title(f"{kind} front")
        ax.set_xlabel("cells evaluated")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"HV ratio on {dataset} (test error, FLOPs)")
    axes[1].legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return curves


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="configs/nb201_pareto.yaml")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override the base config")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--budgets", default="300,1000,3000")
    p.add_argument("--settings", default=",".join(SETTINGS),
                   help=f"comma list of {list(SETTINGS)}, SCORE+flops (any registered score) or random-SCORE")
    p.add_argument("--generations", type=int, default=None,
                   help="stop each NSGA-II run after this many generations (the main job: its search.n_gen), "
                        "or at the largest budget if sooner")
    p.add_argument("--train-k", default=",".join(map(str, TRAIN_K)),
                   help="sizes k of the training-stage fronts (k best candidates, 12-epoch validation accuracy)")
    p.add_argument("--score-set", action="append", default=[], metavar="SCORE.KEY=VALUE",
                   help="settings of a score in every setting, e.g. ntk_cond.repeats=1")
    p.add_argument("--knas-score", default="knas", choices=["knas", "knas_fast"],
                   help="which implementation computes knas (knas_fast: the same number, batched)")
    p.add_argument("--single-n", type=int, default=300, help="sample size of the single-objective view")
    p.add_argument("--json", type=Path)
    p.add_argument("--records", type=Path, help="re-analyse the runs stored in an earlier --json (no search)")
    p.add_argument("--plot", type=Path, default=Path("docs/search_quality_anytime.png"))
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    base = load_config(args.config, args.set)
    budgets = sorted(int(b) for b in args.budgets.split(","))
    names = [s.strip() for s in args.settings.split(",") if s.strip()]
    try:
        settings = {n: resolve_setting(n) for n in names}
    except (ConfigError, KeyError) as err:
        p.error(str(err))
    train_k = sorted(int(k) for k in args.train_k.split(",") if k.strip())
    if args.generations is not None and args.generations < 1:
        p.error(f"--generations must be >= 1, got {args.generations}")
    score_settings = parse_score_settings(args.score_set)
    rename = {"knas": args.knas_score}

    table = load_table()  # the true objectives first: a missing cost table stops before any search
    eligible = connected_mask(table)
    truth = {ds: true_objectives(ds, table) for ds in DATASETS}
    fronts = {ds: truth[ds][true_front(truth[ds], eligible)] for ds in DATASETS}
    valid = {ds: table.column(f"{TABLE_PREFIX[ds]}_valid_12ep") for ds in DATASETS}

    times: dict[str, list[float]] = defaultdict(list)
    devices: set[str] = set()

    def on_result(ev: Evaluation) -> None:
        if ev.device != "cache":
            devices.add(ev.device)
            for score, t in ev.times.items():
                times[score].append(t)

    t0 = time.perf_counter()
    records: dict[str, list[RunRecord]] = {}
    configs = {name: setting_config(base, settings[name], score_settings, rename) for name in names}
    if args.records is not None:  # analyse the runs of an earlier --json instead of searching again
        earlier = json.loads(args.records.read_text())
        records = {name: [RunRecord(name, r["seed"], r["indices"], r["search_F"], r["computed"], r["from_cache"],
                                    r["wall_s"]) for r in earlier["settings"][name]["runs"]] for name in names}
        times.update({s: [v] * n for s, v in earlier["score_s_per_cell"].items()
                      for n in [earlier["cells_computed"][s]]})
        devices.update(earlier["devices"])
    else:
        for name in names:
            print(f"{name}: {[o.score for o in configs[name].objectives]}", flush=True)
            records[name] = run_setting(name, configs[name], range(args.seeds), budgets[-1], on_result,
                                        args.generations)
            write_json(args.json, {"partial": True, "wall_s": time.perf_counter() - t0, "devices": sorted(devices),
                                   "score_s_per_cell": {s: float(np.mean(v)) for s, v in times.items()},
                                   "cells_computed": {s: len(v) for s, v in times.items()},
                                   "settings": {n: {"runs": [vars(r) for r in rs]} for n, rs in records.items()}})
    wall = time.perf_counter() - t0 if args.records is None else json.loads(args.records.read_text())["wall_s"]
    per_cell = {s: float(np.mean(v)) for s, v in times.items()}

    results: dict[str, Any] = {"machine": machine(), "devices": sorted(devices), "wall_s": wall,
                               "score_s_computed": {s: float(np.sum(v)) for s, v in times.items()},
                               "score_s_per_cell": per_cell, "cells_computed": {s: len(v) for s, v in times.items()},
                               "budgets": budgets, "seeds": args.seeds, "config": args.config, "set": args.set,
                               "score_set": args.score_set, "knas_score": args.knas_score, "settings": {},
                               "generations": args.generations, "train_k": train_k,
                               "true_front_size": {ds: int(len(f)) for ds, f in fronts.items()}}
    headers = ["setting", "budget", "dataset", "HV ratio eval", "HV ratio returned",
               *(f"HV ratio trained@{k}" for k in train_k), "IGD eval", "IGD+ eval",
               "IGD+ returned", "best acc eval", "best acc returned", *(f"best acc trained@{k}" for k in train_k),
               "front size", *(f"trained@{k} size" for k in train_k), "cells reached", "score s/search"]
    rows = []
    for name, recs in records.items():
        objectives = [o.score for o in configs[name].objectives]
        cost_per_cell = sum(per_cell.get(s, float("nan")) for s in objectives)
        results["settings"][name] = {"objectives": objectives, "runs": [
            {"seed": r.seed, "indices": r.indices, "search_F": r.search_F, "computed": r.computed,
             "from_cache": r.from_cache, "wall_s": r.wall_s} for r in recs], "budgets": {}}
        for b in budgets:
            stats = [analyse(r, b, truth, fronts, valid, train_k) for r in recs]
            agg = {k: [s[k] for s in stats] for k in stats[0]}
            results["settings"][name]["budgets"][str(b)] = {k: {"mean": float(np.mean(v)), "std": float(np.std(v))}
                                                           for k, v in agg.items()}
            for ds in DATASETS:
                rows.append([name, b, ds, mean_std(agg[f"{ds}/evaluated/hv_ratio"]),
                             mean_std(agg[f"{ds}/returned/hv_ratio"]),
                             *(mean_std(agg[f"{ds}/trained{k}/hv_ratio"]) for k in train_k),
                             mean_std(agg[f"{ds}/evaluated/igd"]),
                             mean_std(agg[f"{ds}/evaluated/igd_plus"]), mean_std(agg[f"{ds}/returned/igd_plus"]),
                             mean_std(agg[f"{ds}/evaluated/best_acc"]), mean_std(agg[f"{ds}/returned/best_acc"]),
                             *(mean_std(agg[f"{ds}/trained{k}/best_acc"]) for k in train_k),
                             mean_std(agg[f"{ds}/returned/size"]),
                             *(mean_std(agg[f"{ds}/trained{k}/size"]) for k in train_k), f"{np.mean(agg['n']):.0f}",
                             f"{np.mean(agg['n']) * cost_per_cell:.0f}"])
    print(f"\n{machine()}; scores on {sorted(devices) or ['cache only']}; {args.seeds} seeds; wall {wall:.0f} s; "
          f"score s/cell: " + ", ".join(f"{s}={v:.3f}" for s, v in per_cell.items()))
    print_table(headers, rows)

    n_single = min(args.single_n, budgets[-1])
    single = single_objective(records, base, n_single)
    results["single_objective"] = {"n": n_single, "choices": single, "references": REFERENCES}
    if single:
        print(f"\nsingle-objective view ({n_single}-cell sample / budget), test accuracy % (200 epochs)")
        srows = [[k, *(mean_std([v[i] for v in vals]) for i in range(3))] for k, vals in single.items()]
        srows += [[k, *v] for k, v in REFERENCES.items()]
        print_table(["rule", "CIFAR-10", "CIFAR-100", "ImageNet16-120"], srows)

    step = max(budgets[0] // 10, 1)
    results["anytime"] = {"dataset": base.dataset, "step": step, "curves": anytime_plot(
        args.plot, records, truth[base.dataset], fronts[base.dataset], step, budgets[-1], base.dataset)}
    print(f"\nanytime plot: {args.plot}")
    write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()

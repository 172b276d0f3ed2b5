"""``evonas pick`` on a run directory: the request (the command's flags) and what it prints.

Four ways to choose, by the rules of ``analysis.pick``: a member of the search's front (``--id``
or the best within limits), the best scored candidate by the table's 12-epoch validation accuracy
(``--select bands``), or a member of the front after training (``--trained``). ``--select bands``
lists the bands shortlist the run trained (``shortlist.csv``); before the training stage, or with
another ``--bands``, the one the training stage's rule cuts (the config's ``train.`` bands settings
over the run's cost, ``Config.cost_objective``); it says which, and how it was cut. A run on the
user's own data has no table columns: the limits and rules that read them are refused, and an
accuracy limit needs a trained member. No torch.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from evonas.analysis.pick import Constraint, describe_pick, pick, pick_columns, pick_trained
from evonas.analysis.benchmark import select_by_benchmark, with_table_columns
from evonas.config.schema import Config
from evonas.errors import EvonasError
from evonas.run.rundir import SHORTLIST, RunDir
from evonas.search.shortlist import describe_shortlist, shortlist_rows
from evonas.search.trained_front import cheaper_within_noise, trained_cost, trained_front_rows
from evonas.space.table import load_table

__all__ = ["PickRequest", "pick_from_run"]


@dataclass(frozen=True)
class PickRequest:
    """What ``evonas pick`` is asked: its flags, under their ``argparse`` names."""

    id: int | None = None
    max_flops: float | None = None
    max_params: float | None = None
    max_latency_ms: float | None = None
    min_accuracy: float | None = None
    #: what min_accuracy reads: "table", "trained"; None: trained when trained.csv has a finished training
    accuracy: str | None = None
    select: str = "front"             # "front", "benchmark_valid" or "bands"
    bands: int | None = None          # select bands: the number of bands (None: the config's train.bands)
    top_k: int = 40                   # select benchmark_valid: the candidates the table then ranks
    trained: bool = False             # choose from the front after training


def pick_from_run(run: RunDir, request: PickRequest, echo: Callable[[str], Any] = print) -> None:
    """Choose an architecture of ``run`` as ``request`` asks and ``echo`` what pick prints (the chosen
    one, ``describe_pick``; with ``select bands`` the shortlist first). A bad request: ``EvonasError``."""
    config = run.config()
    trained = run.trained()
    if config.custom_data:
        _check_custom(request, run, config, trained)
    if request.trained:
        echo(_pick_trained(request, run, config, trained))
    elif request.select == "bands":
        _pick_bands(request, run, config, echo)
    else:
        echo(_pick_scored(request, run, config, trained))


def _limits(request: PickRequest, accuracy: str) -> list[Constraint]:
    limits = [("flops", request.max_flops, True), ("params", request.max_params, True),
              ("latency_ms", request.max_latency_ms, True), (accuracy, request.min_accuracy, False)]
    return [Constraint(c, v, upper) for c, v, upper in limits if v is not None]


def _latency_device(config: Config) -> str | None:
    return (config.scores.get("latency_table") or {}).get("device")


def _pick_scored(request: PickRequest, run: RunDir, config: Config, trained: Sequence[dict[str, Any]]) -> str:
    """A front member (``select front``) or the best scored candidate by the table (``benchmark_valid``)."""
    source = request.accuracy or ("trained" if any(t.get("status") == "ok" for t in trained) else "table")
    constraints = _limits(request, "accuracy")
    front = request.select == "front"
    if front and request.id is None and not constraints:
        raise EvonasError("pick needs --id N, a limit such as --max-flops 50, or --select benchmark_valid")
    pool = run.pareto() if front else [r for r in run.candidates() if r.get("status") == "ok"]
    if not front:
        if request.id is not None:
            raise EvonasError("--id picks a front member; drop it with --select benchmark_valid")
        pool = with_table_columns(pool, load_table())
    rows, notes = pick_columns(pool, config.dataset, accuracy=source if request.min_accuracy is not None else "table",
                               trained=trained, latency_device=_latency_device(config))
    why = " and ".join(f"{c} ({notes[c.column]})" if c.column in notes else str(c) for c in constraints)
    if front:
        return describe_pick(config, pick(rows, config.objectives, id=request.id, constraints=constraints),
                             run.path, why)
    kept = [r for r in rows if all(c.holds(r) for c in constraints)]
    if not kept:
        raise EvonasError("no scored candidate satisfies " + " and ".join(map(str, constraints)))
    first, by = config.objectives[0], config.dataset_spec.valid_column
    row = select_by_benchmark(kept, score=first.score, direction=first.direction, top_k=request.top_k, by=by)
    on_front = {r["canonical"]: r["id"] for r in run.pareto()}
    row["id"] = on_front.get(row.get("canonical"), "")
    why = (f"best {by} among the top {request.top_k} by {first.score} of {len(kept)} scored candidates"
           + (f", with {why}" if why else ""))
    return describe_pick(config, row, run.path, why)


def _check_custom(request: PickRequest, run: RunDir, config: Config, trained: Sequence[dict[str, Any]]) -> None:
    """A run on the user's own data has no table columns: refuse the limits and rules that read them, and an
    accuracy limit before anything is trained (its only accuracy is the trained one)."""
    if request.accuracy == "table" or request.select == "benchmark_valid":
        raise EvonasError(f"{'--accuracy table' if request.accuracy == 'table' else '--select benchmark_valid'}: "
                          f"your data set is not in the benchmark table; accuracy limits read the trained accuracy "
                          f"(train the front, then --min-accuracy PCT or --trained)")
    if request.min_accuracy is not None and not any(t.get("status") == "ok" for t in trained):
        raise EvonasError(f"--min-accuracy {request.min_accuracy:g}: nothing in {run.path} is trained yet (no finished "
                          f"training in trained.csv), and your data set is not in the benchmark table, so no member "
                          f"has an accuracy to limit; train first: python -m evonas train {run.path}")
    if request.max_latency_ms is not None and "latency" not in config.score_names:
        raise EvonasError("--max-latency-ms: the shipped latency table measures NB201's networks on CIFAR-sized "
                          "images, not yours; search with a latency objective ({score: latency}) to limit latency")


def _bands_config(config: Config, bands: int | None = None) -> Config:
    """``config`` with the training stage's bands rule (its ``train.`` bands settings; ``bands`` of them, default
    ``train.bands``), checked like the config itself (a run without a cost: ``ConfigError``)."""
    if bands is not None and bands < 1:
        raise EvonasError(f"--bands {bands}: out of range; allowed: >= 1")
    train = dataclasses.replace(config.train, candidates="bands",
                                bands=config.train.bands if bands is None else bands)
    return dataclasses.replace(config, train=train)


def _band_rows(request: PickRequest, run: RunDir, config: Config) -> tuple[list[dict[str, Any]], Config, str]:
    """The bands shortlist ``select bands`` lists, the config that cut it and a line saying which it is: the
    run's own (the rows of shortlist.csv with a band) unless ``--bands`` asks for another count, else the one
    the training stage's rule cuts here (off-front cells have no id until the training stage gives them one)."""
    listed = run.shortlist()
    used = [r for r in listed if r.get("band") not in (None, "")]
    bands = config.train.candidates == "bands"
    if used and (request.bands is None or bands and request.bands == config.train.bands):
        rows = sorted(used, key=lambda r: (int(r["band"]), int(r["id"])))
        cut = _bands_config(config)
        now = "" if bands else f" (config.yaml now says train.candidates {config.train.candidates})"
        return rows, cut, (f"the run's training shortlist ({SHORTLIST}, {len(rows)} cell(s)), cut by "
                           f"{describe_shortlist(cut)}{now}:")
    shortlisted = _bands_config(config, request.bands)
    scored = run.candidates() if shortlisted.train.bands_over == "scored" else ()
    rows = [{**r, "id": r["id"] if r["on_front"] else ""} for r in shortlist_rows(shortlisted, run.pareto(), scored)]
    asked = f" with --bands {request.bands}" if request.bands is not None else ""
    if used:
        why = f"bands cut here{asked}, not the run's training shortlist ({SHORTLIST}: {len(used)} cell(s) in bands)"
    elif listed:
        why = f"bands cut here{asked} (the run's {SHORTLIST} holds {len(listed)} cell(s) and no bands)"
    elif bands and request.bands in (None, config.train.bands):
        why = f"the shortlist python -m evonas train {run.path} would train (no {SHORTLIST} yet)"
    else:
        why = f"bands cut here{asked} (no {SHORTLIST} yet; the run trains {describe_shortlist(config)})"
    return rows, shortlisted, f"{why}, cut by {describe_shortlist(shortlisted)}:"


def _pick_bands(request: PickRequest, run: RunDir, config: Config, echo: Callable[[str], Any]) -> None:
    """``select bands``: the bands shortlist (``_band_rows``), and its costliest candidate within the limits."""
    if request.id is not None or request.min_accuracy is not None or request.max_latency_ms is not None:
        raise EvonasError("--select bands takes --bands and the cost limits --max-flops / --max-params; pick a "
                          "listed member with --id N (without --select)")
    rows, shortlisted, how = _band_rows(request, run, config)
    by = shortlisted.train_rank_by
    rank, cost = (by.score if by else "the rank sum of the other objectives"), shortlisted.train_band_by.score
    echo(how)
    echo(f"  {'band':>4} {'id':>4} {cost:>12}" + (f" {rank:>16}" if by else ""))
    for r in rows:
        echo(f"  {r['band']:>4} {r['id'] if r['id'] != '' else '-':>4} {float(r[cost]):>12.5g}"
             + (f" {float(r[rank]):>16.5g}" if by else ""))
    if not rows:
        raise EvonasError("the bands shortlist is empty: no scored cell has a finite cost and rank")
    constraints = _limits(request, "accuracy")  # the cost limits: the others are refused above
    kept = [r for r in rows if all(c.holds(r) for c in constraints)]
    if not kept:
        raise EvonasError("no band's candidate satisfies " + " and ".join(map(str, constraints)) + "; relax the limit")
    row = max(kept, key=lambda r: int(r["band"]))
    why = (f"the best by {rank} in the costliest band of {cost}"
           + (" within " + " and ".join(map(str, constraints)) if constraints else ""))
    echo("")
    echo(describe_pick(config, row, run.path, why))


def _pick_trained(request: PickRequest, run: RunDir, config: Config, trained: Sequence[dict[str, Any]]) -> str:
    """``trained``: a member of the front after training, by id or the most accurate within the limits."""
    if request.select != "front" or request.accuracy == "table":
        raise EvonasError("--trained picks by trained accuracy from the front after training; drop --select and "
                          "--accuracy table")
    rows = trained_front_rows(config, run.members(), trained)
    if not rows:
        raise EvonasError(f"{run.path} has no front after training (no finished training in trained.csv); train "
                          f"first: python -m evonas train {run.path}")
    constraints = _limits(request, "trained_test_acc")
    if any(c.column == "latency_ms" for c in constraints):
        rows, _ = pick_columns(rows, config.dataset, latency_device=_latency_device(config))
    row, why = pick_trained(rows, id=request.id, constraints=constraints)
    return describe_pick(config, row, run.path, why, notes=_within_noise(row, rows, trained_cost(config)))


def _within_noise(row: dict[str, Any], rows: Sequence[dict[str, Any]], cost: str | None) -> list[str]:
    """One line when a cheaper member of the front after training is within noise of the choice
    (``cheaper_within_noise``): the training cannot tell them apart, and the cheaper one costs less."""
    other = cheaper_within_noise(row, rows, cost)
    if other is None:
        return []

    def acc(r: dict[str, Any]) -> str:
        return f"{r['trained_test_acc']:.2f}% in {r['trained_test_acc_low']:.1f}-{r['trained_test_acc_high']:.1f}%"

    return [f"noise       id {other['id']} is cheaper ({cost} {float(other[cost]):.4g} vs {float(row[cost]):.4g}) and "
            f"within noise of this one: their 95 % intervals on {row.get('trained_test_n') or '?'} test images overlap "
            f"({acc(other)} vs {acc(row)}); the training cannot tell them apart"]

"""The front after training, judged with the noise of the accuracies it is made of.

A trained candidate's test accuracy is a count of right answers on the ``test_n`` images it was
tested on (trained.csv), so it carries the binomial noise of that count: 27 % on 256 images has a
95 % interval of about 22-33 %. The main job's short training (5 epochs, the packaged sample's
256 test images) ends with accuracies a few points apart; a front that takes every difference at
face value ranks candidates by that noise. Here a cell is dominated only when another is as cheap
or cheaper *and* better beyond noise: the other's interval lies wholly above this one's (its low
end above this one's high end). Members whose accuracies are indistinguishable therefore stay on
the front together, and trained.csv lists, for each, the ids it is within noise of.

Why non-overlapping intervals, not a two-proportion test at 5 %: it is the rule the error bars of
the plots show (two members whose bars overlap are never ranked), and it errs towards keeping a
member: two intervals of equal width part only when the accuracies differ by about 2.8 standard
errors of their difference (a two-sided p of about 0.006), where the test asks for 1.96. A front
kept too wide costs a longer training of its members; one cut by noise loses the member for good.
Wilson's interval, not the normal (Wald) one: it stays inside [0, 100] % and is honest near the
ends (a network at chance, a perfect one on a small test set).

Seeds: with ``train.seeds: k`` the stage trains each cell k times (seeds ``train.recipe.seed`` + 0..k-1);
trained.csv's ``test_acc`` is their mean and ``seed_test_accs`` each one, and ``accuracy_interval``
widens the mean's interval by their spread. With one seed (the default) an interval is the test
set's alone, which understates the noise of a ranking by the seed-to-seed spread (a few tenths
of a point at NB201's 200 epochs). No torch.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from evonas.config.schema import Config
from evonas.search.rungs import last_rung

__all__ = ["Z95", "wilson_interval", "accuracy_interval", "interval_of", "noise_front", "within_noise",
           "trained_cost", "mark_trained_front", "marked_columns", "trained_front_rows", "noise_note",
           "cheaper_within_noise", "short_training_note", "seeds_of", "REAL_EPOCHS"]

#: the two-sided 95 % quantile of the normal distribution
Z95 = 1.959963984540054
#: NB201's training length: fewer epochs is a short training
REAL_EPOCHS = 200
#: Student's t two-sided 95 % quantiles for 1..10 degrees of freedom (more: ``_t95``'s expansion)
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228)


def wilson_interval(acc: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval (in %) of an accuracy ``acc`` (%) measured on ``n`` test images."""
    p = min(max(acc / 100.0, 0.0), 1.0)
    z2 = z * z / n
    centre = (p + z2 / 2) / (1 + z2)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n)) / (1 + z2)
    return 100.0 * max(centre - half, 0.0), 100.0 * min(centre + half, 1.0)


def _t95(df: int) -> float:
    return _T95[df - 1] if df <= len(_T95) else Z95 + (Z95 ** 3 + Z95) / (4 * df)


def accuracy_interval(accuracies: Sequence[float], n: int | None) -> tuple[float, float]:
    """The 95 % interval (in %) of a cell's test accuracy from each seed's accuracy on the same ``n`` test images.

    One seed: Wilson's interval on ``n``. Several: around their mean, each end of the mean's Wilson
    interval widened in quadrature by the seeds' spread (t * sd / sqrt(k)): the test images are
    shared, so the seeds add their own variance to the test set's, not more images. ``n`` unknown
    (a trained.csv of an older evonas): the seeds' spread alone, a point for one seed.
    """
    values = [float(a) for a in accuracies]
    mean = sum(values) / len(values)
    low, high = wilson_interval(mean, n) if n else (mean, mean)
    if len(values) > 1:
        spread = _t95(len(values) - 1) * float(np.std(values, ddof=1)) / math.sqrt(len(values))
        low, high = mean - math.hypot(mean - low, spread), mean + math.hypot(high - mean, spread)
    return max(low, 0.0), min(high, 100.0)


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _count(value: Any) -> int | None:
    n = _number(value)
    return int(n) if math.isfinite(n) and n >= 1 else None


def seeds_of(row: Mapping[str, Any]) -> int:
    """The seeds a trained.csv row's accuracy is the mean of (1 for a row without the column)."""
    return _count(row.get("seeds")) or 1


def _seed_accuracies(row: Mapping[str, Any]) -> list[float]:
    """Each seed's test accuracy of a trained.csv row (``seed_test_accs``), [] without the column."""
    values = [_number(v) for v in str(row.get("seed_test_accs") or "").split()]
    return values if values and all(math.isfinite(v) for v in values) else []


def interval_of(row: Mapping[str, Any]) -> tuple[float, float] | None:
    """A trained.csv row's 95 % interval: its ``test_acc_low``/``test_acc_high``, else from ``test_n``; None when
    neither is there (a training of an older evonas, whose test set's size was not kept)."""
    low, high = _number(row.get("test_acc_low")), _number(row.get("test_acc_high"))
    if math.isfinite(low) and math.isfinite(high):
        return low, high
    n, acc = _count(row.get("test_n")), _number(row.get("test_acc"))
    return wilson_interval(acc, n) if n and math.isfinite(acc) else None


def noise_front(accuracy: np.ndarray, low: np.ndarray, high: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Rows no other row dominates beyond noise, ascending; rows with a non-finite accuracy or cost never.

    Row ``j`` dominates row ``i`` when ``cost[j] <= cost[i]`` and ``low[j] > high[i]`` (the module's
    rule). With points (``low == high == accuracy``) it is the plain front, but for ties: equal
    accuracies stay together whatever their cost.
    """
    acc, low, high, cost = (np.asarray(a, dtype=float) for a in (accuracy, low, high, cost))
    ok = np.isfinite(acc) & np.isfinite(cost) & np.isfinite(low) & np.isfinite(high)
    beaten = (cost[:, None] <= cost[None, :]) & (low[:, None] > high[None, :]) & ok[:, None]
    return np.flatnonzero(ok & ~beaten.any(axis=0))


def within_noise(low: np.ndarray, high: np.ndarray) -> list[list[int]]:
    """For each row, the other rows whose intervals overlap its own (non-finite rows: none)."""
    low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    ok = np.isfinite(low) & np.isfinite(high)
    near = ok[:, None] & ok[None, :] & (low[:, None] <= high[None, :]) & (low[None, :] <= high[:, None])
    np.fill_diagonal(near, False)
    return [np.flatnonzero(r).tolist() for r in near]


def trained_cost(config: Config) -> str | None:
    """The cost the front after training is judged on: the run's cost (``Config.cost_objective``), or None."""
    cost = config.cost_objective
    return cost.score if cost is not None else None


def marked_columns(cost: str | None) -> list[str]:
    """The columns ``mark_trained_front`` adds to trained.csv, in order."""
    return ["test_acc_low", "test_acc_high", *([cost] if cost else []), "trained_front", "within_noise_of"]


def mark_trained_front(rows: Sequence[Mapping[str, Any]], members: Sequence[Mapping[str, Any]],
                       cost: str | None) -> list[dict[str, Any]]:
    """trained.csv rows with ``cost`` (the member's value), the 95 % interval ``test_acc_low``/``test_acc_high``
    (empty without ``test_n``), ``trained_front`` (``noise_front`` among the finished trainings; with no cost,
    the most accurate and those within noise of it) and ``within_noise_of`` (the space-separated ids of the
    finished trainings whose intervals overlap this one's)."""
    by_id = {str(m["id"]): m for m in members}
    out = [dict(r) for r in rows]
    acc, low, high, costs = (np.full(len(out), np.nan) for _ in range(4))
    for i, r in enumerate(out):
        if cost is not None:
            r[cost] = by_id.get(str(r["id"]), {}).get(cost, r.get(cost, ""))
        r["test_acc_low"] = r["test_acc_high"] = ""
        if r.get("status") != "ok":
            continue
        n = _count(r.get("test_n"))
        acc[i] = _number(r.get("test_acc"))
        low[i], high[i] = accuracy_interval(_seed_accuracies(r) or [acc[i]], n)
        if n:
            r["test_acc_low"], r["test_acc_high"] = float(low[i]), float(high[i])
        costs[i] = 0.0 if cost is None else _number(r.get(cost))
    front = set(noise_front(acc, low, high, costs).tolist())
    near = within_noise(low, high)
    for i, r in enumerate(out):
        r["trained_front"] = int(i in front)
        r["within_noise_of"] = " ".join(str(out[j]["id"]) for j in near[i])
    return out


def trained_front_rows(config: Config, members: Sequence[Mapping[str, Any]],
                       trained: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The members (front and shortlist rows) on the front after training, most accurate first: the last rung's
    (``evonas.search.rungs.last_rung``) when ``trained`` has several.

    trained.csv's ``trained_front`` column when it has one; else (a trained.csv of an older
    evonas) the front computed here on (trained test accuracy, ``trained_cost``). Each row gets
    ``trained_test_acc``, ``trained_epochs``, ``trained_test_n`` and its interval
    ``trained_test_acc_low``/``trained_test_acc_high`` (None without one, ``interval_of``).
    """
    ok = [t for t in last_rung(trained) if t.get("status") == "ok" and t.get("test_acc") not in (None, "")]
    by_id = {str(m["id"]): m for m in members}
    ok = [t for t in ok if str(t["id"]) in by_id]
    if ok and "trained_front" in ok[0]:
        keep = [t for t in ok if str(t["trained_front"]).strip().lower() in ("1", "true")]
    else:
        keep = [t for t in mark_trained_front(ok, members, trained_cost(config)) if t["trained_front"]]
    rows = []
    for t in keep:
        interval = interval_of(t) or (None, None)
        rows.append({**by_id[str(t["id"])], "trained_test_acc": _number(t["test_acc"]),
                     "trained_epochs": t.get("epochs", ""), "trained_test_n": _count(t.get("test_n")),
                     "trained_test_acc_low": interval[0], "trained_test_acc_high": interval[1]})
    return sorted(rows, key=lambda r: -r["trained_test_acc"])


def _images(counts: set[int]) -> str:
    """E.g. "256 test images", or "256-10000 test images" for trainings tested on sets of several sizes."""
    low, high = min(counts), max(counts)
    return f"{low} test images" if low == high else f"{low}-{high} test images"


def noise_note(rows: Sequence[Mapping[str, Any]]) -> str:
    """What the end of the training stage says of its noise (``rows``: ``mark_trained_front``'s), "" for nothing.

    Every finished candidate within noise of every other: the training cannot rank them. Else the
    members of the front after training that are within noise of another member, kept together.
    """
    ok = [r for r in rows if r.get("status") == "ok" and _count(r.get("test_n"))]
    if len(ok) < 2:
        return ""
    images = _images({_count(r["test_n"]) for r in ok})
    ids = {str(r["id"]) for r in ok}
    short = min(_count(r.get("epochs")) or 0 for r in ok) < REAL_EPOCHS
    if all(set(str(r.get("within_noise_of", "")).split()) >= ids - {str(r["id"])} for r in ok):
        return (f"the {len(ok)} candidates' test accuracies lie within each other's 95 % intervals on {images}: "
                + ("this short training cannot rank them; train longer on the full data (train.data_root or "
                   f"data.root, train.recipe.epochs: {REAL_EPOCHS}) for a real front" if short else
                   "this training cannot rank them; test on more images for a real front"))
    front = {str(r["id"]) for r in ok if r.get("trained_front")}
    tied = sorted((r for r in ok if str(r["id"]) in front and front & set(str(r.get("within_noise_of", "")).split())),
                  key=lambda r: int(r["id"]))
    if not tied:
        return ""
    return (f"{len(tied)} of the {len(front)} members of the front after training (ids "
            f"{', '.join(str(r['id']) for r in tied)}) are within noise of another member (their 95 % intervals on "
            f"{images} overlap): kept on the front together, unranked (trained.csv: within_noise_of)")


def cheaper_within_noise(chosen: Mapping[str, Any], rows: Sequence[Mapping[str, Any]],
                         cost: str | None) -> dict[str, Any] | None:
    """The cheapest of ``rows`` (``trained_front_rows``'s) cheaper than ``chosen`` on ``cost`` whose 95 % interval
    overlaps ``chosen``'s: the training cannot tell them apart. None without a cost or intervals."""
    mine = (_number(chosen.get("trained_test_acc_low")), _number(chosen.get("trained_test_acc_high")))
    price = _number(chosen.get(cost)) if cost else float("nan")
    if not (math.isfinite(price) and all(map(math.isfinite, mine))):
        return None
    near = [r for r in rows if _number(r.get(cost)) < price and _number(r.get("trained_test_acc_low")) <= mine[1]
            and mine[0] <= _number(r.get("trained_test_acc_high"))]
    return dict(min(near, key=lambda r: (_number(r.get(cost)), -r["trained_test_acc"]))) if near else None


def short_training_note(config: Config, candidates: int, run_path: Any, *, on_cpu: bool, packaged: bool,
                        test_n: int | None = None) -> str:
    """What the training stage says it is when it is a check, not a measurement ("" otherwise): a short training
    (under ``REAL_EPOCHS`` epochs) on the CPU or on the packaged sample images; its noise (the widest 95 %
    interval on ``test_n`` test images, at 50 %), and the command for the real thing."""
    epochs = config.train.rungs()[-1].epochs  # a schedule's answer is its last rung's
    if epochs >= REAL_EPOCHS or not (on_cpu or packaged):
        return ""
    where = " on the CPU" if on_cpu else ""
    data = ", tested on the packaged sample" if packaged else ""
    if test_n:
        low, high = wilson_interval(50.0, test_n)
        noise = f"on {test_n} test images a test accuracy's 95 % interval is up to ±{(high - low) / 2:.1f} points"
    else:
        noise = "a short training's test accuracies differ by noise"
    root = " --set train.data_root=DIR" if packaged else ""
    return (f"this training is a check that the stage runs, not a measurement: {candidates} candidate(s) for "
            f"{epochs} epoch(s){where}{data}; {noise} (trained.csv: test_acc_low, test_acc_high, within_noise_of), "
            f"so its front after training is a sketch. For a real front train on the full data for {REAL_EPOCHS} "
            f"epochs on a GPU: python -m evonas train {run_path}{root} --set train.recipe.epochs={REAL_EPOCHS}")

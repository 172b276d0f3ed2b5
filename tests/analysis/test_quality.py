"""Search-quality indicators on hand-made fronts, the valid_12ep table score, and the benchmark's path."""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from evonas.datasets import dataset_spec
from evonas.errors import DataError
from evonas.analysis.quality import (best_k, connected_mask, hv_ratio, indicators, prefix_front, scaling,
                                     score_front_hv_ratio, trained_front, true_front_points, true_objectives,
                                     within_bin_tau)
from evonas.scores import SCORES, ScoreContext
from evonas.search.dominance import non_dominated
from evonas.space.cell import Cell
from evonas.space.table import load_table

ROOT = Path(__file__).resolve().parents[2]

#: a hand-made table of 10 (error, cost) points: the first five are the true front
POINTS = np.array([[1, 9], [2, 7], [4, 4], [7, 2], [9, 1],
                   [3, 8], [5, 6], [8, 3], [6, 6], [9, 9]], dtype=float)
FRONT = POINTS[:5]
#: HV of FRONT scaled to [0, 1] with reference point 1.1, by hand (sweep over the scaled x)
HV_FRONT = 0.125 * 0.1 + 0.25 * 0.35 + 0.375 * 0.725 + 0.25 * 0.975 + 0.1 * 1.1


def test_true_front_of_hand_made_table() -> None:
    assert non_dominated(POINTS).tolist() == [0, 1, 2, 3, 4]
    eligible = np.ones(10, dtype=bool)
    eligible[2] = False  # without (4, 4), (5, 6) joins the front; (8, 3) stays dominated by (7, 2)
    assert non_dominated(POINTS, eligible).tolist() == [0, 1, 3, 4, 6]


def test_scaling_by_ideal_and_nadir() -> None:
    scale = scaling(FRONT)
    assert scale.ideal.tolist() == [1, 1] and scale.nadir.tolist() == [9, 9]
    assert scale(FRONT).tolist() == [[0, 1], [0.125, 0.75], [0.375, 0.375], [0.75, 0.125], [1, 0]]
    assert scale(np.array([[5.0, 13.0]])).tolist() == [[0.5, 1.5]]


def test_hv_ratio_of_true_front_is_one_and_dominated_sets_less() -> None:
    assert hv_ratio(FRONT, FRONT) == pytest.approx(1.0)
    assert hv_ratio(POINTS, FRONT) == pytest.approx(1.0)  # dominated extras add nothing
    # (5, 5) scales to (0.5, 0.5): HV = 0.6 * 0.6
    assert hv_ratio(np.array([[5.0, 5.0]]), FRONT) == pytest.approx(0.36 / HV_FRONT)
    assert hv_ratio(POINTS[5:], FRONT) < 1.0
    assert hv_ratio(np.array([[20.0, 20.0]]), FRONT) == 0.0  # beyond the reference point


def test_igd_is_zero_on_the_true_front() -> None:
    ind = indicators(FRONT, FRONT)
    assert ind["igd"] == pytest.approx(0.0) and ind["igd_plus"] == pytest.approx(0.0)
    # one front point found: (4, 4) -> (0.375, 0.375); IGD+ counts only where the front is better
    one = indicators(np.array([[4.0, 4.0]]), FRONT)
    scaled = scaling(FRONT)(FRONT)
    plus = np.sqrt((np.maximum(np.array([0.375, 0.375]) - scaled, 0) ** 2).sum(axis=1)).mean()
    assert one["igd_plus"] == pytest.approx(plus)
    assert one["igd"] > one["igd_plus"] > 0
    assert indicators(np.empty((0, 2)), FRONT)["hv_ratio"] == 0.0


def test_prefix_front_sees_only_the_first_n_and_skips_failures() -> None:
    F = np.array([[5, 5], [6, 6], [np.inf, np.inf], [1, 9], [4, 4]], dtype=float)
    assert prefix_front(F, 2).tolist() == [0]
    assert prefix_front(F, 4).tolist() == [0, 3]
    assert prefix_front(F, 5).tolist() == [3, 4]


def test_true_objectives_reads_error_and_flops() -> None:
    table = load_table()
    fake = dataclasses.replace(table, columns={**table.columns, "flops_cifar100": np.arange(len(table.ops), dtype=float)})
    T = true_objectives("cifar100", fake)
    assert T.shape == (15625, 2)
    assert T[9930].tolist() == pytest.approx([100 - 73.5133, 9930.0], abs=1e-3)
    without = dataclasses.replace(table, columns={k: v for k, v in table.columns.items() if not k.startswith("flops")})
    with pytest.raises(DataError, match="evonas.builders.cost"):
        true_objectives("cifar10", without)
    assert connected_mask(table).sum() < 15625 and connected_mask(table)[6111]


def test_within_bin_tau_ranks_inside_cost_bins_only() -> None:
    cost = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], dtype=float)
    acc = cost.copy()
    assert within_bin_tau(cost, acc, cost, n_bins=1) == pytest.approx(1.0)
    # a score that follows cost across bins but reverses it inside each: overall tau high, within-bin -1
    score = np.array([2, 1, 4, 3, 6, 5, 8, 7, 10, 9], dtype=float)
    assert within_bin_tau(score, acc, cost, n_bins=5) == pytest.approx(-1.0)
    assert within_bin_tau(score, acc, cost, n_bins=1) > 0.7
    # ties in cost share a bin: sizes 6 and 4, taus +1 and -1 -> (6 - 4) / 10
    tied = np.array([1, 1, 1, 1, 1, 1, 2, 2, 2, 2], dtype=float)
    score = np.array([1, 2, 3, 4, 5, 6, 4, 3, 2, 1], dtype=float)
    acc = np.array([1, 2, 3, 4, 5, 6, 1, 2, 3, 4], dtype=float)
    assert within_bin_tau(score, acc, tied, n_bins=2) == pytest.approx(0.2)
    # a failed (nan) cell is dropped; a bin with a constant score has no tau and is left out
    assert within_bin_tau(np.append(score, np.nan), np.append(acc, 9.0), np.append(tied, 2.0), 2) == pytest.approx(0.2)
    flat = np.array([1, 2, 3, 4, 5, 6, 0, 0, 0, 0], dtype=float)
    assert within_bin_tau(flat, acc, tied, n_bins=2) == pytest.approx(1.0)
    assert np.isnan(within_bin_tau(np.zeros(10), acc, tied, n_bins=2))


def test_score_front_hv_ratio_judges_the_score_front_on_true_objectives() -> None:
    error, flops = POINTS[:, 0], POINTS[:, 1]
    # a perfect score (minus the error, maximised) returns the true front
    assert score_front_hv_ratio(-error, "max", flops, error, FRONT) == (pytest.approx(1.0), 5)
    assert score_front_hv_ratio(error, "min", flops, error, FRONT) == (pytest.approx(1.0), 5)
    # the wrong direction, or a constant score, returns the cheapest cell only: (9, 1) scales to (1, 0)
    assert score_front_hv_ratio(error, "max", flops, error, FRONT) == (pytest.approx(0.11 / HV_FRONT), 1)
    assert score_front_hv_ratio(np.zeros(10), "min", flops, error, FRONT) == (pytest.approx(0.11 / HV_FRONT), 1)
    # two cells tied on (score, FLOPs) are both kept; a nan score drops its cell
    two = np.vstack([POINTS, [[4.0, 1.0]]])
    assert score_front_hv_ratio(np.zeros(11), "min", two[:, 1], two[:, 0], FRONT)[1] == 2
    nan_best = np.append(np.zeros(10), np.nan)
    assert score_front_hv_ratio(nan_best, "min", two[:, 1], two[:, 0], FRONT) == (pytest.approx(0.11 / HV_FRONT), 1)
    with pytest.raises(DataError, match="direction"):
        score_front_hv_ratio(error, "up", flops, error, FRONT)


def test_best_k_takes_whole_layers_then_the_least_crowded() -> None:
    # layers of POINTS: rows 0-4 (the front), then 5, 6, 7, then 8, then 9
    assert sorted(best_k(POINTS, 5)) == [0, 1, 2, 3, 4]
    # the second layer (3, 8), (5, 6), (8, 3) is cut by crowding distance: its two extremes (infinite) stay
    assert sorted(best_k(POINTS, 7)) == [0, 1, 2, 3, 4, 5, 7]
    # inside the front: extremes first, then (4, 4) (crowding 10/8) before (2, 7) and (7, 2) (crowding 1)
    assert sorted(best_k(POINTS, 3)) == [0, 2, 4]
    assert sorted(best_k(POINTS, 9)) == [0, 1, 2, 3, 4, 5, 6, 7, 8]
    failed = np.vstack([[[np.inf, np.inf]], POINTS])
    assert sorted(best_k(failed, 20)) == list(range(1, 11))
    assert len(best_k(POINTS, 0)) == 0 and len(best_k(np.empty((0, 2)), 3)) == 0


def test_trained_front_rejudges_the_candidates_on_accuracy() -> None:
    error, cost = POINTS[:, 0], POINTS[:, 1]
    # the candidates are rows 0-5 and 7; a training that measures the true error keeps the true front
    assert trained_front(POINTS, 100 - error, cost, 7).tolist() == [0, 1, 2, 3, 4]
    # a training that gets accuracy backwards keeps the candidate it thinks best and cheapest: (9, 1)
    assert trained_front(POINTS, error, cost, 7).tolist() == [4]
    # the accuracy of a cell outside the k candidates never counts
    acc = 100 - error
    acc[6] = 1000.0
    assert 6 not in trained_front(POINTS, acc, cost, 7)


def test_true_front_points_is_the_benchmarks_front() -> None:
    table = load_table()
    T = true_objectives("cifar10", table)
    front = true_front_points("cifar10", table)
    assert front.tolist() == T[non_dominated(T, connected_mask(table))].tolist()
    assert score_front_hv_ratio(-T[:, 0], "max", T[:, 1], T[:, 0], front)[0] == pytest.approx(1.0)


@pytest.mark.parametrize("dataset, column", [("cifar10", "cifar10_valid_12ep"), ("cifar100", "cifar100_valid_12ep"),
                                             ("imagenet16-120", "imagenet16_valid_12ep")])
def test_valid_12ep_reads_the_datasets_column(dataset: str, column: str) -> None:
    table = load_table()
    ctx = ScoreContext(table.cell(857), torch.device("cpu"), dataset_spec(dataset))
    assert SCORES["valid_12ep"](ctx) == pytest.approx(float(table.column(column)[857]))


@pytest.fixture()
def search_quality(monkeypatch):
    sys.path.insert(0, str(ROOT))
    import benchmarks.search_quality as sq

    table = load_table()
    cost = 1.0 + (table.ops == 2).sum(axis=1) + 9.0 * (table.ops == 3).sum(axis=1)  # a stand-in for FLOPs

    def objectives(dataset: str, table=table) -> np.ndarray:
        return np.stack([100 - table.column(dataset_spec(dataset).test_column), cost], axis=1)

    monkeypatch.setattr(sq, "true_objectives", objectives)
    return sq


@pytest.mark.slow
def test_benchmark_on_a_tiny_budget(search_quality, tmp_path) -> None:
    args = ["--config", str(ROOT / "configs/smoke.yaml"), "--set", "ray.backend=serial", "--set", "search.pop_size=4",
            "--set", f"cache.dir={tmp_path / 'cache'}", "--seeds", "2", "--budgets", "4,8",
            "--settings", "params+flops,valid12+flops,random", "--single-n", "8",
            "--json", str(tmp_path / "q.json"), "--plot", str(tmp_path / "q.png")]
    res = search_quality.main(args)
    table = load_table()
    for name in ("params+flops", "valid12+flops", "random"):
        runs = res["settings"][name]["runs"]
        for run in runs:
            cells = [table.cell(i) for i in run["indices"]]
            assert len(cells) == 8 and all(c.is_connected for c in cells)
            assert len({c.canonical for c in cells}) == 8  # no isomorphic cell scored twice
        for ds in ("cifar10", "cifar100", "imagenet16-120"):
            small, large = (res["settings"][name]["budgets"][b] for b in ("4", "8"))
            assert small[f"{ds}/evaluated/hv_ratio"]["mean"] <= large[f"{ds}/evaluated/hv_ratio"]["mean"] + 1e-12
            assert 0 < large[f"{ds}/evaluated/hv_ratio"]["mean"] <= 1
            # the evaluated front dominates every returned member: never a smaller hypervolume
            assert large[f"{ds}/returned/hv_ratio"]["mean"] <= large[f"{ds}/evaluated/hv_ratio"]["mean"] + 1e-12
    # the valid_12ep search returns cells by their table value: its objective is the table's column
    run = res["settings"]["valid12+flops"]["runs"][0]
    assert [-f[0] for f in run["search_F"]] == pytest.approx(
        [float(table.column("cifar10_valid_12ep")[i]) for i in run["indices"]])
    assert set(res["single_objective"]["choices"]) == {"(a) best knas of the sample",
                                                       "(b) top-40 knas, then 12-ep valid"}
    assert (tmp_path / "q.png").stat().st_size > 0
    assert json.loads((tmp_path / "q.json").read_text())["seeds"] == 2

    again = search_quality.main(args)  # every (cell, score) now comes from the cache
    for name, setting in again["settings"].items():
        assert all(r["computed"] == 0 for r in setting["runs"]), name
        assert [r["indices"] for r in setting["runs"]] == [r["indices"] for r in res["settings"][name]["runs"]]


def test_fill_cache_stores_what_the_search_computes_and_resumes(tmp_path) -> None:
    sys.path.insert(0, str(ROOT))
    import benchmarks.fill_cache as fc
    from evonas.config.load import load_config
    from evonas.engine.scorer import Scorer
    from evonas.engine.records import ScorerSpec

    table = load_table()
    empty = table.index(Cell((0,) * 6))  # all edges none: disconnected, never scored
    args = ["--config", str(ROOT / "configs/smoke.yaml"), "--set", "ray.backend=serial",
            "--set", f"cache.dir={tmp_path}", "--score", "knas", "--indices", f"6111,9930,{empty}"]
    first = fc.main(args)
    assert (first["cells"], first["computed"], first["cached"]) == (2, 2, 0)
    again = fc.main(args)
    assert (again["computed"], again["cached"]) == (0, 2)
    config = load_config(ROOT / "configs/smoke.yaml", ["cache.dir=" + str(tmp_path)])
    stored = dict(line.split("\t") for line in Path(first["cache_file"]).read_text().splitlines()[1:])
    expected = Scorer(ScorerSpec.from_config(config)).score(table.cell(6111).arch, only=("knas",)).values["knas"]
    assert float(stored[table.cell(6111).reduced.arch]) == expected  # lines are keyed by the reduced arch
    with pytest.raises(fc.ConfigError, match="not an objective"):
        fc.main(args[:-4] + ["--score", "synflow", "--indices", "6111"])


def test_quality_imports_without_scipy(subprocess_env) -> None:
    """scipy is a benchmark-only dependency: only ``within_bin_tau`` and ``best_k`` load it, when called."""
    import subprocess

    code = "import sys; sys.modules['scipy'] = None; import evonas.analysis.quality, evonas.analysis.benchmark"
    out = subprocess.run([sys.executable, "-c", code], env=subprocess_env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr

"""The training stage's bands shortlist and the front after training, on hand-made cases."""
from __future__ import annotations

import numpy as np
import pytest

from evonas.analysis.quality import shortlist, trained_front
from evonas.config.load import config_from_mapping
from evonas.errors import ConfigError, DataError
from evonas.search.shortlist import average_ranks, band_shortlist, cost_bands, shortlist_rows
from evonas.search.trained_front import noise_front

NAN = float("nan")


def test_average_ranks_share_ties():
    assert average_ranks(np.array([3.0, 1.0, 3.0, 2.0])).tolist() == [2.5, 0.0, 2.5, 1.0]


def test_bands_are_equal_count_and_ties_share_a_band():
    assert cost_bands(np.arange(8.0), 4).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert cost_bands(np.arange(8.0)[::-1], 4).tolist() == [3, 3, 2, 2, 1, 1, 0, 0]
    # four cells of equal cost straddle the cut between bands 0 and 1: all four land in one band
    bands = cost_bands(np.array([1.0, 2.0, 2.0, 2.0, 2.0, 5.0, 6.0, 7.0]), 4)
    assert len(set(bands[1:5])) == 1 and bands[0] == 0 and bands[-1] == 3
    with pytest.raises(DataError, match="bands must be >= 1"):
        cost_bands(np.arange(3.0), 0)


def test_best_of_each_band_by_the_score():
    cost = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    value = np.array([5.0, 1.0, 0.0, 9.0, 3.0, 2.0])  # minimised
    rows, bands = band_shortlist(cost, value, 3)
    assert rows.tolist() == [1, 2, 5] and bands.tolist() == [0, 1, 2]


def test_ties_in_the_score_go_to_the_cheaper_cell_then_the_earlier():
    rows, _ = band_shortlist(np.array([2.0, 1.0, 1.0, 9.0, 8.0]), np.ones(5), 2)
    assert rows.tolist() == [1, 4]  # band 0 holds rows 0 (cost 2), 1 and 2 (cost 1); band 1 rows 3 and 4


def test_fewer_cells_than_bands_gives_every_cell():
    rows, bands = band_shortlist(np.array([5.0, 1.0, 3.0]), np.array([0.0, 0.0, 0.0]), 10)
    assert rows.tolist() == [1, 2, 0] and len(set(bands.tolist())) == 3


def test_failed_cells_are_neither_chosen_nor_counted():
    # the three cheapest cells failed (no score): without dropping them first they would fill band 0
    cost = np.array([1.0, 1.5, 2.0, 10.0, 11.0, 12.0, 20.0, 21.0])
    value = np.array([NAN, NAN, NAN, 3.0, 1.0, 2.0, 5.0, 4.0])
    rows, _ = band_shortlist(cost, value, 2)
    assert rows.tolist() == [4, 7]
    assert band_shortlist(cost, np.full(8, NAN), 2)[0].tolist() == []
    eligible = np.array([True] * 4 + [False] * 4)
    assert band_shortlist(cost, value, 2, eligible)[0].tolist() == [3]


def test_benchmark_rules_bands_cover_the_cost_axis():
    # a front crowded at low cost: rank and crowding keeps its extremes and the crowded end; bands
    # over all scored rows reach an accurate costly cell the front missed
    F = np.array([[-9.0, 1.0], [-9.1, 1.1], [-9.2, 1.2], [-9.3, 1.3], [-8.0, 50.0], [-7.0, 60.0], [-8.5, 70.0]])
    assert sorted(shortlist(F, 2, "bands", cost_col=1, rank_col=0).tolist()) == [3, 6]
    assert sorted(shortlist(F, 2, "bands-front", cost_col=1, rank_col=0).tolist()) == [1, 3]
    assert len(shortlist(F, 10, "bands-front", cost_col=1, rank_col=0)) == 4  # at most the front
    with pytest.raises(DataError, match="unknown shortlist rule"):
        shortlist(F, 2, "best")


def test_trained_front_follows_the_training_not_the_search():
    # the search ranks row 0 first, but a short training puts it below row 1 at a higher cost
    F = np.array([[-3.0, 5.0], [-2.0, 4.0], [-1.0, 1.0]])
    acc, cost = np.array([50.0, 70.0, 60.0]), np.array([5.0, 4.0, 1.0])
    assert trained_front(F, acc, cost, 3).tolist() == [1, 2]
    assert noise_front(acc, acc, acc, cost).tolist() == [1, 2]        # points: the plain front
    assert noise_front(*[np.array([NAN, 10.0])] * 3, np.array([1.0, 2.0])).tolist() == [1]


def _rows():
    front = [{"id": i, "arch": f"a{i}", "canonical": f"c{i}", "index": i, "gradient_kernel": g, "flops": f}
             for i, (g, f) in enumerate([(5.0, 1.0), (6.0, 2.0), (7.0, 8.0), (8.0, 30.0)])]
    return front


def _config(**train):
    return config_from_mapping({"objectives": [{"score": "gradient_kernel"}, {"score": "flops"}],
                                "train": {"candidates": "bands", **train}})


def test_shortlist_rows_over_the_front():
    rows = shortlist_rows(_config(bands=2), _rows())
    assert [(r["id"], r["band"], r["on_front"]) for r in rows] == [(1, 0, True), (3, 1, True)]


def test_shortlist_rows_over_scored_cells_give_off_front_ids_after_the_front():
    from evonas.space.table import load_table

    table = load_table()
    scored = [{"arch": r["arch"], "canonical": r["canonical"], "index": r["index"], "status": "ok",
               "gradient_kernel": r["gradient_kernel"], "flops": r["flops"]} for r in _rows()]
    off = table.cell(857)
    scored += [{"arch": off.arch, "canonical": off.canonical, "index": 857, "status": "ok",
                "gradient_kernel": 7.5, "flops": 35.0},  # dominated by id 3, yet the best of the costliest band
               {"arch": "x", "canonical": "x", "index": 5, "status": "failed", "gradient_kernel": "", "flops": ""}]
    rows = shortlist_rows(_config(bands=3, bands_over="scored"), _rows(), scored)
    assert [(r["id"], r["band"], r["on_front"]) for r in rows] == [(1, 0, True), (3, 1, True), (4, 2, False)]
    assert rows[2]["arch"] == off.arch and rows[2]["cifar10_test_200ep"] == table.row(857)["cifar10_test_200ep"]


def test_rank_by_and_band_by_are_checked_before_any_work():
    assert _config().train_rank_by.score == "gradient_kernel" and _config().train_band_by.score == "flops"
    assert _config(rank_by="flops").train_rank_by.score == "flops"
    with pytest.raises(ConfigError, match="train.rank_by: 'synflow' is not an objective"):
        _config(rank_by="synflow")
    with pytest.raises(ConfigError, match="train.band_by: 'gradient_kernel' is maximised"):
        _config(band_by="gradient_kernel")
    with pytest.raises(ConfigError, match="needs a minimised objective"):
        config_from_mapping({"objectives": [{"score": "gradient_kernel"}, {"score": "synflow"}],
                             "train": {"candidates": "bands"}})


def test_levels_are_taken_round_robin_the_fuller_levels_first():
    from evonas.search.shortlist import level_shortlist

    cost = np.array([5.0, 5.0, 5.0, 1.0, 1.0, 9.0, NAN])
    value = np.array([3.0, 1.0, 2.0, 7.0, 6.0, 0.0, -9.0])  # the failed row (nan cost) is never taken
    rows, levels = level_shortlist(cost, value, 4)
    # best of the fullest level (cost 5: 3 cells), then cost 1 (2 cells), then cost 9; then the second round
    assert rows.tolist() == [1, 4, 5, 2] and levels.tolist() == [1, 0, 2, 1]
    assert sorted(level_shortlist(cost, value, 99)[0].tolist()) == [0, 1, 2, 3, 4, 5]
    assert level_shortlist(cost, value, 2, eligible=cost != 5.0)[0].tolist() == [4, 5]


def test_rank_sum_adds_log_percentiles_and_keeps_failures_last():
    from evonas.search.shortlist import rank_sum

    a = np.array([1.0, 2.0, 3.0, NAN])   # minimised: row 0 best
    b = np.array([3.0, 2.0, 1.0, 0.0])   # row 2 best
    v = rank_sum([a, b])
    # percentiles (rank from the worst / 3): row 0 (3/3, 1/3), row 1 (2/3, 2/3), row 2 (1/3, 3/3)
    assert v[:3] == pytest.approx([-np.log(1 / 3), -2 * np.log(2 / 3), -np.log(1 / 3)])
    assert v[3] == np.inf and np.argmin(v[:3]) == 1


def test_shortlist_rows_by_levels_and_ranks():
    front = _rows()
    config = config_from_mapping({"objectives": [{"score": "gradient_kernel"}, {"score": "synflow"},
                                                 {"score": "flops"}],
                                  "train": {"candidates": "bands", "bands_cut": "levels", "rank_by": "ranks",
                                            "bands": 3}})
    for r, s in zip(front, (4.0, 1.0, 3.0, 2.0)):
        r["synflow"] = s
    front.append({**front[1], "id": 4, "canonical": "c4", "gradient_kernel": 5.5, "synflow": 9.0})  # flops 2 again
    rows = shortlist_rows(config, front)
    # level flops 2 holds ids 1 and 4: id 4 ranks better (5.5 vs 6.0 on the kernel, 9 vs 1 on synflow); the other
    # levels hold one cell each and go cheapest first
    assert [r["id"] for r in rows] == [4, 0, 2]
    with pytest.raises(ConfigError, match="'flops', 'ranks'|or 'ranks'"):
        _config(rank_by="naswot")


def test_off_front_rows_of_a_run_on_your_data_get_no_table_columns():
    """The table measures NB201's data sets: a cell shortlisted off the front of a custom run gets none of its
    columns, as the front's rows get none (``table_row``, the one rule)."""
    config = config_from_mapping({"dataset": "custom", "data": {"root": "mine.npz"},
                                  "objectives": [{"score": "naswot"}, {"score": "flops"}],
                                  "train": {"candidates": "bands", "bands": 3, "bands_over": "scored"}})
    front = [{**r, "naswot": r.pop("gradient_kernel")} for r in _rows()]
    scored = [{"arch": r["arch"], "canonical": r["canonical"], "index": r["index"], "status": "ok",
               "naswot": r["naswot"], "flops": r["flops"]} for r in front]
    scored.append({"arch": "off", "canonical": "off", "index": 857, "status": "ok", "naswot": 7.5, "flops": 35.0})
    rows = shortlist_rows(config, front, scored)
    assert [(r["id"], r["on_front"]) for r in rows][-1] == (4, False)
    assert set(rows[-1]) == {"id", "band", "on_front", "arch", "index", "canonical", "proposed", "dead_edges",
                             "naswot", "flops"}
    from evonas.search.shortlist import table_row

    assert table_row(config, 857) == {}
    assert table_row(_config(), 857)["cifar10_test_200ep"] > 90

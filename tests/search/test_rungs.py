"""The training schedule's rules (``evonas.search.rungs``) and its configuration (``train.schedule``)."""
from __future__ import annotations

import pytest

from evonas.config.load import load_config
from evonas.config.train import Rung, TrainConfig
from evonas.errors import ConfigError
from evonas.search.rungs import keep_ids, last_rung, rung_of
from evonas.search.trained_front import mark_trained_front

from conftest import REPO

MEMBERS = [{"id": str(i), "flops": f} for i, f in enumerate([10.0, 10.0, 20.0, 20.0, 30.0, 40.0])]


def _rows(accuracies, test_n=10000):
    rows = [{"id": i, "status": "ok", "test_acc": a, "test_n": test_n} for i, a in enumerate(accuracies)]
    return mark_trained_front(rows, MEMBERS, "flops")


def test_each_keep_rule_lets_through_what_it_names():
    # on 10,000 test images the intervals are ~±0.9 points: 80.0 and 80.5 cannot be told apart, 70 and 80 can
    rows = _rows([70.0, 80.0, 80.5, 60.0, 79.0, 90.0])
    rows.append({"id": 6, "status": "failed", "test_acc": ""})
    assert keep_ids(rows, Rung(5, "all"), "flops") == [0, 1, 2, 3, 4, 5]      # a failed training never goes on
    assert keep_ids(rows, Rung(5, "top", top=2), "flops") == [2, 5]
    # rank and crowding: the first non-dominated layer on (accuracy, cost) is 1, 2, 5 (4 is beaten by 2); of three
    # kept in two, crowding keeps the ends of the cost axis: the cheapest (1) and the costliest (5)
    assert keep_ids(rows, Rung(5, "rank", top=2), "flops") == [1, 5]
    assert keep_ids(rows, Rung(5, "rank", top=5), "flops") == [0, 1, 2, 4, 5]  # the second layer: 0 and 4
    assert keep_ids(rows, Rung(5, "levels"), "flops") == [1, 2, 4, 5]          # the best at 10, 20, 30 and 40
    # id 1 is beaten only within noise by the as-costly-or-costlier id 2: both stay; 4 (79 %, 30) is beaten beyond
    # noise by nothing as cheap; 0 and 3 lie below a cheaper-or-equal member's interval
    assert keep_ids(rows, Rung(5, "front"), "flops") == [1, 2, 4, 5]
    # on 50 test images 60-90 % cannot be ranked: every candidate goes on
    assert keep_ids(_rows([70.0, 80.0, 80.5, 60.0, 79.0, 90.0], test_n=50), Rung(5, "front"), "flops") == \
        [0, 1, 2, 3, 4, 5]


def test_the_answer_is_the_last_rung_with_a_finished_training():
    rows = [{"id": 0, "rung": 1, "status": "ok"}, {"id": 1, "rung": "2", "status": "ok"},
            {"id": 0, "rung": "3", "status": "failed"}]
    assert [r["id"] for r in last_rung(rows)] == [1]
    assert rung_of({"id": 0}) == 1 and rung_of({"rung": ""}) == 1  # a trained.csv of an older evonas
    assert last_rung([]) == []


@pytest.mark.parametrize("schedule, message", [
    ([{"epochs": 12, "keep": "front"}, {"epochs": 200}], r"train.schedule\[0\]: the first rung trains every"),
    ([{"epochs": 12}, {"epochs": 12, "keep": "front"}], r"train.schedule\[1\]: epochs must grow"),
    ([{"epochs": 12}, {"epochs": 200, "keep": "top"}], "keep: top and keep: rank need top: K"),
    ([{"epochs": 12}, {"epochs": 200, "keep": "front", "top": 3}], "top: K needs one of them"),
    ([{"epochs": 12}, {"epochs": 200, "keep": "best"}], "keep"),
])
def test_a_bad_schedule_is_named(schedule, message):
    with pytest.raises(ConfigError, match=message):
        load_config(REPO / "configs" / "nb201_pareto.yaml", [f"train.schedule={schedule}"])


def test_levels_needs_a_cost_and_rungs_say_how_they_train():
    with pytest.raises(ConfigError, match=r"train.schedule\[1\]: keep: levels .* no objective is a cost"):
        load_config(REPO / "configs" / "nb201_pareto.yaml",
                    ["objectives=[{score: synflow, direction: max}, {score: naswot, direction: max}]",
                     "train.candidates=front", "train.schedule=[{epochs: 12}, {epochs: 200, keep: levels}]"])
    tc = TrainConfig(schedule=(Rung(12), Rung(200, "front")))
    assert [(s.epochs, stop) for s, stop in map(tc.rung_recipe, range(2))] == [(12, 12), (200, 200)]
    tc = TrainConfig(schedule=(Rung(12), Rung(200, "front")), schedule_from="checkpoint")
    assert [(s.epochs, stop) for s, stop in map(tc.rung_recipe, range(2))] == [(200, 12), (200, 200)]
    assert TrainConfig().rungs() == (Rung(200),)

"""Fronts drawn honestly: 3-objective projections without a line, the front after training on its own axis."""
from __future__ import annotations

import csv
import dataclasses
import json
import re

import matplotlib.pyplot as plt
import pytest

from evonas.config.schema import Config, NetworkConfig, ObjectiveConfig
from evonas.run.rundir import RunDir
from evonas.space.table import load_table
from evonas.viz.html import render_html
from evonas.viz.png import draw_front
from evonas.viz.report import load_view
from evonas.viz.view import build_view
from fixtures_run import TRAINED_COLUMNS, make_run

THREE = Config(name="three", network=NetworkConfig(C=4, N=1),
               objectives=(ObjectiveConfig("gradient_kernel", "max"), ObjectiveConfig("synflow", "max"),
                           ObjectiveConfig("flops", "min")))
#: (NB201 index, gradient_kernel, synflow, flops): the front (ids 0-2), a shortlisted cell off it (id 3)
#: and a dominated candidate. The table's 200-epoch accuracies are 79.5-94.4 %.
CELLS = [(6111, 3.0, 1.0, 10.0), (857, 2.0, 3.0, 5.0), (1000, 1.0, 2.0, 2.0), (5000, 0.5, 0.5, 7.0),
         (100, 0.2, 0.2, 12.0)]
#: a short training reorders them: id 0, the best search score, is beaten by id 1 (cheaper and more accurate);
#: the computed front after training is ids 2, 1, 3 (cost 2, 5, 7)
TRAINED_ACC = {0: 17.0, 1: 19.0, 2: 18.0, 3: 21.0}


@pytest.fixture(scope="module")
def table():
    """The shipped table without cost columns: the cost axis is the run's own ``flops`` objective."""
    t = load_table()
    return dataclasses.replace(t, columns={k: v for k, v in t.columns.items() if not k.startswith(("flops", "params"))})


def _rows(table):
    cands, front, shortlist = [], [], []
    for k, (i, gk, sf, flops) in enumerate(CELLS):
        row = {"arch": table.cell(i).arch, "index": i, "status": "ok", "gradient_kernel": gk, "synflow": sf,
               "flops": flops}
        cands.append(row)
        if k < 3:
            front.append({"id": k, **row})
        if k < 4:
            shortlist.append({"id": k, **row, "band": k, "on_front": "1" if k < 3 else "0"})
    return cands, front, shortlist


def _trained(marks: dict[int, str] | None = None) -> list[dict]:
    return [{"id": i, "epochs": 5, "test_acc": acc, "status": "ok", **({"trained_front": marks[i]} if marks else {})}
            for i, acc in TRAINED_ACC.items()]


def _view(table, *, trained=(), config=THREE, x="flops", y="gradient_kernel"):
    cands, front, shortlist = _rows(table)
    return build_view(config, cands, front, table, x=x, y=y, members=shortlist, trained=trained)


def _figure(view):
    fig = draw_front(view)
    try:
        return fig, fig.axes
    finally:
        plt.close(fig)


def _drawn_front(ax, view) -> set[int]:
    """The ids of the points drawn as the front after training, matched by (cost, accuracy)."""
    (dots,) = [c for c in ax.collections if c.get_label().startswith("front after training")]
    at = {(float(r[view.trained_cost]), r["trained_test_acc"]): int(r["id"]) for r in view.trained()}
    return {at[(float(px), float(py))] for px, py in dots.get_offsets()}


def test_three_objectives_draw_no_line_and_colour_by_the_objective_off_the_axes(table):
    view = _view(table)
    assert not view.front_line and view.colour_by == "synflow"
    fig, axes = _figure(view)
    assert axes[0].get_lines() == []
    (dots,) = [c for c in axes[0].collections if c.get_label().startswith("Pareto front")]
    assert dots.get_array().tolist() == [1.0, 3.0, 2.0]                       # coloured by synflow
    assert any("synflow" in a.get_ylabel() for a in axes[3:])                  # the colour bar names it


def test_two_objectives_keep_the_line(tmp_path):
    run = RunDir.open(make_run(tmp_path))
    view = load_view(run, run.config())
    assert view.front_line and view.colour_by is None
    _, axes = _figure(view)
    assert len(axes[0].get_lines()) == 1 and len(axes) == 3


def test_trained_front_is_computed_when_trained_csv_has_no_column(table):
    view = _view(table, trained=_trained())
    assert view.trained_front_from == "computed"
    assert [r["id"] for r in view.trained_front()] == [2, 1, 3]               # cheapest first; id 0 is beaten
    _, axes = _figure(view)
    assert _drawn_front(axes[2], view) == {1, 2, 3}
    assert sorted(t.get_text() for t in axes[2].texts) == ["0", "1", "2", "3"]  # every trained candidate's id
    assert "5 epochs" in axes[2].get_ylabel()


def test_trained_front_comes_from_trained_csvs_column(table):
    view = _view(table, trained=_trained({0: "True", 1: "False", 2: "1", 3: "0"}))
    assert view.trained_front_from == "trained.csv"
    _, axes = _figure(view)
    assert _drawn_front(axes[2], view) == {0, 2}


def test_the_trained_panel_uses_the_cost_the_front_after_training_is_judged_on():
    """With the table's FLOPs column the 200-epoch panel draws flops_cifar10; the trained panel keeps the run's
    own ``flops`` (``trained_cost``), on which the training stage marked its front."""
    view = _view(load_table(), trained=_trained())
    assert view.cost == "flops_cifar10" and view.trained_cost == "flops"
    assert [r["id"] for r in view.trained_front()] == [2, 1, 3]
    _, axes = _figure(view)
    assert _drawn_front(axes[2], view) == {1, 2, 3} and "searched network" in axes[2].get_xlabel()


def test_the_200_epoch_panel_is_not_pulled_down_by_a_short_training(table):
    view = _view(table, trained=_trained())
    _, axes = _figure(view)
    low = min(float(r["cifar10_test_200ep"]) for r in view.candidates)
    assert axes[1].get_ylim()[0] > 70 and axes[1].get_ylim()[0] >= low - 5 - 1e-9
    assert all(c.get_offsets()[:, 1].min() > 70 for c in axes[1].collections if len(c.get_offsets()))


def test_untrained_run_says_so(table):
    _, axes = _figure(_view(table))
    assert [t.get_text() for t in axes[2].texts] == ["not trained yet"]
    page = render_html(_view(table), THREE.score_names)
    assert "not trained yet" in page


def _records(page: str) -> list[dict]:
    return json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S)
                      .group(1).replace("<\\/", "</"))["records"]


def test_html_hover_shows_every_objective_and_the_trained_pick_command(table):
    view = _view(table, trained=_trained())
    page = render_html(view, view.objectives)
    records = _records(page)
    members = {r["id"]: r for r in records if r["id"] is not None}
    assert set(members) == {0, 1, 2, 3}
    for r in records:
        assert set(r["obj"]) == {"gradient_kernel", "synflow", "flops"}
    assert members[3] | {"obj": None, "acc": None} == {
        "id": 3, "front": False, "arch": table.cell(5000).arch, "index": 5000, "obj": None, "acc": None,
        "trained": [21.0, "5"], "tfront": True, "band": "3", "on_front": False}
    assert members[0]["front"] and members[0]["on_front"] and not members[0]["tfront"]
    # the trained panel's front points carry data-k="t": clicking them gives the trained pick command
    tfront = {int(m) for m in re.findall(r'class="tfront" data-r="(\d+)" data-k="t"', page)}
    assert {records[i]["id"] for i in tfront} == {1, 2, 3}
    assert "' --trained --id ' + r.id" in page and "front after training" in page


def test_the_trained_panel_draws_each_accuracys_95_percent_interval(table):
    """With trained.csv's test_n every trained member has its Wilson interval: the view holds it, the PNG draws it as
    error bars, the page as bars and on hover. 17-21 % on 256 images are within each other's intervals, so the front
    after training computed here keeps all four; without test_n (an older trained.csv) nothing is drawn."""
    from matplotlib.container import ErrorbarContainer

    from evonas.search.trained_front import wilson_interval

    view = _view(table, trained=[{**t, "test_n": 256} for t in _trained()])
    intervals = view.trained_intervals()
    assert view.trained_test_n == "256" and set(intervals) == {0, 1, 2, 3}
    assert intervals[3] == pytest.approx(wilson_interval(21.0, 256))
    assert [r["id"] for r in view.trained_front()] == [2, 1, 3, 0]            # none better beyond noise
    _, axes = _figure(view)
    (bars,) = [c for c in axes[2].containers if isinstance(c, ErrorbarContainer)]
    assert bars.get_label() == "95 % interval (256 test images)"
    drawn = sorted((float(s[0][0]), float(s[0][1]), float(s[1][1])) for s in bars.lines[2][0].get_segments())
    cost = {int(r["id"]): float(r["flops"]) for r in view.trained()}
    assert drawn == pytest.approx(sorted((cost[i], *intervals[i]) for i in intervals))
    assert axes[2].get_ylim()[0] < min(lo for lo, _ in intervals.values())
    assert axes[2].get_ylim()[1] > max(hi for _, hi in intervals.values())
    page = render_html(view, view.objectives)
    assert page.count('class="bar"') == 4 and "bars: 95 % intervals on 256 test images" in page
    tci = {r["id"]: r["tci"] for r in _records(page) if "tci" in r}
    assert tci[3][:2] == pytest.approx(list(intervals[3])) and tci[3][2] == "256" and set(tci) == {0, 1, 2, 3}
    older = _view(table, trained=_trained())
    assert older.trained_intervals() == {} and 'class="bar"' not in render_html(older, older.objectives)
    assert not [c for c in _figure(older)[1][2].containers if isinstance(c, ErrorbarContainer)]


def test_load_view_reads_the_shortlist_and_trained_front(tmp_path):
    root = make_run(tmp_path)
    run = RunDir.open(root)
    front = run.pareto()
    off = {**{k: v for k, v in front[0].items() if k != "id"}, "id": "3", "band": "1", "on_front": "0"}
    with open(root / "shortlist.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=[*front[0], "band", "on_front"])
        w.writeheader()
        w.writerows([{**r, "band": "0", "on_front": "1"} for r in front] + [off])
    with open(root / "trained.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=[*TRAINED_COLUMNS, "trained_front"], extrasaction="ignore")
        w.writeheader()
        w.writerows([{"id": 1, "epochs": 5, "test_acc": 18.0, "status": "ok", "trained_front": "1"},
                     {"id": 3, "epochs": 5, "test_acc": 16.0, "status": "ok", "trained_front": "0"}])
    view = load_view(run, run.config())
    assert [r["id"] for r in view.members] == ["0", "1", "2", "3"]
    assert [r["id"] for r in view.trained_front()] == ["1"] and view.front[1]["band"] == "0"


def test_an_untrained_run_on_your_data_draws_a_note_not_an_empty_accuracy_panel(table):
    """On a user's data set the middle panel is the front at its trained accuracy: before training it has no point,
    so the view says so (and how to train), and no label speaks of "? epochs"."""
    from evonas.config.load import config_from_mapping
    from evonas.viz.view import trained_label

    mine = config_from_mapping({"name": "mine", "dataset": "custom", "data": {"root": "mine.npz"},
                                "objectives": [{"score": "gradient_kernel"}, {"score": "synflow"},
                                               {"score": "flops", "direction": "min"}]})
    view = _view(table, config=mine)
    assert not view.benchmark and view.accuracy == "trained_test_acc" and view.trained_epochs == ""
    assert view.accuracy_note == "not trained yet: python -m evonas train RUN_DIR"
    assert trained_label(view.accuracy, view.trained_epochs) == "test accuracy, trained here (%)"
    _, axes = _figure(view)
    assert [t.get_text() for t in axes[1].texts] == ["not trained yet:\npython -m evonas train RUN_DIR"]
    assert "not trained yet: python -m evonas train RUN_DIR" in render_html(view, mine.score_names)
    assert _view(table, config=mine, trained=_trained()).accuracy_note == ""            # trained: points to draw
    assert _view(table, config=mine, trained=[{"id": 3, "epochs": 5, "test_acc": 21.0, "status": "ok"}]
                 ).accuracy_note == "no member of the front is trained yet"           # only the off-front cell
    assert _view(table).accuracy_note == ""                                             # NB201: the table's accuracy

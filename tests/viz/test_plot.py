"""pareto.png / pareto.html, the true-front reference, and the plot command."""
from __future__ import annotations

import dataclasses
import re

import matplotlib.image
import numpy as np

from evonas.cli import main
from evonas.viz.report import finish_run, load_view, write_plots
from evonas.run.rundir import RunDir
from evonas.run.csvfiles import read_csv
from evonas.analysis.benchmark import front_gap, true_front, true_front_of_table
from evonas.space.table import load_table
from fixtures_run import TRAINED, make_run


def test_true_front_on_a_hand_made_table():
    acc = np.array([90, 80, 95, 70, 95, 85, np.nan, 60])
    cost = np.array([10, 5, 20, 1, 30, 5, 0.5, 1])
    # (80, 5) loses to (85, 5); (95, 30) to (95, 20); (60, 1) to (70, 1); NaN is ignored
    assert true_front(acc, cost).tolist() == [3, 5, 0, 2]
    ref = true_front_of_table(_table_with_cost(), "flops_cifar10", "cifar10_test_200ep")
    assert front_gap(ref, float(ref.cost[0]), float(ref.accuracy[0])) == 0.0


def _sweep(acc: np.ndarray, cost: np.ndarray) -> list[int]:
    """The 2-D non-dominated set by a sweep over increasing cost (independent of pymoo)."""
    order = np.lexsort((-acc, cost))
    best, out = -np.inf, []
    for i in order:
        if acc[i] > best:
            out.append(int(i))
            best = acc[i]
    return out


def _table_with_cost():
    """The shipped table with a made-up, deterministic flops_cifar10 column (the real one may not be built)."""
    table = load_table()
    cost = np.random.default_rng(0).integers(1, 400, size=15625) / 4.0
    return dataclasses.replace(table, columns={**table.columns, "flops_cifar10": cost})


def test_reference_line_is_exactly_the_non_dominated_set_of_the_table(tmp_path):
    table = _table_with_cost()
    acc, cost = table.columns["cifar10_test_200ep"], table.columns["flops_cifar10"]
    run = RunDir.open(make_run(tmp_path))
    view = load_view(run, run.config(), table=table)
    assert view.cost == "flops_cifar10" and view.reference is not None
    assert view.reference.indices.tolist() == _sweep(acc, cost)
    assert np.all(np.diff(view.reference.cost) > 0) and np.all(np.diff(view.reference.accuracy) > 0)
    assert set(view.gaps) == {0, 1, 2} and all(g >= 0 for g in view.gaps.values())


def test_without_cost_columns_the_reference_is_skipped_with_a_note(tmp_path):
    table = load_table()
    table = dataclasses.replace(table, columns={k: v for k, v in table.columns.items() if not k.startswith("flops")})
    run = RunDir.open(make_run(tmp_path))
    view = load_view(run, run.config(), table=table)
    assert view.reference is None and "flops_cifar10" in view.note and "evonas.builders.cost" in view.note


def test_plots_are_valid_and_name_every_front_member(tmp_path):
    run = RunDir.open(make_run(tmp_path, trained=TRAINED))
    front = run.pareto()
    png, page = write_plots(load_view(run, run.config(), table=_table_with_cost()), run)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(png)
    assert image.shape[0] > 600 and image.shape[1] > 1500
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert not re.search(r"<(script|link)[^>]+(src|href)=", text)  # nothing fetched: works offline
    for r in front:
        assert r["arch"] in text
        assert f'"id": {r["id"]}' in text and f'class="idlabel front">{r["id"]}<' in text
    assert "python -m evonas pick " in text and str(run.path) in text
    assert "true NB201 front" in text and "trained" in text and '"trained": [60.0, "5"]' in text


def test_finish_run_writes_png_and_html(tmp_path):
    run = RunDir.open(make_run(tmp_path))
    summary = finish_run(run.config(), run, read_csv(run.file("pareto.csv")))
    assert run.file("pareto.png").stat().st_size > 10_000 and run.file("pareto.html").is_file()
    assert "pareto.html" in summary and f"python -m evonas pick {run.path} --id 0" in summary


def test_plot_command_other_axes_and_unknown_column(tmp_path, capsys):
    run = make_run(tmp_path)
    assert main(["plot", str(run), "--x", "2080ti_bs1", "--y", "cifar10_test_200ep", "--out",
                 str(tmp_path / "lat")]) == 0
    assert (tmp_path / "lat.png").is_file() and (tmp_path / "lat.html").is_file()
    assert "right panel: cifar10_test_200ep vs 2080ti_bs1, true front of" in capsys.readouterr().out
    assert main(["plot", str(run), "--y", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("evonas: error: --y 'nope': not a numeric column") and "'knas'" in err
    assert "'cifar10_test_200ep'" in err and "'arch'" not in err and "\n" not in err

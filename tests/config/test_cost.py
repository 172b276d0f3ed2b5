"""One rule for "the cost": ``Config.cost_objective``, read alike by the shortlist, the plots and pick."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from evonas.cli import main
from evonas.config.load import config_from_mapping, dump_config
from evonas.errors import ConfigError
from evonas.run.rundir import RunDir
from evonas.search.trained_front import trained_cost
from evonas.space.table import load_table
from evonas.viz.report import default_axes, load_view


def _config(objectives: list[tuple[str, str]], **train) -> object:
    return config_from_mapping({"objectives": [{"score": s, "direction": d} for s, d in objectives],
                                "network": {"C": 4, "N": 1}, "train": train})


def _cost(config) -> str | None:
    return config.cost_objective.score if config.cost_objective is not None else None


def test_band_by_when_set_else_the_last_minimised_objective_else_none():
    three = [("knas", "max"), ("flops", "min"), ("params", "min")]
    assert _cost(_config(three)) == "params"                              # several minimised: the last
    assert _cost(_config(three, band_by="flops")) == "flops"              # band_by, whatever train.candidates
    assert _cost(_config(three, band_by="flops", candidates="bands")) == "flops"
    assert _cost(_config([("flops", "min"), ("knas", "max")])) == "flops"  # the last minimised, not the last
    none = _config([("gradient_kernel", "max"), ("synflow", "max")])
    assert none.cost_objective is None and trained_cost(none) is None
    assert default_axes(none) == ("synflow", "gradient_kernel")
    with pytest.raises(ConfigError, match="needs a minimised objective"):
        none.train_band_by  # noqa: B018
    with pytest.raises(ConfigError, match="train.band_by: 'knas' is maximised"):  # with any train.candidates
        _config(three, band_by="knas")


def test_every_reader_of_the_cost_reads_the_rule():
    config = _config([("knas", "max"), ("flops", "min"), ("params", "min")], band_by="flops")
    assert config.train_band_by.score == trained_cost(config) == default_axes(config)[0] == "flops"
    assert default_axes(config)[1] == "knas"
    assert default_axes(_config([("flops", "min"), ("knas", "max")])) == ("flops", "knas")  # y: not the cost


#: (NB201 index, knas, flops, params) of a hand-made front (ids 0-2). On flops the front after training
#: is ids 1 and 2 (id 1 is more accurate than id 0 and cheaper); on params all three would be on it.
FRONT = [(0, 3.0, 10.0, 1.0), (857, 2.0, 5.0, 3.0), (6111, 1.0, 2.0, 2.0)]
ACCURACY = {0: 50.0, 1: 60.0, 2: 55.0}


def _write(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _run(tmp_path: Path, config) -> Path:
    table, run = load_table(), tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(dump_config(config))
    cands = [{"generation": 0, "arch": table.cell(i).arch, "index": i, "canonical": table.cell(i).canonical,
              "status": "ok", "knas": k, "flops": f, "params": p, "wall_time_s": 0.1, "device": "cpu", "attempts": 1,
              "error": ""} for i, k, f, p in FRONT]
    _write(run / "candidates.csv", cands)
    _write(run / "pareto.csv", [{"id": n, **{c: r[c] for c in ("arch", "index", "canonical", "knas", "flops", "params")},
                                 **table.row(r["index"])} for n, r in enumerate(cands)])
    _write(run / "trained.csv", [{"id": i, "epochs": 5, "test_acc": a, "status": "ok"} for i, a in ACCURACY.items()])
    return run


@pytest.mark.parametrize("objectives,train", [
    ([("knas", "max"), ("flops", "min"), ("params", "min")], {"band_by": "flops"}),
    ([("knas", "max"), ("params", "min"), ("flops", "min")], {}),
], ids=["band_by", "last minimised"])
def test_the_plots_x_axis_the_shortlists_cost_and_pick_agree(tmp_path, capsys, objectives, train):
    """Two minimised objectives: the plot's x axis, the bands' cost, the trained panel's cost and the
    front after training that ``pick --trained`` reads are all ``flops``, the config's cost."""
    config = _config(objectives, **train)
    assert _cost(config) == "flops"
    run = _run(tmp_path, config)
    view = load_view(RunDir.open(run), config)
    assert view.x == "flops" and view.y == "knas" and view.trained_cost == "flops"
    assert [int(r["id"]) for r in view.trained_front()] == [2, 1]            # judged on flops
    assert main(["plot", str(run)]) == 0
    assert "(knas vs flops;" in capsys.readouterr().out
    assert main(["pick", str(run), "--select", "bands", "--bands", "2"]) == 0
    out = capsys.readouterr().out
    assert "2 equal-count bands of flops over the front" in out.splitlines()[0]  # flops 2, 5 | 10
    assert [line.split()[:2] for line in out.splitlines() if line.startswith("     ")] == [["0", "1"], ["1", "0"]]
    assert main(["pick", str(run), "--trained", "--id", "0"]) == 2            # off the front after training on flops
    assert "its ids are 1, 2" in capsys.readouterr().err
    assert main(["pick", str(run), "--trained"]) == 0
    assert "chosen      the most accurate after training" in capsys.readouterr().out

"""The run directory's files: atomic CSV and state writes, trained rows, and what a half-written file leaves."""
from __future__ import annotations

import json

import pytest

from evonas.config.load import config_from_mapping
from evonas.errors import RunDirError
from evonas.run.rundir import RunDir
from evonas.run.csvfiles import read_csv, write_csv
from fixtures_run import TRAINED, make_run


def test_write_csv_writes_floats_exactly_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "rows.csv"
    write_csv(path, [{"a": 0.1 + 0.2, "b": float("inf"), "c": "x"}, {"a": 1, "c": "y"}], ["a", "b"])
    assert read_csv(path) == [{"a": repr(0.1 + 0.2), "b": "inf"}, {"a": "1", "b": ""}]
    assert [p.name for p in tmp_path.iterdir()] == ["rows.csv"]


def test_a_failed_write_csv_keeps_the_old_file(tmp_path):
    path = tmp_path / "rows.csv"
    write_csv(path, [{"a": 1}], ["a"])
    with pytest.raises(AttributeError):
        write_csv(path, [{"a": 2}, None], ["a"])  # the second row is not a mapping
    assert read_csv(path) == [{"a": "1"}]
    assert [p.name for p in tmp_path.iterdir()] == ["rows.csv"]


def test_write_state_merges_into_the_state_on_disk(tmp_path):
    run = RunDir.open(make_run(tmp_path))
    run.write_state(status="running", generation=1)
    run.write_state(generation=2)
    assert run.state() == {"status": "running", "generation": 2}
    assert json.loads(run.file("state.json").read_text()) == run.state()
    assert not run.file("state.json.tmp").exists()


def test_trained_rows_are_empty_before_training(tmp_path):
    assert RunDir.open(make_run(tmp_path)).trained() == []
    (tmp_path / "t").mkdir()
    trained = RunDir.open(make_run(tmp_path / "t", trained=TRAINED)).trained()
    assert [(r["id"], r["status"], r["test_acc"]) for r in trained] == [("2", "ok", "60.0"), ("1", "failed", "")]


def test_resume_refuses_an_incompatible_config_edit(tmp_path):
    config = config_from_mapping({"search": {"pop_size": 8, "n_gen": 2}})
    run = RunDir.create(tmp_path / "run", config)
    run.check_resumable(config_from_mapping({"search": {"pop_size": 8, "n_gen": 9}, "ray": {"num_actors": 1}}))
    with pytest.raises(RunDirError, match=r"changed since the run started \(scores.knas, seed\)"):
        run.check_resumable(config_from_mapping({"search": {"pop_size": 8, "n_gen": 2}, "seed": 3,
                                                 "scores": {"knas": {"n_batches": 4}}}))
    with pytest.raises(RunDirError, match="exists and is not empty"):
        RunDir.create(tmp_path / "run", config)

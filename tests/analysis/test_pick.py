"""pick's limits on a hand-made run, KNAS-style selection, and NATS-Bench columns."""
from __future__ import annotations

from pathlib import Path

import pytest

from evonas.cli import main
from evonas.errors import EvonasError
from evonas.analysis.pick import Constraint, pick, pick_columns
from evonas.analysis.benchmark import select_by_benchmark
from fixtures_run import TRAINED, make_run


def _pick(run: Path, *args: str, capsys) -> tuple[int, str, str]:
    rc = main(["pick", str(run), *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _chosen_id(out: str) -> str:
    return next(line.split()[1] for line in out.splitlines() if line.startswith("id "))


@pytest.mark.parametrize("args,expected", [
    (("--id", "1"), "1"),
    (("--max-flops", "6"), "1"),                         # ids 1, 2 qualify; 1 has the higher knas
    (("--min-accuracy", "90"), "1"),                     # table: 93.99 and 94.37 qualify
    (("--min-accuracy", "94"), "2"),
    (("--max-latency-ms", "7"), "0"),                    # table 2080ti_bs1: only 6.03 ms
    (("--max-latency-ms", "11.2", "--min-accuracy", "90"), "1"),
])
def test_pick_limits_on_a_hand_made_front(tmp_path, capsys, args, expected):
    run = make_run(tmp_path)
    rc, out, err = _pick(run, *args, capsys=capsys)
    assert rc == 0, err
    assert _chosen_id(out) == expected
    assert f"python -m evonas export {run} --id {expected} --out model.pt" in out


def test_pick_max_params_needs_the_column(tmp_path, capsys):
    rc, _, err = _pick(make_run(tmp_path), "--max-params", "1", capsys=capsys)
    assert rc == 2 and "cannot constrain 'params'" in err


def test_min_accuracy_reads_trained_csv_when_present_and_says_so(tmp_path, capsys):
    run = make_run(tmp_path, trained=TRAINED)
    rc, out, _ = _pick(run, "--min-accuracy", "50", capsys=capsys)
    assert rc == 0 and _chosen_id(out) == "2"             # only id 2 is trained (60 %)
    assert "trained.csv" in out and "test acc 60.00% after 5 epoch(s)" in out
    rc, out, _ = _pick(run, "--min-accuracy", "50", "--accuracy", "table", capsys=capsys)
    assert rc == 0 and _chosen_id(out) == "0" and "shipped table" in out
    rc, _, err = _pick(run, "--min-accuracy", "61", capsys=capsys)
    assert rc == 2 and "no front member satisfies accuracy >= 61" in err


def test_accuracy_trained_without_trained_csv_is_an_error(tmp_path, capsys):
    rc, _, err = _pick(make_run(tmp_path), "--min-accuracy", "1", "--accuracy", "trained", capsys=capsys)
    assert rc == 2 and "no trained.csv" in err


def test_latency_limit_prefers_the_runs_latency_objective():
    rows = [{"id": 0, "index": 0, "knas": 3.0, "latency": 9.0}, {"id": 1, "index": 857, "knas": 2.0, "latency": 4.0}]
    rows2, notes = pick_columns(rows, "cifar10")
    assert [r["latency_ms"] for r in rows2] == [9.0, 4.0] and "'latency' objective" in notes["latency_ms"]
    from evonas.config.schema import ObjectiveConfig

    objs = (ObjectiveConfig("knas", "max"), ObjectiveConfig("latency", "min"))
    assert pick(rows2, objs, constraints=[Constraint("latency_ms", 5.0)])["id"] == 1


def test_select_benchmark_valid_over_all_candidates(tmp_path, capsys):
    run = make_run(tmp_path)
    rc, out, err = _pick(run, "--select", "benchmark_valid", "--top-k", "2", capsys=capsys)
    assert rc == 0, err  # top 2 by knas: index 0 (63.36) and index 100 (72.91): index 100, not on the front
    assert "index       100" in out and "not on the front" in out and "--arch '" in out
    rc, out, _ = _pick(run, "--select", "benchmark_valid", "--top-k", "3", capsys=capsys)
    assert _chosen_id(out) == "1"                        # index 857 (83.62) joins, and it is front id 1
    rc, out, _ = _pick(run, "--select", "benchmark_valid", "--top-k", "5", "--max-flops", "9.5", capsys=capsys)
    assert "index       6111" in out                      # flops <= 9.5 leaves 857, 6111, 200: best valid 84.38


def test_select_by_benchmark_is_the_top_k_then_the_best_valid():
    rows = [{"arch": "a", "knas": 5, "v": 10}, {"arch": "b", "knas": 4, "v": 30}, {"arch": "c", "knas": 3, "v": 90},
            {"arch": "d", "knas": 9, "v": 20, "status": "failed"}]
    rows = [{**r, "cifar10_valid_12ep": r["v"]} for r in rows]
    assert select_by_benchmark(rows, score="knas", top_k=2)["arch"] == "b"
    assert select_by_benchmark(rows, score="knas", top_k=3)["arch"] == "c"
    assert select_by_benchmark(rows, score="knas", direction="min", top_k=1)["arch"] == "c"
    with pytest.raises(EvonasError, match="--top-k 0"):
        select_by_benchmark(rows, score="knas", top_k=0)


def test_pick_tells_of_dead_edges_the_chosen_cell_keeps(tmp_path, capsys):
    from evonas.run.csvfiles import read_csv, write_csv
    from evonas.space.cell import Cell

    run = make_run(tmp_path)
    rows = read_csv(run / "pareto.csv")
    kept = Cell.from_string("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|")
    rows[1].update(arch=kept.arch, index=kept.index, dead_edges=kept.dead_edges_text)
    write_csv(run / "pareto.csv", rows, [*rows[0], "dead_edges"])
    rc, out, err = _pick(run, "--id", "1", capsys=capsys)
    assert rc == 0, err
    assert "dead edges  3<-2 nor_conv_3x3" in out
    rc, out, err = _pick(run, "--id", "0", capsys=capsys)
    assert "dead edges" not in out


#: a short training that reorders the front: id 0 (best knas) trains worse than the cheaper id 1
REORDERED = [{"id": 0, "epochs": 5, "test_acc": 50.0, "status": "ok"},
             {"id": 1, "epochs": 5, "test_acc": 70.0, "status": "ok"},
             {"id": 2, "epochs": 5, "test_acc": 40.0, "status": "ok"}]


@pytest.mark.parametrize("marked", [True, False], ids=["trained_front column", "older trained.csv"])
@pytest.mark.parametrize("args,expected", [
    ((), "1"),                                  # the most accurate after training
    (("--max-flops", "3"), "2"),
    (("--id", "2"), "2"),
    (("--min-accuracy", "60"), "1"),            # trained accuracy, not the table's
])
def test_pick_trained_chooses_from_the_front_after_training(tmp_path, capsys, marked, args, expected):
    trained = [{**r, "trained_front": int(r["id"] != 0)} for r in REORDERED] if marked else REORDERED
    run = make_run(tmp_path, trained=trained)
    if marked:  # the stage's columns: the cost and the mark
        import csv

        with open(run / "trained.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["id", "epochs", "test_acc", "status", "trained_front"])
            w.writeheader()
            w.writerows(trained)
    rc, out, err = _pick(run, "--trained", *args, capsys=capsys)
    assert rc == 0, err
    assert _chosen_id(out) == expected
    assert "after training" in out


def test_pick_trained_says_when_its_choice_is_within_noise_of_a_cheaper_member(tmp_path, capsys):
    """trained.csv as the stage writes it: 256 test images. The most accurate (id 0, 31.25 %, flops 10) is within
    noise of id 1 (26.95 %, flops 5), not of id 2 (20.31 %, flops 2, whose interval lies below id 0's)."""
    from evonas.run.csvfiles import write_csv
    from evonas.run.rundir import RunDir
    from evonas.search.trained_front import mark_trained_front, marked_columns
    from fixtures_run import TRAINED_COLUMNS

    rows = [{"id": i, "epochs": 5, "test_acc": 100.0 * k / 256, "test_n": 256, "status": "ok"}
            for i, k in enumerate([80, 69, 52])]
    run = make_run(tmp_path, trained=rows)
    write_csv(run / "trained.csv", mark_trained_front(rows, RunDir.open(run).members(), "flops"),
              [*TRAINED_COLUMNS, *marked_columns("flops")])
    rc, out, err = _pick(run, "--trained", capsys=capsys)
    assert rc == 0, err
    assert _chosen_id(out) == "0"
    assert "test acc 31.25% (95 % interval 25.9-37.2% on 256 test images) after 5 epoch(s)" in out
    noise = [line for line in out.splitlines() if line.startswith("noise")]
    assert noise == ["noise       id 1 is cheaper (flops 5 vs 10) and within noise of this one: their 95 % intervals "
                     "on 256 test images overlap (26.95% in 21.9-32.7% vs 31.25% in 25.9-37.2%); the training cannot "
                     "tell them apart"]
    rc, out, err = _pick(run, "--trained", "--id", "2", capsys=capsys)       # the cheapest: nothing to name
    assert rc == 0 and not [line for line in out.splitlines() if line.startswith("noise")]


def test_pick_trained_refuses_a_member_off_the_trained_front_and_an_untrained_run(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    rc, _, err = _pick(make_run(tmp_path / "a", trained=REORDERED), "--trained", "--id", "0", capsys=capsys)
    assert rc == 2 and "--id 0 is not on the front after training; its ids are 1, 2" in err
    rc, _, err = _pick(make_run(tmp_path / "b"), "--trained", capsys=capsys)
    assert rc == 2 and "no front after training" in err


@pytest.mark.parametrize("args,expected", [((), "0"), (("--max-flops", "6"), "1")])
def test_pick_select_bands_lists_the_shortlist_and_takes_the_costliest_band_within_limits(tmp_path, capsys, args,
                                                                                          expected):
    # flops 2, 5, 10 in two bands: {2, 5} (best knas: id 1, flops 5) and {10} (id 0)
    rc, out, err = _pick(make_run(tmp_path), "--select", "bands", "--bands", "2", *args, capsys=capsys)
    assert rc == 0, err
    listed = [line.split()[:2] for line in out.splitlines() if line.startswith("     ")]
    assert listed == [["0", "1"], ["1", "0"]]
    assert _chosen_id(out) == expected


def _config_yaml(run: Path, **mapping) -> None:
    from evonas.config.load import config_from_mapping, dump_config

    (run / "config.yaml").write_text(dump_config(config_from_mapping({"name": "hand", "network": {"C": 4, "N": 1},
                                                                      **mapping})))


def test_min_accuracy_on_an_untrained_run_on_your_data_says_nothing_is_trained(tmp_path, capsys):
    run = make_run(tmp_path)
    _config_yaml(run, dataset="custom", data={"root": str(tmp_path / "mine.npz")})
    rc, _, err = _pick(run, "--min-accuracy", "90", capsys=capsys)
    assert rc == 2 and err.strip().splitlines()[-1] == (
        f"evonas: error: --min-accuracy 90: nothing in {run} is trained yet (no finished training in trained.csv), "
        f"and your data set is not in the benchmark table, so no member has an accuracy to limit; train first: "
        f"python -m evonas train {run}")


def test_select_bands_lists_the_shortlist_the_run_trained_and_how_it_was_cut(tmp_path, capsys):
    import csv

    from evonas.space.table import load_table

    run = make_run(tmp_path)
    _config_yaml(run, train={"candidates": "bands", "bands": 2, "bands_over": "scored"})
    # the run trained ids 2 (band 0) and 3 (band 1, index 100 off the front); over the front alone, 2 bands of
    # flops 2, 5, 10 would give ids 1 and 0
    front = {r["id"]: r for r in csv.DictReader(open(run / "pareto.csv"))}
    off = {"id": 3, "arch": load_table().cell(100).arch, "index": 100, "knas": 2.5, "flops": 12.0}
    rows = [{"id": 2, "band": 0, "on_front": True, **{k: front["2"][k] for k in ("arch", "index", "knas", "flops")}},
            {"band": 1, "on_front": False, **off}]
    with open(run / "shortlist.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["id", "band", "on_front", "arch", "index", "knas", "flops"])
        w.writeheader()
        w.writerows(rows)
    rc, out, err = _pick(run, "--select", "bands", capsys=capsys)
    assert rc == 0, err
    assert out.splitlines()[0] == ("the run's training shortlist (shortlist.csv, 2 cell(s)), cut by train.candidates "
                                   "bands: the best by knas in each of train.bands 2 equal-count bands of flops over "
                                   "every scored cell (train.bands_over scored):")
    listed = [line.split()[:2] for line in out.split("\n\n")[0].splitlines() if line.startswith("     ")]
    assert listed == [["0", "2"], ["1", "3"]]
    assert _chosen_id(out) == "3" and "not on the search's front" in out
    # another count is cut here, and says it is not the run's shortlist
    rc, out, err = _pick(run, "--select", "bands", "--bands", "3", capsys=capsys)
    assert rc == 0, err
    assert out.splitlines()[0].startswith("bands cut here with --bands 3, not the run's training shortlist "
                                          "(shortlist.csv: 2 cell(s) in bands), cut by train.candidates bands: the "
                                          "best by knas in each of train.bands 3")

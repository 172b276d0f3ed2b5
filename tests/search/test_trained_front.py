"""The front after training that knows its noise: Wilson intervals, dominance beyond noise, what it says."""
from __future__ import annotations

import numpy as np
import pytest

from evonas.config.load import config_from_mapping
from evonas.search.trained_front import (accuracy_interval, cheaper_within_noise, interval_of, mark_trained_front,
                                         marked_columns, noise_front, noise_note, short_training_note,
                                         trained_front_rows, wilson_interval, within_noise)

#: the main job's ending: 8 candidates, cheapest first, tested on the packaged sample's 256 images; the cheapest
#: is the most accurate (80 right), three tie at 69 right (26.95 %), the rest ~2 binomial sds apart
RIGHT = [80, 69, 69, 69, 66, 62, 58, 52]


def _main_job(test_n: int | str = 256) -> tuple[list[dict], list[dict]]:
    members = [{"id": str(i), "flops": str(10.0 + i)} for i in range(len(RIGHT))]
    rows = [{"id": i, "status": "ok", "epochs": 5, "test_acc": 100.0 * k / 256, "test_n": test_n}
            for i, k in enumerate(RIGHT)]
    return rows, members


def test_wilson_intervals_on_the_test_sets_size():
    low, high = wilson_interval(100.0 * 69 / 256, 256)
    assert low == pytest.approx(21.888, abs=1e-3) and high == pytest.approx(32.700, abs=1e-3)
    assert wilson_interval(0.0, 10) == pytest.approx((0.0, 27.753), abs=1e-3)        # stays inside [0, 100]
    assert wilson_interval(100.0, 10) == pytest.approx((72.247, 100.0), abs=1e-3)
    wide, narrow = wilson_interval(50.0, 256), wilson_interval(50.0, 10_000)
    assert wide[1] - wide[0] > 5 * (narrow[1] - narrow[0])


def test_several_seeds_widen_the_interval_by_their_spread():
    """The hook for a stage that trains several seeds of a cell: one seed is the test set's interval alone."""
    assert accuracy_interval([30.0], 256) == wilson_interval(30.0, 256)
    low, high = accuracy_interval([26.0, 30.0, 34.0], 256)
    alone = wilson_interval(30.0, 256)
    assert low < alone[0] and high > alone[1] and low < 30.0 < high
    assert accuracy_interval([30.0, 30.0], 256) == pytest.approx(alone)             # no spread: the test set's
    assert accuracy_interval([30.0], None) == (30.0, 30.0)                          # size unknown: a point


def test_dominated_only_by_a_cheaper_member_better_beyond_noise():
    rows, members = _main_job()
    plain = noise_front(*[np.array([r["test_acc"] for r in rows])] * 3, np.arange(8.0))
    assert plain.tolist() == [0]                  # every difference counts: a one-member front
    marked = mark_trained_front(rows, members, "flops")
    # id 0's interval (25.9-37.2 %) lies above id 7's alone (15.8-25.7 %): the others stay on the front together
    assert [r["trained_front"] for r in marked] == [1, 1, 1, 1, 1, 1, 1, 0]
    assert marked[0]["within_noise_of"] == "1 2 3 4 5 6" and marked[7]["within_noise_of"] == "1 2 3 4 5 6"
    assert marked[1]["within_noise_of"] == "0 2 3 4 5 6 7"
    assert (marked[1]["test_acc_low"], marked[1]["test_acc_high"]) == pytest.approx((21.888, 32.700), abs=1e-3)
    assert marked_columns("flops") == ["test_acc_low", "test_acc_high", "flops", "trained_front", "within_noise_of"]


def test_a_costlier_member_better_beyond_noise_stays_and_failures_never_count():
    acc, n = np.array([20.0, 60.0, 90.0]), 256
    low, high = map(np.array, zip(*(wilson_interval(a, n) for a in acc)))
    assert noise_front(acc, low, high, np.array([1.0, 2.0, np.nan])).tolist() == [0, 1]
    assert within_noise(low, high) == [[], [], []]
    assert within_noise(np.array([1.0, np.nan]), np.array([3.0, np.nan])) == [[], []]


def test_an_older_trained_csv_without_test_n_has_points_and_the_plain_front():
    rows, members = _main_job(test_n="")
    marked = mark_trained_front(rows, members, "flops")
    assert [r["trained_front"] for r in marked] == [1, 0, 0, 0, 0, 0, 0, 0]
    assert marked[0]["test_acc_low"] == "" and marked[1]["within_noise_of"] == "2 3"   # the exact tie
    assert interval_of(marked[0]) is None and noise_note(marked) == ""


def test_the_rows_pick_reads_carry_the_interval_and_name_a_cheaper_member_within_noise():
    config = config_from_mapping({"objectives": [{"score": "knas"}, {"score": "flops", "direction": "min"}]})
    rows, members = _main_job()
    trained = mark_trained_front(rows, members, "flops")
    front = trained_front_rows(config, members, [{k: str(v) for k, v in r.items()} for r in trained])
    assert [r["id"] for r in front][:2] == ["0", "1"] and len(front) == 7
    best = {r["id"]: r for r in front}
    assert best["5"]["trained_test_n"] == 256 and best["5"]["trained_test_acc_low"] == pytest.approx(19.38, abs=0.01)
    assert cheaper_within_noise(best["5"], front, "flops")["id"] == "0"              # cheapest within its interval
    assert cheaper_within_noise({**best["5"], "trained_test_acc_high": 25.0}, front, "flops")["id"] == "1"
    assert cheaper_within_noise(best["0"], front, "flops") is None                  # nothing is cheaper
    assert cheaper_within_noise(best["5"], front, None) is None


def test_the_stage_says_when_it_cannot_rank_its_candidates():
    rows, members = _main_job()
    near = mark_trained_front(rows[:7], members, "flops")      # ids 0-6: every one within the others' intervals
    assert noise_note(near) == (
        "the 7 candidates' test accuracies lie within each other's 95 % intervals on 256 test images: this short "
        "training cannot rank them; train longer on the full data (train.data_root or data.root, "
        "train.recipe.epochs: 200) for a real front")
    assert noise_note(mark_trained_front(rows, members, "flops")) == (
        "7 of the 7 members of the front after training (ids 0, 1, 2, 3, 4, 5, 6) are within noise of another member "
        "(their 95 % intervals on 256 test images overlap): kept on the front together, unranked (trained.csv: "
        "within_noise_of)")
    apart = [{"id": i, "status": "ok", "epochs": 200, "test_acc": a, "test_n": 10_000} for i, a in enumerate([60, 90])]
    assert noise_note(mark_trained_front(apart, [{"id": "0", "flops": 1}, {"id": "1", "flops": 2}], "flops")) == ""


def test_a_short_training_on_the_cpu_says_it_is_a_check_and_gives_the_real_command():
    config = config_from_mapping({"objectives": [{"score": "knas"}, {"score": "flops", "direction": "min"}],
                                  "train": {"recipe": {"epochs": 5}}})
    note = short_training_note(config, 8, "runs/x", on_cpu=True, packaged=True, test_n=256)
    assert note == (
        "this training is a check that the stage runs, not a measurement: 8 candidate(s) for 5 epoch(s) on the CPU, "
        "tested on the packaged sample; on 256 test images a test accuracy's 95 % interval is up to ±6.1 points "
        "(trained.csv: test_acc_low, test_acc_high, within_noise_of), so its front after training is a sketch. For "
        "a real front train on the full data for 200 epochs on a GPU: python -m evonas train runs/x "
        "--set train.data_root=DIR --set train.recipe.epochs=200")
    assert short_training_note(config, 8, "runs/x", on_cpu=False, packaged=False) == ""   # a GPU, the full data
    real = config_from_mapping({"objectives": [{"score": "knas"}, {"score": "flops", "direction": "min"}]})
    assert short_training_note(real, 8, "runs/x", on_cpu=True, packaged=True, test_n=256) == ""  # 200 epochs

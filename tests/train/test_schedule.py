"""The training stage rung by rung (``train.schedule``): who trains at each rung, trained.csv's rows, resuming at
a rung, a kept candidate going on from its checkpoint, and the last rung as the answer."""
from __future__ import annotations

import logging

from evonas.analysis.picking import PickRequest, pick_from_run
from evonas.config.load import config_from_mapping
from evonas.run.rundir import RunDir
from evonas.strict import to_mapping
from evonas.train.stage import train_front
from fixtures_run import make_run


def _config(run: RunDir, **train):
    data = to_mapping(run.config())
    data["device"], data["ray"]["backend"] = "cpu", "serial"
    data["train"].update({"n_train": 64, "recipe": {"epochs": 3, "batch_size": 64}, **train})
    return config_from_mapping(data)


def test_a_schedule_trains_the_kept_at_the_next_rung_and_answers_with_the_last(tmp_path, caplog):
    run = RunDir.open(make_run(tmp_path))
    first = _config(run, schedule=[{"epochs": 1}])
    train_front(first, run, ids=[0, 1, 2])  # the first rung alone, as if stopped there
    rung1 = {int(r["id"]): r for r in run.trained()}
    assert sorted(rung1) == [0, 1, 2] and {(r["rung"], r["epochs"]) for r in rung1.values()} == {("1", "1")}
    best = min(rung1, key=lambda i: (-float(rung1[i]["test_acc"]), i))

    config = _config(run, schedule=[{"epochs": 1}, {"epochs": 2, "keep": "top", "top": 1}])
    with caplog.at_level(logging.INFO, logger="evonas"):
        out = train_front(config, run, ids=[0, 1, 2])
    lines = [r.getMessage() for r in caplog.records]
    # resumed at the rung boundary: the first rung is not trained again, its best goes on, afresh (scratch)
    assert "rung 1 of 2: training 0 candidate(s) on cifar10 for 1 epoch(s) (3 already trained)" in lines
    assert f"rung 2 of 2: 1 of 3 candidate(s) go on (the 1 most accurate): ids {best}" in lines
    assert "rung 2 of 2: training 1 candidate(s) on cifar10 for 2 epoch(s) (0 already trained)" in lines
    rows = run.trained()
    assert [(int(r["id"]), r["rung"], r["epochs"]) for r in rows] == [(0, "1", "1"), (1, "1", "1"), (2, "1", "1"),
                                                                     (best, "2", "2")]
    assert [r["test_acc"] for r in rows[:3]] == [rung1[i]["test_acc"] for i in range(3)]  # kept, not retrained
    assert (run.path / "checkpoints" / f"{best}.rung2.pt").is_file()
    # the answer is the last rung: one member, on the front after training, and pick --trained names it
    assert [(r["id"], r["trained_front"]) for r in out] == [(best, 1)]
    said = []
    pick_from_run(run, PickRequest(trained=True), echo=said.append)
    assert f"id {best}" in "\n".join(said) and "2 epoch" in "\n".join(said)


def test_from_a_checkpoint_the_last_rung_is_the_full_recipe(tmp_path):
    """schedule_from checkpoint: the first rung is the first epoch of the 2-epoch recipe, and the kept candidate goes
    on from its checkpoint to the very training a 2-epoch recipe gives in one go (the CPU is deterministic)."""
    run = RunDir.open(make_run(tmp_path))
    config = _config(run, schedule=[{"epochs": 1}, {"epochs": 2, "keep": "all"}], schedule_from="checkpoint")
    out = train_front(config, run, ids=[1])
    assert [(r["rung"], r["epochs"]) for r in run.trained()] == [("1", "1"), ("2", "2")]
    assert not (run.path / "checkpoints" / "1.rung2.pt").exists()

    (tmp_path / "b").mkdir()
    (tmp_path / "c").mkdir()
    other = RunDir.open(make_run(tmp_path / "b"))
    whole = train_front(_config(other, recipe={"epochs": 2, "batch_size": 64}), other, ids=[1])
    assert out[0]["test_acc"] == whole[0]["test_acc"] and out[0]["train_acc"] == whole[0]["train_acc"]
    # and the first rung, stopped mid-recipe, is not the 1-epoch recipe's training (its cosine has not ended)
    one = RunDir.open(make_run(tmp_path / "c"))
    assert train_front(_config(one, recipe={"epochs": 1, "batch_size": 64}), one, ids=[1])[0]["train_acc"] != \
        next(r for r in run.trained() if r["rung"] == "1")["train_acc"]


def test_several_seeds_give_a_mean_and_an_interval_widened_by_their_spread(tmp_path):
    from evonas.search.trained_front import wilson_interval

    run = RunDir.open(make_run(tmp_path))
    out = train_front(_config(run, seeds=2, n_train=None, recipe={"epochs": 1, "batch_size": 64}), run, ids=[0, 2])
    assert (run.path / "checkpoints" / "0.seed1.pt").is_file() and (run.path / "models" / "0.pt").is_file()
    for r in out:
        accs = [float(a) for a in r["seed_test_accs"].split()]
        assert r["seeds"] == 2 and len(accs) == 2 and r["test_acc"] == sum(accs) / 2
        low, high = wilson_interval(r["test_acc"], 256)
        assert r["test_acc_low"] <= low and r["test_acc_high"] >= high
        assert (r["test_acc_low"] < low) == (accs[0] != accs[1])  # the spread widens it
    # the second seed is the recipe at seed + 1 (on every training image: a subset, n_train, is the first seed's)
    (tmp_path / "b").mkdir()
    other = RunDir.open(make_run(tmp_path / "b"))
    alone = train_front(_config(other, n_train=None, recipe={"epochs": 1, "batch_size": 64, "seed": 1}), other,
                        ids=[0])
    assert float(out[0]["seed_test_accs"].split()[1]) == alone[0]["test_acc"]

"""The training stage on a finished smoke search: Ray tasks, models/<id>.pt, trained.csv, load_model."""
from __future__ import annotations

import csv
import subprocess
import sys

import pytest
import torch

import evonas
from conftest import REPO
from evonas.config.load import config_from_mapping
from evonas.errors import EvonasError
from evonas.run.rundir import RunDir
from evonas.strict import to_mapping
from evonas.train.stage import TRAINED_COLUMNS, select_candidates, train_front


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    out = tmp_path_factory.mktemp("train") / "run"
    proc = subprocess.run([sys.executable, "-m", "evonas", "--config", str(REPO / "configs" / "smoke.yaml"),
                           "--set", "ray.backend=serial", "--set", "search.n_gen=2", "--out", str(out), "--quiet"],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return RunDir.open(out)


def _config(run: RunDir, backend: str = "ray", **train):
    """The run's config with ``train`` settings; the search ran serially, the trainings go to Ray."""
    data = to_mapping(run.config())
    data["train"].update(train)
    data["ray"]["backend"] = backend
    return config_from_mapping(data)


def test_candidate_selection(searched):
    front = searched.pareto()
    config = _config(searched, candidates="top_k", top_k=1)
    chosen = select_candidates(front, config)
    best_knas = max(front, key=lambda r: float(r["knas"]))
    cheapest = min(front, key=lambda r: float(r["flops"]))
    assert {r["id"] for r in chosen} == {best_knas["id"], cheapest["id"]}
    assert len(select_candidates(front, _config(searched, candidates="front"))) == len(front)
    assert [r["id"] for r in select_candidates(front, config, ids=[0])] == ["0"]
    with pytest.raises(EvonasError, match="not on the front"):
        select_candidates(front, config, ids=[99])
    bands = select_candidates(front, _config(searched, candidates="bands", bands=2))
    flops = sorted(float(r["flops"]) for r in front)
    assert len(bands) == min(2, len(front)) and [r["band"] for r in bands] == list(range(len(bands)))
    cheap = [r for r in front if float(r["flops"]) <= flops[(len(front) - 1) // 2]]
    assert bands[0]["id"] == max(cheap, key=lambda r: float(r["knas"]))["id"]


def test_the_trained_front_is_judged_on_trained_accuracy_and_cost():
    from evonas.train.stage import mark_trained_front

    members = [{"id": "0", "flops": "9.0"}, {"id": "1", "flops": "5.0"}, {"id": "2", "flops": "1.0"},
               {"id": "3", "flops": "2.0"}]
    rows = [{"id": 0, "status": "ok", "test_acc": 40.0}, {"id": 1, "status": "ok", "test_acc": 55.0},
            {"id": 2, "status": "ok", "test_acc": 30.0}, {"id": 3, "status": "failed", "test_acc": ""}]
    marked = mark_trained_front(rows, members, "flops")
    # id 0 ranked first by the search is beaten by id 1 after training; a failed one is never on it
    assert [(r["id"], r["flops"], r["trained_front"]) for r in marked] == [
        (0, "9.0", 0), (1, "5.0", 1), (2, "1.0", 1), (3, "2.0", 0)]
    assert [r["trained_front"] for r in mark_trained_front(rows, members, None)] == [0, 1, 0, 0]


def test_a_short_training_on_the_cpu_says_it_is_a_check_and_what_its_noise_cannot_rank(tmp_path, caplog):
    """The main job's kind of training (a few epochs on the packaged sample, on the CPU): the stage says it is a check
    that it runs, with its noise and the command for the real thing, and at the end what it cannot rank."""
    import logging

    from evonas.search.trained_front import noise_note, wilson_interval
    from fixtures_run import make_run

    run = RunDir.open(make_run(tmp_path))
    data = to_mapping(run.config())
    data["device"], data["ray"]["backend"] = "cpu", "serial"
    data["train"].update(n_train=128, recipe={"epochs": 1, "batch_size": 64})
    with caplog.at_level(logging.INFO, logger="evonas"):
        rows = train_front(config_from_mapping(data), run, ids=[0, 1, 2])
    lines = [r.getMessage() for r in caplog.records]
    assert (f"this training is a check that the stage runs, not a measurement: 3 candidate(s) for 1 epoch(s) on the "
            f"CPU, tested on the packaged sample; on 256 test images a test accuracy's 95 % interval is up to ±6.1 "
            f"points (trained.csv: test_acc_low, test_acc_high, within_noise_of), so its front after training is a "
            f"sketch. For a real front train on the full data for 200 epochs on a GPU: python -m evonas train "
            f"{run.path} --set train.data_root=DIR --set train.recipe.epochs=200") in lines
    assert all(r["test_n"] == 256 and (r["test_acc_low"], r["test_acc_high"]) == wilson_interval(r["test_acc"], 256)
               for r in rows)
    # one epoch on 128 images: near chance, every accuracy within the others' intervals
    assert [set(r["within_noise_of"].split()) for r in rows] == [{"1", "2"}, {"0", "2"}, {"0", "1"}]
    assert all(r["trained_front"] for r in rows)
    note = noise_note(rows)
    assert note.startswith("the 3 candidates' test accuracies lie within each other's 95 % intervals on 256 test "
                           "images: this short training cannot rank them")
    assert lines[-1] == note and "front after training (3 of 3 trained" in lines[-2]


def test_train_one_member_writes_model_and_metrics(searched, ray_local):
    config = _config(searched, recipe={"epochs": 1, "batch_size": 128})
    rows = train_front(config, searched, ids=[0])
    assert [r["status"] for r in rows] == ["ok"]
    with open(searched.file("trained.csv"), newline="") as f:
        trained = list(csv.DictReader(f))
    assert trained[0]["id"] == "0" and trained[0]["epochs"] == "1"
    # no validation column (the stage trains without a validation set); the test accuracy's 95 % interval on the
    # packaged sample's 256 test images, the cost, the front after training and who is within noise of whom
    assert list(trained[0]) == [*TRAINED_COLUMNS, "test_acc_low", "test_acc_high", "flops", "trained_front",
                                "within_noise_of"]
    assert trained[0]["trained_front"] == "1" and trained[0]["flops"] == searched.pareto()[0]["flops"]
    assert trained[0]["test_n"] == "256" and trained[0]["within_noise_of"] == ""
    assert float(trained[0]["test_acc_low"]) < float(trained[0]["test_acc"]) < float(trained[0]["test_acc_high"])
    assert [r["id"] for r in searched.shortlist()] == ["0"]
    assert 0.0 <= float(trained[0]["test_acc"]) <= 100.0
    model = evonas.load_model(searched.path, 0)
    assert not model.training
    arch = searched.pareto()[0]["arch"]
    assert model.cell.arch == arch
    x = torch.zeros(2, 3, 32, 32)
    assert model(x).shape == (2, 10)
    # a second call has nothing left to do and leaves the weights alone
    before = {k: v.clone() for k, v in model.state_dict().items()}
    train_front(config, searched, ids=[0])
    after = evonas.load_model(searched.path, 0).state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    with pytest.raises(EvonasError, match="no trained model for id 1"):
        evonas.load_model(searched.path, 1)


def test_training_attaches_to_ray_like_the_pool_does(searched):
    """The pool's start-up (reachability check first): a dead address fails in seconds, naming it."""
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = to_mapping(searched.config())
    data["ray"].update(backend="ray", address=f"127.0.0.1:{port}", connect_timeout_s=1)
    data["train"]["recipe"] = {"epochs": 2}  # id 0 trained for 1: something to train, so Ray is attached to
    t0 = time.monotonic()
    with pytest.raises(EvonasError, match=f"nothing answers at 127.0.0.1:{port}"):
        train_front(config_from_mapping(data), searched, ids=[0])
    assert time.monotonic() - t0 < 30


def test_a_failed_training_is_retried(searched, ray_local):
    """trained.csv as a failed task leaves it (no epochs, no accuracies): the next call trains it again."""
    from evonas.run.csvfiles import write_csv

    arch = searched.pareto()[0]["arch"]
    (searched.path / "checkpoints" / "0.pt").unlink(missing_ok=True)  # an earlier test's finished training
    write_csv(searched.file("trained.csv"), [{"id": 0, "arch": arch, "status": "failed",
                                              "error": "RayTaskError: out of memory"}], TRAINED_COLUMNS)
    config = _config(searched, recipe={"epochs": 1, "batch_size": 128}, n_train=256)
    rows = train_front(config, searched, ids=[0])
    assert [(r["status"], int(r["epochs"])) for r in rows] == [("ok", 1)]
    with open(searched.file("trained.csv"), newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row["status"] == "ok" and row["error"] == "" and 0.0 <= float(row["test_acc"]) <= 100.0


def test_trainings_share_a_gpu_by_setting_or_by_measured_memory():
    from evonas.train.stage import train_task_gpus

    gib = 1 << 30

    def never():
        raise AssertionError("nothing to measure")

    assert train_task_gpus("auto", gpus=0, measure=never) == (0.0, 0)  # no GPU: a CPU slot each
    assert train_task_gpus(3, gpus=0, measure=never) == (0.0, 0)
    assert train_task_gpus(3, gpus=1, measure=never) == (pytest.approx(1 / 3), 3)
    calls = []

    def measured():
        calls.append(1)
        return 10 * gib, 80 * gib  # 64 GiB usable: 6 of 10 GiB

    assert train_task_gpus("auto", gpus=2, measure=measured) == (pytest.approx(1 / 6), 6) and len(calls) == 1
    assert train_task_gpus("auto", gpus=1, measure=lambda: (1 * gib, 80 * gib)) == (0.125, 8)  # capped at 8
    assert train_task_gpus("auto", gpus=1, measure=lambda: None) == (1.0, 1)  # not measurable: a GPU each


def test_jobs_per_gpu_is_validated():
    from evonas.config.load import config_from_mapping
    from evonas.errors import ConfigError

    assert config_from_mapping({}).train.jobs_per_gpu == "auto"
    assert config_from_mapping({"train": {"jobs_per_gpu": 4}}).train.jobs_per_gpu == 4
    with pytest.raises(ConfigError, match="train.jobs_per_gpu"):
        config_from_mapping({"train": {"jobs_per_gpu": 0}})

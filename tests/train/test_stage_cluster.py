"""Where the training stage's files go when Ray trains: the driver's run directory, whatever the workers'
working directory or node; a retried training resumes from the driver's checkpoint; a cluster attached
to is left running; ``ray.backend: serial`` trains in this process."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch

import evonas
from conftest import TESTS
from evonas.config.load import config_from_mapping
from evonas.config.schema import Config
from evonas.nn.images import load_images
from evonas.run.rundir import RunDir
from evonas.space.cell import Cell
from evonas.strict import to_mapping
from evonas.train.loop import train_cell
from evonas.train.stage import train_front
from fixtures_run import make_run

N_TRAIN = 128


class _Stop(Exception):
    pass


def _config(run: RunDir, backend: str, epochs: int) -> Config:
    data = to_mapping(run.config())
    data["device"] = "cpu"
    data["ray"]["backend"] = backend
    data["train"].update(n_train=N_TRAIN, recipe={"epochs": epochs, "batch_size": 64})
    return config_from_mapping(data)


def _train_here(config: Config, arch: str, checkpoint: Path | None = None, stop_after: int | None = None):
    """The training the stage runs for ``arch``, in this process (optionally stopped after an epoch)."""
    settings = config.train.recipe
    train = load_images("cifar10", split="train", n=N_TRAIN, seed=settings.seed)
    test = load_images("cifar10", split="test")

    def progress(epoch, *_):
        if epoch == stop_after:
            raise _Stop

    return train_cell(Cell.from_string(arch), train=train, test=test, settings=settings, C=config.network.C,
                      N=config.network.N, device="cpu", checkpoint_path=checkpoint, progress=progress)


def _cwd() -> str:
    return os.getcwd()


def _epochs_logged(lines: list[str], id: int) -> list[str]:
    return [ln.split(": ", 1)[1].split(" |")[0] for ln in lines if ln.startswith(f"train id {id}: epoch ")]


def _strays(since: float, roots: list[Path], skip: list[Path]) -> list[str]:
    """Training files (``<id>.pt`` under ``checkpoints/`` or ``models/``, ``*.progress.json``) written since
    ``since`` under ``roots``, outside ``skip``."""
    found = []
    for root in roots:
        for where, dirs, names in os.walk(root):
            here = Path(where)
            dirs[:] = [d for d in dirs if not any((here / d).resolve() == s for s in skip)]
            for name in names:
                path = here / name
                mine = name.endswith(".progress.json") or (name.endswith(".pt")
                                                           and here.name in ("checkpoints", "models"))
                try:
                    if mine and path.stat().st_mtime >= since:
                        found.append(str(path))
                except OSError:
                    continue
    return found


def test_serial_backend_trains_in_this_process(tmp_path, caplog):
    import ray

    run = RunDir.open(make_run(tmp_path))
    config = _config(run, "serial", epochs=2)
    was = ray.is_initialized()
    with caplog.at_level(logging.INFO, logger="evonas"):
        rows = train_front(config, run, ids=[2])
    assert ray.is_initialized() == was  # no Ray started (nor stopped)
    assert [(r["id"], r["status"], int(r["epochs"])) for r in rows] == [(2, "ok", 2)]
    assert _epochs_logged([r.getMessage() for r in caplog.records], 2) == ["epoch 1/2", "epoch 2/2"]
    assert json.loads((run.path / "checkpoints" / "2.progress.json").read_text())["epoch"] == 2
    reference = _train_here(config, run.pareto()[2]["arch"]).model.state_dict()
    trained = evonas.load_model(run.path, 2).state_dict()
    assert all(torch.equal(trained[k], reference[k]) for k in reference)


def test_a_relative_run_trained_on_ray_keeps_its_files_in_the_drivers_run_directory(ray_local, tmp_path, monkeypatch,
                                                                                       caplog):
    """Ray's workers run in another directory than the driver, and the run path is relative: checkpoints,
    progress and models land in the run directory only. The driver's checkpoint of an interrupted training
    is sent to the worker (it resumes there, as if never interrupted); a checkpoint that cannot be read
    fails its candidate alone, naming the driver's file."""
    ray = ray_local
    since = time.time() - 1
    driver = tmp_path / "driver"
    (driver / "runs").mkdir(parents=True)
    make_run(driver / "runs")
    monkeypatch.chdir(driver)
    run = RunDir.open(Path("runs") / "run")
    worker_cwd = Path(ray.get(ray.remote(num_cpus=1)(_cwd).remote()))
    assert worker_cwd != driver and run.path.resolve().parent != Path.cwd()
    config = _config(run, "ray", epochs=2)
    arch = {int(r["id"]): r["arch"] for r in run.pareto()}
    with pytest.raises(_Stop):  # an interrupted stage: the driver holds id 0's checkpoint after epoch 1
        _train_here(config, arch[0], checkpoint=run.path / "checkpoints" / "0.pt", stop_after=1)
    (run.path / "checkpoints" / "1.pt").write_bytes(b"not a checkpoint")

    with caplog.at_level(logging.INFO, logger="evonas"):
        rows = train_front(config, run, ids=[0, 1, 2])
    lines = [r.getMessage() for r in caplog.records]
    status = {r["id"]: (r["status"], r["error"]) for r in rows}
    assert status[0] == status[2] == ("ok", "")
    assert status[1][0] == "failed" and "RunDirError" in status[1][1] and "cannot be read" in status[1][1]
    assert str(driver / "runs" / "run" / "checkpoints" / "1.pt") in status[1][1]
    assert _epochs_logged(lines, 0) == ["epoch 2/2"]  # resumed from the driver's checkpoint
    assert _epochs_logged(lines, 2) == ["epoch 1/2", "epoch 2/2"]
    reference = _train_here(config, arch[0]).model.state_dict()
    resumed = evonas.load_model(run.path, 0).state_dict()
    assert all(torch.equal(resumed[k], reference[k]) for k in reference)

    files = sorted(p.name for p in (run.path / "checkpoints").iterdir())
    assert files == ["0.progress.json", "0.pt", "1.pt", "2.progress.json", "2.pt"]
    assert sorted(p.name for p in (run.path / "models").iterdir()) == ["0.pt", "2.pt"]
    assert json.loads((run.path / "checkpoints" / "2.progress.json").read_text())["epoch"] == 2
    assert not (worker_cwd / "runs" / "run").exists()  # where a path relative to the workers would have put them
    tmp = Path(tempfile.gettempdir()).resolve()
    session = Path(ray._private.worker._global_node.get_session_dir_path()).resolve()
    pytest_dirs = [p.resolve() for p in tmp.glob("pytest-of-*")]  # this and other test sessions' own dirs
    assert _strays(since, [tmp] + ([] if session.is_relative_to(tmp) else [session]), skip=pytest_dirs) == []


@pytest.mark.slow
def test_on_a_multi_node_cluster_the_files_reach_the_driver_and_the_cluster_stays_up(tmp_path):
    """A head and two worker nodes, all on 127.0.0.1 (``cluster_driver.py``, in a process of its own): the
    stage attaches by address, a worker is killed after its first epoch and its training retried from the
    driver's checkpoint, and after the stage the driver is still attached and every node alive."""
    report = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, str(TESTS / "train" / "cluster_driver.py"), str(tmp_path),
                           str(report)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(report.read_text())
    assert r["before"] == r["after"] == ["127.0.0.1"] * 3
    assert r["initialized"] and r["still_runs"] == "yes"  # not shut down by the stage
    assert [(row["id"], row["status"], row["epochs"]) for row in r["rows"]] == [(i, "ok", 3) for i in range(3)]
    victim = int(r["victim"].rsplit(" ", 1)[1])
    assert r["killed"], "no training was running to kill"
    assert any(ln.startswith(f"train id {victim}: ") and ln.endswith(
        f"retry 1 of 2 from {r['run_dir']}/checkpoints/{victim}.pt") for ln in r["lines"]), r["lines"]
    assert _epochs_logged(r["lines"], victim).count("epoch 1/3") == 1  # the retry went on from the checkpoint
    assert r["run_files"] == sorted(["candidates.csv", "config.yaml", "pareto.csv", "shortlist.csv", "trained.csv",
                                     *(f"checkpoints/{i}.{x}" for i in range(3) for x in ("pt", "progress.json")),
                                     *(f"models/{i}.pt" for i in range(3))])
    assert r["nodes_dir"] == []  # nothing where the nodes run

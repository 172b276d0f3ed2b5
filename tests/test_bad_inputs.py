"""Bad input a new user met: each is one line ``evonas: error: ...`` naming what and where, exit code 2,
before any work; the advice a message gives is a command that works (docs/bad_inputs.md lists them all)."""
from __future__ import annotations

import csv
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import REPO
from fixtures_data import write_npz

SMOKE = str(REPO / "configs" / "smoke.yaml")


def evonas(*args: str, cwd: Path = REPO, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evonas", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


def one_line(proc: subprocess.CompletedProcess | tuple[int, str], *needles: str) -> str:
    """The one error line of a refused command (exit code 2), holding every needle."""
    code, err = (proc.returncode, proc.stderr) if isinstance(proc, subprocess.CompletedProcess) else proc
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("evonas: error: "), err[-3000:]
    assert all(n in lines[0] for n in needles), lines[0]
    return lines[0]


def _cli(capsys, *args: str) -> tuple[int, str]:
    from evonas.cli import main

    capsys.readouterr()
    code = main(list(args))
    return code, capsys.readouterr().err


@pytest.fixture(scope="module")
def npz(tmp_path_factory) -> Path:
    """A user's data set: 3 classes of 22 training images, 16x16."""
    return write_npz(tmp_path_factory.mktemp("data") / "mine.npz", per_class=22, per_class_test=2, size=16)


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_score_refuses_a_rank_aggregate_on_custom_data_without_a_reference_and_its_advice_builds_one(npz, tmp_path):
    archs, out = tmp_path / "archs.txt", tmp_path / "scores.csv"
    archs.write_text("0\n1\n")
    args = ("score", "--scores", "az_nas_gk", "--archs", str(archs), "--dataset", "custom", "--data-root", str(npz),
            "--backend", "serial", "--out", str(out))
    line = one_line(evonas(*args), "--scores az_nas_gk: az_nas_gk ranks cells against a reference sample",
                    f"python -m evonas.builders.reference --dataset custom --data-root {npz} --members "
                    f"gradient_kernel,az_expressivity,az_progressivity,az_trainability,flops --out ref.npz")
    assert not out.exists()  # refused before any scoring
    advice = re.search(r"build one for them with (python -m \S+ .*?) and give --settings \"(.*)\"$", line)
    build = shlex.split(advice.group(1))
    assert build[:3] == ["python", "-m", "evonas.builders.reference"]
    # the advice as it is, in a folder of its own (its --out ref.npz lands there); fewer cells than its 200
    made = subprocess.run([sys.executable, *build[1:], "--n", "4", "--workers", "1"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert made.returncode == 0, made.stderr[-3000:]
    settings = advice.group(2).replace("ref.npz", str(tmp_path / "ref.npz"))
    scored = evonas(*args, "--settings", settings)
    assert scored.returncode == 0, scored.stderr[-3000:]
    rows = _rows(out)
    assert len(rows) == 2 and all(r["status"] == "ok" and float(r["az_nas_gk"]) < 0 for r in rows)


def test_the_reference_builder_refuses_custom_data_without_its_root_in_one_line(capsys):
    from evonas.builders.reference import main

    with pytest.raises(SystemExit) as stop:
        main(["--dataset", "custom", "--out", "ref.npz"])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and err == ["evonas.builders.reference: error: --dataset custom needs --data-root: "
                                            "your image folder or .npz"]


@pytest.mark.parametrize("kind", ["text", "data"])
def test_a_file_that_is_not_a_reference_is_one_line_naming_it_in_the_search_and_in_score(kind, npz, tmp_path):
    bad, why = ((tmp_path / "notes.txt", "not a NumPy .npz archive") if kind == "text" else
                (npz, "it holds ['classes', 'x_test', 'x_train', 'y_test', 'y_train'], not meta, arches and values_"))
    if kind == "text":
        bad.write_text("not a reference\n")
    config = {"network": {"C": 4, "N": 1}, "objectives": [{"score": "az_nas_gk"}, {"score": "flops"}],
              "scores": {"az_nas_gk": {"reference": str(bad)}}, "search": {"pop_size": 4, "n_gen": 1},
              "ray": {"backend": "serial"}}
    cfg = tmp_path / "agg.yaml"
    cfg.write_text(yaml.safe_dump(config))
    one_line(evonas("--config", str(cfg), "--out", str(tmp_path / "run")),
             f"{cfg}: scores.az_nas_gk: reference: {bad} is not a rank reference: {why}")
    assert not (tmp_path / "run").exists()
    settings = json.dumps({"az_nas_gk": {"reference": str(bad)}})
    one_line(evonas("score", "--scores", "az_nas_gk", "--n", "2", "--settings", settings, "--backend", "serial",
                    "--out", str(tmp_path / "scores.csv")),
             f"--settings {shlex.quote(settings)}: scores.az_nas_gk: reference: {bad} is not a rank reference: {why}")


def test_read_reference_names_the_file_and_what_is_wrong(tmp_path):
    from evonas.errors import DataError
    from evonas.scores.reference import read_reference, reference_path

    meta, arches, values = read_reference(reference_path("cifar10"))
    assert meta["dataset"] == "cifar10" and all(len(v) == len(arches) for v in values.values())
    (tmp_path / "empty.npz").write_bytes(b"")
    np.save(tmp_path / "array.npy", np.zeros(3))
    np.savez(tmp_path / "meta.npz", meta=np.array("{not json"), arches=np.array(["a"]), values_flops=np.zeros(1))
    np.savez(tmp_path / "short.npz", meta=np.array(json.dumps({"dataset": "cifar10", "C": 16, "N": 5,
                                                               "settings": {"flops": {}}})),
             arches=np.array(["a", "b"]), values_flops=np.zeros(1))
    for name, why in [("empty.npz", "not a NumPy .npz archive"), ("array.npy", "a single NumPy array"),
                      ("meta.npz", "its meta is not JSON"), ("short.npz", "members ['flops'] do not hold one value "
                                                                           "per cell")]:
        with pytest.raises(DataError, match=re.escape(f"{tmp_path / name} is not a rank reference: {why}")):
            read_reference(tmp_path / name)


@pytest.fixture
def run_dir(tmp_path) -> Path:
    from evonas.config.load import load_config
    from evonas.run.rundir import RunDir

    return RunDir.create(tmp_path / "run", load_config(SMOKE)).path


@pytest.mark.parametrize("args,needle", [
    (("--config", SMOKE, "--set", "search.pop_size=2"), "--set search.pop_size=2: 2 is out of range; allowed: >= 4"),
    (("--config", SMOKE, "--set", "data.root=/nonexistent/cifar"),  # found by the search's preflight
     "--set data.root=/nonexistent/cifar: data.root '/nonexistent/cifar' is not a directory"),
    (("train", "{run}", "--set", "train.recipe.epochs=0"), "--set train.recipe.epochs=0: 0 is out of range"),
    (("score", "--scores", "knas", "--n", "2", "--dataset", "custom", "--data-root", "{npz}", "--resolution", "6"),
     "--resolution 6: 6 does not suit the network's two stride-2 reductions"),
    (("score", "--scores", "knas", "--n", "2", "--settings", "{knas: {n_batches: 3}}"),
     "--settings '{knas: {n_batches: 3}}': scores.knas.n_batches: 3 is out of range"),
    (("score", "--scores", "knas", "--n", "2", "--data-root", "/nonexistent/cifar"),
     "--data-root /nonexistent/cifar: data.root '/nonexistent/cifar' is not a directory"),
])
def test_a_bad_value_names_the_set_or_the_flag_that_gave_it(args, needle, run_dir, npz, capsys):
    args = [a.replace("{run}", str(run_dir)).replace("{npz}", str(npz)) for a in args]
    one_line(_cli(capsys, *args, *(["--backend", "serial"] if args[0] == "score" else [])), needle)


def test_score_reads_archs_from_a_process_substitution(tmp_path):
    """``--archs <(...)``: a /dev/fd/N pipe, no regular file; read once."""
    out = tmp_path / "scores.csv"
    command = (f"{shlex.quote(sys.executable)} -m evonas score --scores params --backend serial --out "
               f"{shlex.quote(str(out))} --archs <(printf '0\\n# a comment\\n6111\\n')")
    proc = subprocess.run(["bash", "-c", command], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [r["index"] for r in _rows(out)] == ["0", "6111"]

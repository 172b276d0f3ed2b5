"""Your own data end to end: search, training, pick, export and load_model on an image folder and an .npz;
resume and the score cache keyed by the images; no benchmark column anywhere."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import evonas
from conftest import REPO
from fixtures_data import CLASSES, write_image_folder, write_npz

TABLE_COLUMNS = ("cifar10_test_200ep", "cifar100_test_200ep", "imagenet16_test_200ep", "cifar10_valid_12ep")


def evonas_cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evonas", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _config(path: Path, data: dict, *, backend: str = "serial", train: bool = True, cache: Path | None = None) -> Path:
    config = {"name": "mine", "dataset": "custom", "data": data, "device": "cpu", "network": {"C": 4, "N": 1},
              "objectives": [{"score": "naswot", "direction": "max"}, {"score": "flops", "direction": "min"}],
              "scores": {"naswot": {"batch_size": 8}}, "search": {"pop_size": 4, "n_gen": 1},
              "ray": {"backend": backend, "num_actors": 2},
              "train": {"after_search": train, "candidates": "front", "recipe": {"epochs": 1, "batch_size": 8}}}
    if cache is not None:
        config["cache"] = {"dir": str(cache)}
    path.write_text(yaml.safe_dump(config))
    return path


def _no_table_column(run: Path) -> None:
    for name in ("pareto.csv", "candidates.csv"):
        header = set(_rows(run / name)[0])
        assert not header & set(TABLE_COLUMNS) and not any(c.startswith("nats") for c in header), name
    html = (run / "pareto.html").read_text()
    assert "cifar10_test_200ep" not in html and "true NB201 front" not in html


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    from evonas.cli import main

    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _check_run(run: Path, tmp_path: Path, resolution: int, classes: tuple[str, ...], capsys) -> None:
    record = json.loads((run / "dataset.json").read_text())
    assert record["classes"] == list(classes) and record["resolution"] == resolution and record["fingerprint"]
    _no_table_column(run)
    trained = _rows(run / "trained.csv")
    assert trained and all(r["status"] == "ok" and r["dataset"] == "custom" for r in trained)
    from evonas.run.rundir import RunDir
    from evonas.viz.report import load_view

    rundir = RunDir.open(run)
    view = load_view(rundir, rundir.config())  # the plots' middle panel: the front at its trained accuracy
    assert not view.benchmark and view.accuracy == "trained_test_acc" and view.reference is None
    assert not any(c in row for row in view.candidates + view.members for c in TABLE_COLUMNS)
    assert any(r.get("trained_test_acc") is not None for r in view.front)
    best = next(r for r in trained if r["trained_front"] == "1")

    code, out, err = _cli(capsys, "pick", str(run), "--trained")
    assert code == 0, err
    assert "trained     test acc" in out and "benchmark accuracies" not in out
    code, out, err = _cli(capsys, "pick", str(run), "--min-accuracy", "0")  # reads the trained accuracy
    assert code == 0 and "training stage" in out, err
    code, out, err = _cli(capsys, "pick", str(run), "--accuracy", "table", "--min-accuracy", "1")
    assert code == 2 and "not in the benchmark table" in err

    model_file = tmp_path / "model.pt"
    code, out, err = _cli(capsys, "export", str(run), "--id", best["id"], "--out", str(model_file), "--format",
                          "program")
    assert code == 0, err
    assert "trained weights" in out and ", ".join(classes) in out
    from evonas.train.models import read_model_file

    blob = read_model_file(model_file)
    assert (blob["resolution"], blob["classes"], blob["num_classes"]) == (resolution, list(classes), len(classes))
    model = evonas.load_model(run, int(best["id"]))
    program = torch.export.load(str(model_file.with_suffix(".pt2"))).module()
    images = torch.randn(3, 3, resolution, resolution)
    with torch.no_grad():
        logits = model(images)
        assert logits.shape == (3, len(classes))
        assert torch.allclose(program(images), logits, atol=1e-5)
    import importlib.util

    if all(importlib.util.find_spec(m) for m in ("onnx", "onnxruntime", "onnxscript")):
        code, out, err = _cli(capsys, "export", str(run), "--id", best["id"], "--out", str(model_file), "--format",
                              "onnx")
        assert code == 0 and "onnxruntime equals torch on" in out and " test images" in out, err


def test_image_folder_end_to_end(tmp_path, ray_local, capsys):
    root = write_image_folder(tmp_path / "imgs")
    run = tmp_path / "run"
    code, out, err = _cli(capsys, "--config", str(_config(tmp_path / "c.yaml", {"root": str(root), "resolution": 16})),
                          "--out", str(run), "--quiet")
    assert code == 0, err[-3000:]
    assert "your data: no benchmark table" in out and "test_200ep" not in out
    _check_run(run, tmp_path, 16, CLASSES, capsys)


@pytest.mark.slow
def test_npz_end_to_end_on_ray_actors(tmp_path, capsys):
    path = write_npz(tmp_path / "data.npz")
    run = tmp_path / "run"
    proc = evonas_cli("--config", str(_config(tmp_path / "c.yaml", {"root": str(path)}, backend="ray")),
                      "--out", str(run), "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    _check_run(run, tmp_path, 32, CLASSES, capsys)
    proc = evonas_cli("plot", str(run))
    assert proc.returncode == 0 and "trained accuracy" in proc.stdout, proc.stderr


def test_score_command_on_an_npz(tmp_path):
    path = write_npz(tmp_path / "data.npz", size=16)
    out = tmp_path / "s.csv"
    proc = evonas_cli("score", "--scores", "flops,synflow", "--n", "2", "--dataset", "custom", "--data-root",
                      str(path), "--backend", "serial", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = _rows(out)
    assert len(rows) == 2 and all(r["status"] == "ok" for r in rows)
    # FLOPs counted live at 16x16 with a 3-class head: below the shipped CIFAR-10 value of the same cell
    from evonas.space.table import load_table

    table = load_table()
    assert all(float(r["flops"]) < table.column("flops_cifar10")[int(r["index"])] / 3 for r in rows)


def test_bad_data_is_one_line_before_any_work(tmp_path):
    root = write_image_folder(tmp_path / "imgs")
    (root / "val" / "bird").rename(root / "val" / "boat")
    run = tmp_path / "run"
    proc = evonas_cli("--config", str(_config(tmp_path / "c.yaml", {"root": str(root), "resolution": 16})),
                      "--out", str(run))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "different classes" in proc.stderr
    assert not run.exists()


# -- in process: resume and the score cache ------------------------------------------------------
def _search(config: Path, run: Path) -> int:
    from evonas.cli import main

    return main(["--config", str(config), "--out", str(run), "--quiet"])


def test_resume_refuses_changed_images(tmp_path, capsys):
    root = write_image_folder(tmp_path / "imgs")
    run = tmp_path / "run"
    assert _search(_config(tmp_path / "c.yaml", {"root": str(root), "resolution": 16}, train=False), run) == 0
    from evonas.cli import main

    assert main(["--resume", str(run), "--quiet"]) == 0  # unchanged: resumes (nothing left to do)
    victim = root / "train" / "bird" / "000.png"
    from PIL import Image

    with Image.open(victim) as im:
        im.rotate(90).save(victim)
    capsys.readouterr()
    assert main(["--resume", str(run), "--quiet"]) == 2
    assert "changed since" in capsys.readouterr().err


def _from_cache(run: Path) -> int:
    import re

    return int(re.findall(r"\((\d+) values from cache", (run / "run.log").read_text())[-1])


def _cache_files(cache: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text().splitlines()[0]) for p in cache.glob("*.tsv")}


def test_same_named_data_sets_never_share_a_cached_value(tmp_path):
    cache = tmp_path / "cache"
    a = write_image_folder(tmp_path / "a" / "imgs")
    b = write_image_folder(tmp_path / "b" / "imgs")  # the same name and layout, other images:
    for f in sorted((b / "train").rglob("*.png"))[:4]:
        from PIL import Image

        with Image.open(f) as im:
            im.transpose(Image.Transpose.FLIP_TOP_BOTTOM).save(f)
    assert _search(_config(tmp_path / "a.yaml", {"root": str(a), "resolution": 16}, train=False, cache=cache),
                   tmp_path / "run_a") == 0
    first = _cache_files(cache)
    assert len(first) == 2 and all(k["data"].startswith("fingerprint:") for k in first.values())
    assert _search(_config(tmp_path / "b.yaml", {"root": str(b), "resolution": 16}, train=False, cache=cache),
                   tmp_path / "run_b") == 0
    both = _cache_files(cache)
    assert len(both) == 4  # b's values went to files of their own: none of a's was served
    assert _from_cache(tmp_path / "run_b") == 0
    # the same images elsewhere are the same data: served from the cache
    c = tmp_path / "c" / "imgs"
    import shutil

    shutil.copytree(a, c)
    assert _search(_config(tmp_path / "c.yaml", {"root": str(c), "resolution": 16}, train=False, cache=cache),
                   tmp_path / "run_c") == 0
    assert len(_cache_files(cache)) == 4
    assert _from_cache(tmp_path / "run_c") == 8  # 4 cells x 2 scores


def test_cache_key_is_the_fingerprint_not_the_name(tmp_path):
    from evonas.engine.cache import cache_key
    from evonas.datasets import DataSource, read_user_data

    a = read_user_data(DataSource("npz", str(write_npz(tmp_path / "a" / "d.npz")), None)).spec
    x = np.load(tmp_path / "a" / "d.npz")
    arrays = {k: x[k] for k in x.files}
    arrays["x_train"] = arrays["x_train"].copy()
    arrays["x_train"][0, 0, 0, 0] ^= 1  # one pixel's lowest bit
    (tmp_path / "b").mkdir()
    np.savez(tmp_path / "b" / "d.npz", **arrays)
    b = read_user_data(DataSource("npz", str(tmp_path / "b" / "d.npz"), None)).spec
    assert a.name == b.name == "custom" and a.fingerprint != b.fingerprint

    def key(spec):
        return cache_key("naswot", {}, seed=0, dataset=spec, data_root=spec.source.root, C=4, N=1, device_kind="cpu")

    assert key(a) != key(b) and key(a)["data"] == f"fingerprint:{a.fingerprint}"
    moved = read_user_data(DataSource("npz", str(tmp_path / "a" / "d.npz"), None)).spec
    assert key(moved) == key(a)


def test_rank_aggregate_reference_built_for_the_data_with_one_command(tmp_path, capsys):
    from evonas.builders.reference import main as build_reference

    path = write_npz(tmp_path / "data.npz", per_class=22, per_class_test=2, size=16)
    config = {"dataset": "custom", "data": {"root": str(path)}, "device": "cpu", "network": {"C": 4, "N": 1},
              "objectives": [{"score": "gradient_kernel_agg"}, {"score": "flops"}],
              "search": {"pop_size": 4, "n_gen": 1}, "ray": {"backend": "serial"}}
    cfg = tmp_path / "agg.yaml"
    cfg.write_text(yaml.safe_dump(config))
    code, _, err = _cli(capsys, "--config", str(cfg), "--out", str(tmp_path / "no"))
    assert code == 2 and "evonas.builders.reference --config" in err  # no packaged reference for these images
    ref = tmp_path / "ref.npz"
    build_reference(["--config", str(cfg), "--out", str(ref), "--n", "6", "--workers", "1"])
    from evonas.scores.reference import load_reference

    held = load_reference(str(ref))
    assert held.dataset.startswith("custom:") and (held.C, held.N) == (4, 1)
    assert set(held.values) == {"gradient_kernel", "naswot", "synflow", "flops"}  # the config's aggregate's members
    code, out, err = _cli(capsys, "--config", str(cfg), "--out", str(tmp_path / "run"), "--quiet",
                          "--set", f"scores.gradient_kernel_agg.reference={ref}")
    assert code == 0, err
    assert all(r["status"] == "ok" for r in _rows(tmp_path / "run" / "candidates.csv"))
    code, _, err = _cli(capsys, "--config", str(cfg), "--out", str(tmp_path / "other"), "--quiet",
                        "--set", f"scores.gradient_kernel_agg.reference={ref}", "--set", "data.resolution=8")
    assert code == 2 and "not on these images" in err and not (tmp_path / "other").exists()


def test_too_few_images_for_the_scores_fail_before_any_worker_starts(tmp_path, capsys):
    root = write_image_folder(tmp_path / "imgs")  # 24 training images; naswot reads 64 by default
    config = yaml.safe_load(_config(tmp_path / "c.yaml", {"root": str(root), "resolution": 16},
                                    backend="ray", train=False).read_text())
    config["scores"] = {}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    code, _, err = _cli(capsys, "--config", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "run"))
    assert code == 2 and "the scores read 64 training images but" in err and "has 24" in err
    assert err.count("\n") == 1 and not (tmp_path / "run").exists()

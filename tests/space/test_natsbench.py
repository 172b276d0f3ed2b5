"""Benchmark lookup on tiny benchmarks written in the official layouts, with made-up numbers, read by the real
APIs: NATS-Bench (`nats_bench`, both layouts) and NAS-Bench-201's own `.pth` (`nas_201_api`)."""
from __future__ import annotations

import sys

import pytest
import torch

from evonas.errors import ConfigError, DataError, EvonasError
from evonas.space.natsbench import NatsBenchLookup
from evonas.space.cell import Cell
from evonas.space.table import load_table

nats_utils = pytest.importorskip("nats_bench.api_utils")

#: made-up numbers: index -> (base accuracy, flops M, params M, latency s)
ARCHS = {6111: (90.0, 80.0, 0.8, 0.02), 0: (10.0, 7.0, 0.07, 0.0), 857: (40.0, 100.0, 1.1, 0.03)}
SEEDS = (777, 888)
#: the sets NATS evaluates each of its training runs on
SETS = {"cifar10-valid": ("x-valid", "ori-test"), "cifar10": ("ori-test",),
        "cifar100": ("x-valid", "x-test", "ori-test"), "ImageNet16-120": ("x-valid", "x-test", "ori-test")}
OFFSET = {"x-valid": 1.0, "x-test": 2.0, "ori-test": 3.0}
DATASET_SHIFT = {"cifar10-valid": 0.1, "cifar10": 0.2, "cifar100": 0.3, "ImageNet16-120": 0.4}


def _accuracy(base: float, dataset: str, setname: str, hp: str, seed_i: int) -> float:
    """Seed 777 scores 1 less and seed 888 1 more than the mean NATS reports."""
    return base + DATASET_SHIFT[dataset] + OFFSET[setname] + (0.5 if hp == "200" else 0.0) + (2 * seed_i - 1)


def _arch_results(index: int, arch: str, hp: str, utils=nats_utils) -> dict:
    """An ``ArchResults`` state dict as the benchmark stores it, built with its own classes (``utils``:
    ``nats_bench.api_utils`` or NAS-Bench-201's ``nas_201_api.api_utils``)."""
    base, flops, params, latency = ARCHS[index]
    epochs = int(hp)
    record = utils.ArchResults(index, arch)
    for dataset, sets in SETS.items():
        for seed_i, seed in enumerate(SEEDS):
            train = [base - 5 + seed_i] * epochs
            result = utils.ResultsCount(dataset, None, dict(enumerate(train)), dict(enumerate([1.0] * epochs)),
                                             params, flops, {"arch_str": arch, "channel": 16, "num_cells": 5,
                                                             "class_num": 10}, seed, epochs,
                                             [latency] if latency else None)
            keys = [f"{s}@{e}" for s in sets for e in range(epochs)]
            accs = {k: _accuracy(base, dataset, k.split("@")[0], hp, seed_i) for k in keys}
            result.update_eval(accs, {k: 0.5 for k in keys}, {k: 0.01 for k in keys})
            record.update(dataset, seed, result)
    return record.state_dict()


@pytest.fixture(scope="module")
def meta_archs() -> list[str]:
    table = load_table()
    return [table.cell(i).arch for i in range(15625)]


@pytest.fixture(scope="module")
def simple_dir(tmp_path_factory, meta_archs):
    """The ``NATS-tss-v1_0-3ffb9-simple`` layout: meta file plus one file per architecture."""
    root = tmp_path_factory.mktemp("bench") / "NATS-tss-v1_0-3ffb9-simple"
    root.mkdir()
    nats_utils.pickle_save({"meta_archs": meta_archs}, str(root / "meta.pickle"))
    for index in ARCHS:
        states = {hp: _arch_results(index, meta_archs[index], hp) for hp in ("12", "200")}
        nats_utils.pickle_save(states, str(root / f"{index:06d}.pickle"))
    return root


@pytest.fixture(scope="module")
def full_file(tmp_path_factory, meta_archs):
    """The one-file layout (``*.pickle.pbz2``: meta_archs, arch2infos, evaluated_indexes)."""
    path = tmp_path_factory.mktemp("bench") / "NATS-tss-v1_0-3ffb9-simple"
    infos = {i: {hp: _arch_results(i, meta_archs[i], hp) for hp in ("12", "200")} for i in ARCHS}
    nats_utils.pickle_save({"meta_archs": meta_archs, "arch2infos": infos, "evaluated_indexes": list(ARCHS)},
                           str(path) + ".pickle")
    return path.with_name(path.name + ".pickle.pbz2")


@pytest.fixture(scope="module")
def nb201_file(tmp_path_factory, meta_archs):
    """NAS-Bench-201's own ``.pth`` (torch-saved: meta_archs, arch2infos {'less': 12 epochs, 'full': 200},
    evaluated_indexes), read by the real ``nas_201_api``."""
    nb201_utils = pytest.importorskip("nas_201_api.api_utils")
    path = tmp_path_factory.mktemp("bench") / "NAS-Bench-201-v1_1-096897.pth"
    infos = {i: {"less": _arch_results(i, meta_archs[i], "12", nb201_utils),
                 "full": _arch_results(i, meta_archs[i], "200", nb201_utils)} for i in ARCHS}
    torch.save({"meta_archs": meta_archs, "arch2infos": infos, "evaluated_indexes": list(ARCHS)}, path)
    return path


@pytest.mark.parametrize("layout", ["simple_dir", "full_file", "nb201_file"])
@pytest.mark.parametrize("hp", ["200", "12"])
def test_lookup_returns_the_benchmark_numbers(request, layout, hp):
    bench = NatsBenchLookup(request.getfixturevalue(layout))
    bonus = 0.5 if hp == "200" else 0.0
    got = bench.lookup(6111, "cifar10", hp=hp)
    assert got["arch"] == Cell.parse(6111).arch and got["index"] == 6111 and got["hp"] == hp
    # test: NATS's cifar10 run (train+valid) on ori-test; valid: the cifar10-valid run on x-valid
    assert got["test_acc"] == pytest.approx(90.0 + 0.2 + 3.0 + bonus)
    assert got["valid_acc"] == pytest.approx(90.0 + 0.1 + 1.0 + bonus)
    assert got["train_acc"] == pytest.approx(85.5)
    assert (got["flops_m"], got["params_m"]) == (80.0, 0.8) and got["latency_ms"] == pytest.approx(20.0)


def test_cifar100_and_imagenet16_use_x_valid_and_x_test(simple_dir):
    bench = NatsBenchLookup(simple_dir)
    for dataset, shift in (("cifar100", 0.3), ("imagenet16-120", 0.4)):
        got = bench.lookup(857, dataset)
        assert got["test_acc"] == pytest.approx(40.0 + shift + 2.0 + 0.5)
        assert got["valid_acc"] == pytest.approx(40.0 + shift + 1.0 + 0.5)
        assert got["dataset"] == dataset


def test_lookup_by_arch_string_or_cell_and_missing_latency(simple_dir):
    bench = NatsBenchLookup(simple_dir)
    cell = Cell.parse(0)
    assert bench.lookup(cell.arch, "cifar10") == bench.lookup(cell, "cifar10") == bench.lookup(0, "cifar10")
    assert bench.lookup(0, "cifar10")["latency_ms"] is None


def test_architecture_missing_from_the_copy(simple_dir):
    with pytest.raises(DataError, match="no file 000001.pickle.pbz2 for architecture 1"):
        NatsBenchLookup(simple_dir).lookup(1, "cifar10")


def test_bad_hp_and_dataset(simple_dir):
    bench = NatsBenchLookup(simple_dir)
    with pytest.raises(ConfigError, match=r"hp '90' is unknown; choose from \['12', '200'\]"):
        bench.lookup(0, "cifar10", hp="90")
    with pytest.raises(ConfigError, match="unknown dataset 'svhn'"):
        bench.lookup(0, "svhn")


def test_missing_path_says_what_to_put_there(tmp_path):
    missing = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    with pytest.raises(DataError) as info:
        NatsBenchLookup(missing)
    message = str(info.value)
    assert str(missing) in message and "does not exist" in message
    assert "NATS-tss-v1_0-3ffb9-simple" in message and "NAS-Bench-201-v1_1-096897.pth" in message
    assert "benchmark.path" in message


def test_directory_without_meta_file(tmp_path):
    with pytest.raises(DataError, match="without meta.pickle.pbz2"):
        NatsBenchLookup(tmp_path)


def test_unknown_file_kind(tmp_path):
    (tmp_path / "bench.csv").write_text("index\n")
    with pytest.raises(DataError, match="neither"):
        NatsBenchLookup(tmp_path / "bench.csv")


def test_without_nats_bench_installed(simple_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "nats_bench", None)  # import fails as when not installed
    with pytest.raises(EvonasError, match=r'pip install "evonas\[nats\]"'):
        NatsBenchLookup(simple_dir)


def test_nb201_pth_file_without_nas_201_api_installed(nb201_file, monkeypatch):
    monkeypatch.setitem(sys.modules, "nas_201_api", None)
    with pytest.raises(EvonasError, match="pip install nas-bench-201"):
        NatsBenchLookup(nb201_file)


def test_nb201_pth_file_cifar100_and_missing_record(nb201_file):
    bench = NatsBenchLookup(nb201_file)
    got = bench.lookup(857, "cifar100", hp="12")
    assert got["test_acc"] == pytest.approx(40.0 + 0.3 + 2.0) and got["valid_acc"] == pytest.approx(40.0 + 0.3 + 1.0)
    assert bench.lookup(0, "cifar10")["latency_ms"] is None
    with pytest.raises(DataError, match="no 200-epoch record of architecture 1 "):
        bench.lookup(1, "cifar10")

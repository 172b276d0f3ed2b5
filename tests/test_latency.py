"""Latency measurement and the two latency scores."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from evonas.cost import dataset_spec
from evonas.data import DATA_DIR
from evonas.errors import ConfigError
from evonas.latency import LatencyStats, cpu_threads, measure_latency
from evonas.model import build_network
from evonas.scores import ScoreContext, get_score, make_settings
from evonas.space import Cell

SHARED_LATENCY_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "nb201_latency.csv"
ALL_CONV3 = Cell((3,) * 6)
ALL_SKIP = Cell((1,) * 6)


def _ctx(cell: Cell, C: int = 8, N: int = 1, device: str = "cpu") -> ScoreContext:
    return ScoreContext(cell, torch.device(device), dataset_spec("cifar10"), C=C, N=N)


def test_stats_from_samples_by_hand() -> None:
    s = LatencyStats.from_samples([4.0, 1.0, 3.0, 2.0, 5.0], batch_size=1, device="cpu")
    assert (s.median_ms, s.min_ms, s.max_ms, s.n) == (3.0, 1.0, 5.0, 5)
    assert s.iqr_ms == pytest.approx(2.0)  # numpy linear percentiles: q1 = 2, q3 = 4
    assert s.p10_ms == pytest.approx(1.4) and s.p90_ms == pytest.approx(4.6)
    with pytest.raises(ValueError):
        LatencyStats.from_samples([], batch_size=1, device="cpu")


def test_measure_latency_sane_and_restores_mode() -> None:
    torch.manual_seed(0)
    net = build_network(ALL_CONV3, C=8, N=1).train()
    with cpu_threads(1):
        s = measure_latency(net, resolution=32, batch_size=2, warmup=1, repeats=7, device="cpu")
    assert net.training
    assert s.n == 7 == len(s.samples_ms) and s.batch_size == 2
    assert 0 < s.min_ms <= s.p10_ms <= s.median_ms <= s.p90_ms <= s.max_ms
    assert s.median_ms == pytest.approx(float(np.median(s.samples_ms)))
    assert s.iqr_ms >= 0 and isinstance(s.device, str) and s.device
    assert not s.amp  # AMP is ignored on the CPU and the stats say so


def test_measure_latency_switches_on_cpu() -> None:
    net = build_network(ALL_CONV3, C=8, N=1)
    s = measure_latency(net, resolution=16, warmup=1, repeats=2, device="cpu", channels_last=True, amp=True)
    assert s.channels_last and not s.amp and math.isfinite(s.median_ms)


def test_cpu_threads_restores() -> None:
    before = torch.get_num_threads()
    with cpu_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_latency_score_registered_and_positive() -> None:
    info = get_score("latency")
    assert info.direction == "min" and not info.needs
    settings = make_settings("latency", {"warmup": 1, "repeats": 3})
    assert settings.threads == 1 and settings.batch_size == 1
    value = info(_ctx(ALL_CONV3), settings)
    assert math.isfinite(value) and value > 0


def test_latency_statistic_min() -> None:
    settings = make_settings("latency", {"warmup": 1, "repeats": 3, "statistic": "min"})
    value = get_score("latency")(_ctx(ALL_CONV3), settings)
    assert math.isfinite(value) and value > 0


def test_latency_settings_reject_bad_values() -> None:
    with pytest.raises(ConfigError, match="scores.latency.repeats"):
        make_settings("latency", {"repeats": 0})
    with pytest.raises(ConfigError, match="threads"):
        make_settings("latency", {"thread": 2})
    with pytest.raises(ConfigError, match="median"):
        make_settings("latency", {"statistic": "mean"})


def test_more_convs_are_slower_than_all_skip() -> None:
    settings = make_settings("latency", {"batch_size": 32, "warmup": 1, "repeats": 3})
    score = get_score("latency")
    conv = score(_ctx(ALL_CONV3, C=16, N=5), settings)
    skip = score(_ctx(ALL_SKIP, C=16, N=5), settings)
    if conv < 2 * skip:  # measured ~10x on a quiet CPU; a loaded machine may blur it
        pytest.skip(f"no robust margin on this machine (conv {conv:.1f} ms, skip {skip:.1f} ms)")
    assert conv > skip


def _table_value(column: str, index: int) -> float:
    """The reference value, read independently of evonas.scores.latency."""
    if SHARED_LATENCY_CSV.exists():
        with open(SHARED_LATENCY_CSV, newline="") as f:
            for row in csv.DictReader(f):
                if int(row["index"]) == index:
                    return float(row[f"{column}_ms"])
        raise AssertionError(f"index {index} not in {SHARED_LATENCY_CSV}")
    with np.load(DATA_DIR / "nb201_latency.npz") as table:
        return float(table[column][index])


def test_latency_table_exact_value_for_index_0() -> None:
    info = get_score("latency_table")
    assert info.direction == "min"
    cell = Cell.from_index(0)
    value = info(_ctx(cell), make_settings("latency_table", {"device": "1080ti_bs1"}))
    assert value == pytest.approx(_table_value("1080ti_bs1", 0), rel=1e-6)
    if SHARED_LATENCY_CSV.exists():
        assert value == pytest.approx(10.75437, rel=1e-6)
    default = info(_ctx(cell))
    assert default == pytest.approx(_table_value("2080ti_bs1", 0), rel=1e-6)


def test_latency_table_unknown_device_lists_choices() -> None:
    with pytest.raises(ConfigError) as err:
        make_settings("latency_table", {"device": "1080t_bs1"})
    text = str(err.value)
    assert "'1080t_bs1'" in text and "did you mean '1080ti_bs1'" in text
    assert "gold_6226" in text and "raspi4" in text and "titan_rtx_bs256" in text


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_latency_with_events() -> None:
    net = build_network(ALL_CONV3, C=8, N=1)
    s = measure_latency(net, resolution=32, batch_size=4, warmup=2, repeats=5, device="cuda", amp=True,
                        channels_last=True)
    assert s.amp and s.n == 5 and 0 < s.min_ms <= s.median_ms <= s.max_ms
    assert next(net.parameters()).device.type == "cuda"
    value = get_score("latency")(_ctx(ALL_CONV3, device="cuda"), make_settings("latency", {"repeats": 3}))
    assert math.isfinite(value) and value > 0

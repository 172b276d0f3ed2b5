"""Latency measurement and the two latency scores."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from evonas.nn.flops import dataset_spec
from evonas.errors import ConfigError
from evonas.nn.latency import LatencyStats, cpu_threads, measure_latency
from evonas.nn.network import build_network
from evonas.scores import ScoreContext, get_score, make_settings
from evonas.space.cell import Cell

SHARED_LATENCY_CSV = Path(__file__).resolve().parents[3] / "shared" / "data" / "nb201_latency.csv"
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
    # the minimum of the repeats: a burst of load from other processes must hit every repeat to move it
    settings = make_settings("latency", {"batch_size": 32, "warmup": 1, "repeats": 5, "statistic": "min"})
    score = get_score("latency")
    conv = score(_ctx(ALL_CONV3, C=16, N=5), settings)
    skip = score(_ctx(ALL_SKIP, C=16, N=5), settings)
    assert conv > 1.5 * skip, f"conv {conv:.1f} ms vs skip {skip:.1f} ms (about 10x on a quiet CPU)"


#: values of the source table (HELP's and HW-NAS-Bench's measurements, ../shared/data/nb201_latency.csv)
#: written out here, so the shipped npz is checked against its source without ../shared
SOURCE_VALUES = {
    0: {"1080ti_bs1": 10.75437, "2080ti_bs256": 11.0384, "titan_rtx_bs256": 10.65186, "raspi4": 10.48198,
        "gold_6226": 10.52463},
    1: {"1080ti_bs1": 12.90035, "2080ti_bs256": 26.18207, "titan_rtx_bs256": 26.51288, "raspi4": 54.7774,
        "gold_6226": 15.17917},
    3: {"1080ti_bs1": 6.37146, "2080ti_bs256": 9.12493, "titan_rtx_bs256": 8.79916, "raspi4": 2.92399,
        "gold_6226": 4.32164},
    7777: {"1080ti_bs1": 8.89849, "2080ti_bs256": 20.16929, "titan_rtx_bs256": 21.3491, "raspi4": 38.48744,
           "gold_6226": 9.02336},
    15624: {"1080ti_bs1": 12.48024, "2080ti_bs256": 14.6861, "titan_rtx_bs256": 14.39809, "raspi4": 18.01667,
            "gold_6226": 11.17095},
}


@pytest.mark.parametrize("index", sorted(SOURCE_VALUES))
def test_latency_table_matches_the_source_values(index: int) -> None:
    info = get_score("latency_table")
    assert info.direction == "min"
    cell = Cell.from_index(index)
    for column, expected in SOURCE_VALUES[index].items():
        value = info(_ctx(cell), make_settings("latency_table", {"device": column}))
        assert value == pytest.approx(expected, rel=1e-6), (index, column)
    assert info(_ctx(cell)) == info(_ctx(cell), make_settings("latency_table", {"device": "2080ti_bs1"}))


@pytest.mark.skipif(not SHARED_LATENCY_CSV.exists(), reason="the source CSV lives in ../shared/data")
def test_latency_table_matches_the_whole_source_csv() -> None:
    from evonas.scores.latency import latency_columns

    columns = latency_columns()
    with open(SHARED_LATENCY_CSV, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 15_625
    names = [k[:-3] for k in rows[0] if k.endswith("_ms")]
    assert sorted(names) == sorted(columns)
    source = np.array([[float(r[f"{n}_ms"]) for n in names] for r in rows])
    shipped = np.stack([columns[n][[int(r["index"]) for r in rows]] for n in names], axis=1)
    np.testing.assert_allclose(shipped, source, rtol=1e-6)


def test_latency_table_unknown_device_lists_choices() -> None:
    with pytest.raises(ConfigError) as err:
        make_settings("latency_table", {"device": "1080t_bs1"})
    text = str(err.value)
    assert "'1080t_bs1'" in text and "did you mean '1080ti_bs1'" in text
    assert "gold_6226" in text and "raspi4" in text and "titan_rtx_bs256" in text


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_timer_on_the_last_gpu() -> None:
    from evonas.nn.latency import make_timer

    device = torch.device(f"cuda:{torch.cuda.device_count() - 1}")
    x = torch.randn(2048, 2048, device=device)
    timed = make_timer(device)
    assert timed(lambda: x @ x) > 0
    net = build_network(ALL_CONV3, C=8, N=1)
    s = measure_latency(net, resolution=32, warmup=2, repeats=3, device=device)
    assert next(net.parameters()).device == device and s.n == 3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_latency_with_events() -> None:
    net = build_network(ALL_CONV3, C=8, N=1)
    s = measure_latency(net, resolution=32, batch_size=4, warmup=2, repeats=5, device="cuda", amp=True,
                        channels_last=True)
    assert s.amp and s.n == 5 and 0 < s.min_ms <= s.median_ms <= s.max_ms
    assert next(net.parameters()).device.type == "cuda"
    value = get_score("latency")(_ctx(ALL_CONV3, device="cuda"), make_settings("latency", {"repeats": 3}))
    assert math.isfinite(value) and value > 0


def test_split_exclusive_keeps_timing_scores_apart() -> None:
    from evonas.scores.latency import EXCLUSIVE_SCORES, split_exclusive

    assert "latency" in EXCLUSIVE_SCORES and "latency_table" not in EXCLUSIVE_SCORES
    assert split_exclusive(["gradient_kernel", "latency", "flops"]) == (("gradient_kernel", "flops"), ("latency",))
    assert split_exclusive(("synflow", "flops")) == (("synflow", "flops"), ())


def test_compile_is_real_for_every_cell_past_the_recompile_limit() -> None:
    """torch.compile caches graphs per forward code: without clearing, cell 9 onwards ran eager.

    The limit is lowered to 1 here so that three cells show it (the second ran eager before).
    """
    import torch._dynamo
    from torch._dynamo.utils import counters

    cells = [Cell.from_index(i) for i in (101, 1098, 7777)]
    with torch._dynamo.config.patch(recompile_limit=1):
        graphs = [_compiled_graphs_for(cell, counters) for cell in cells]
    assert all(g > 0 for g in graphs), graphs


def _compiled_graphs_for(cell: Cell, counters) -> int:
    before = counters["stats"]["unique_graphs"]
    s = measure_latency(build_network(cell, C=4, N=1), resolution=16, warmup=1, repeats=1, device="cpu",
                        compile=True, compile_backend="eager")
    assert s.compile
    return counters["stats"]["unique_graphs"] - before


def test_compile_needs_a_warmup() -> None:
    with pytest.raises(ValueError, match="warmup"):
        measure_latency(build_network(ALL_SKIP, C=4, N=1), resolution=16, warmup=0, repeats=1, device="cpu",
                        compile=True, compile_backend="eager")


def test_cpu_timer_measures_the_step() -> None:
    import time

    from evonas.nn.latency import make_timer

    timed = make_timer(torch.device("cpu"))
    ms = timed(lambda: time.sleep(0.02))
    assert 19.0 <= ms < 1000.0

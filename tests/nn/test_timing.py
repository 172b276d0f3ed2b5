"""Latency measurement: statistics, CPU threads, CUDA timing, compiled networks."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from evonas.nn.timing import LatencyStats, cpu_threads, measure_latency
from evonas.nn.network import build_network
from evonas.space.cell import Cell

ALL_CONV3 = Cell((3,) * 6)
ALL_SKIP = Cell((1,) * 6)


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


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_timer_on_the_last_gpu() -> None:
    from evonas.nn.timing import make_timer

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

    from evonas.nn.timing import make_timer

    timed = make_timer(torch.device("cpu"))
    ms = timed(lambda: time.sleep(0.02))
    assert 19.0 <= ms < 1000.0

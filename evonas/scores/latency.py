"""Latency scores: measured on the scorer's own device, or looked up in the shipped table.

``latency`` times the network built for the scorer's data set on the scorer's device
(``evonas.nn.timing.measure_latency``) and returns the median of the timed repeats (or,
with ``statistic: min``, their minimum) in ms per batch. It times the device, so the
registry marks it ``exclusive``: a pool times it after the cell's other scores, with no
other work on that device meanwhile (``evonas.engine.scheduler``).
``latency_table`` returns the latency (ms) the shipped NB201 table
(``evonas.space.latency_table``: HELP and HW-NAS-Bench measurements) lists for the cell
on one device setting; the default is ``2080ti_bs1`` (an RTX 2080 Ti at batch 1). The table
holds one measurement per cell whatever the data set, so for data sets other than the one
it was measured on it is a proxy.
"""
from __future__ import annotations

from evonas.nn.timing import cpu_threads, measure_latency
from evonas.scores.context import ScoreContext
from evonas.scores.settings import LatencySettings, LatencyTableSettings
from evonas.space.latency_table import latency_columns

__all__ = ["latency", "latency_table"]


def latency(ctx: ScoreContext, s: LatencySettings) -> float:
    """Inference latency on the scorer's device (median of the repeats by default), in ms per batch."""
    threads = s.threads if ctx.device.type == "cpu" else None
    with cpu_threads(threads):
        stats = measure_latency(ctx.network(), resolution=ctx.dataset.resolution, batch_size=s.batch_size,
                                warmup=s.warmup, repeats=s.repeats, device=ctx.device,
                                channels_last=s.channels_last, amp=s.amp, compile=s.compile)
    return stats.median_ms if s.statistic == "median" else stats.min_ms


def latency_table(ctx: ScoreContext, s: LatencyTableSettings) -> float:
    """Latency in ms the shipped NB201 table lists for this cell on ``device``."""
    return float(latency_columns()[s.device][ctx.cell.index])

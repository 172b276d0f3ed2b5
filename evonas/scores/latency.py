"""Latency scores: measured on the scorer's own device, or looked up in the shipped table.

``latency`` times the network built for the scorer's data set on the scorer's device
(``evonas.nn.latency.measure_latency``) and returns the median of the timed repeats (or,
with ``statistic: min``, their minimum) in ms per batch.
``latency_table`` returns the latency (ms) the shipped NB201 table
(``evonas/data/nb201_latency.npz``: HELP and HW-NAS-Bench measurements) lists for the cell
on one device setting; the default is ``2080ti_bs1`` (an RTX 2080 Ti at batch 1). The table
holds one measurement per cell whatever the data set, so for data sets other than the one
it was measured on it is a proxy.

``EXCLUSIVE_SCORES`` names the scores that time the device and so need it to themselves:
a pool scores them in a phase of their own, one cell at a time, with no other work on that
device (``split_exclusive`` separates them from the rest).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable, Literal

import numpy as np

from evonas.data import DATA_DIR
from evonas.errors import ConfigError, DataError
from evonas.nn.latency import cpu_threads, measure_latency
from evonas.config.strict import check, suggest
from evonas.scores.registry import ScoreContext, register_score

__all__ = ["EXCLUSIVE_SCORES", "split_exclusive", "LatencySettings", "LatencyTableSettings", "latency",
           "latency_table", "latency_columns", "LATENCY_TABLE", "DEFAULT_TABLE_DEVICE"]

LATENCY_TABLE = DATA_DIR / "nb201_latency.npz"
DEFAULT_TABLE_DEVICE = "2080ti_bs1"
#: scores whose value is a timing of the device: measured with the device to themselves
EXCLUSIVE_SCORES = frozenset({"latency"})


def split_exclusive(scores: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(scores that may share the device, scores that need it to themselves), order kept."""
    names = tuple(scores)
    return (tuple(n for n in names if n not in EXCLUSIVE_SCORES),
            tuple(n for n in names if n in EXCLUSIVE_SCORES))


@lru_cache(maxsize=1)
def latency_columns() -> dict[str, np.ndarray]:
    """The shipped latency table: device setting -> ms for indices 0..15624."""
    if not LATENCY_TABLE.exists():
        raise DataError(f"the latency table {LATENCY_TABLE} is missing; reinstall evonas "
                        f"or rebuild it with python -m evonas.data.build")
    with np.load(LATENCY_TABLE) as table:
        return {name: table[name] for name in table.files}


@dataclass(frozen=True)
class LatencySettings:
    """How ``latency`` times a network; ``threads`` is the CPU intra-op thread count while timing.

    ``statistic``: what the score returns of the timed repeats, the median (default) or the
    minimum; the minimum is far less sensitive to other processes sharing the CPU
    (docs/benchmarks_latency.md).
    """

    batch_size: int = field(default=1, metadata=check(lambda v: v >= 1, ">= 1 (1, 32 and 256 match the table)"))
    warmup: int = field(default=10, metadata=check(lambda v: v >= 0, ">= 0"))
    repeats: int = field(default=30, metadata=check(lambda v: v >= 1, ">= 1"))
    channels_last: bool = False
    amp: bool = False
    compile: bool = False
    threads: int = field(default=1, metadata=check(lambda v: v >= 1, ">= 1"))
    statistic: Literal["median", "min"] = "median"


@dataclass(frozen=True)
class LatencyTableSettings:
    """``device``: a column of the shipped latency table (default ``2080ti_bs1``)."""

    device: str = DEFAULT_TABLE_DEVICE

    def __post_init__(self) -> None:
        columns = latency_columns()
        if self.device not in columns:
            raise ConfigError(f"device: unknown latency table device {self.device!r}"
                              f"{suggest(self.device, columns)}; choose from {sorted(columns)}")


@register_score("latency", direction="min", settings=LatencySettings,
                reference="measured inference latency (median of timed repeats)")
def latency(ctx: ScoreContext, s: LatencySettings) -> float:
    """Inference latency on the scorer's device (median of the repeats by default), in ms per batch."""
    threads = s.threads if ctx.device.type == "cpu" else None
    with cpu_threads(threads):
        stats = measure_latency(ctx.network(), resolution=ctx.dataset.resolution, batch_size=s.batch_size,
                                warmup=s.warmup, repeats=s.repeats, device=ctx.device,
                                channels_last=s.channels_last, amp=s.amp, compile=s.compile)
    return stats.median_ms if s.statistic == "median" else stats.min_ms


@register_score("latency_table", direction="min", settings=LatencyTableSettings,
                reference="HELP (Lee et al., NeurIPS 2021) and HW-NAS-Bench (Li et al., ICLR 2021)")
def latency_table(ctx: ScoreContext, s: LatencyTableSettings) -> float:
    """Latency in ms the shipped NB201 table lists for this cell on ``device``."""
    return float(latency_columns()[s.device][ctx.cell.index])

"""The latency scores: ``latency`` measured on the scorer's device, ``latency_table`` read from the shipped table."""
from __future__ import annotations

import csv
import gzip
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from evonas.errors import ConfigError
from evonas.scores import ScoreContext, get_score, make_settings
from evonas.space.cell import Cell
from evonas.datasets import dataset_spec

SHARED_LATENCY_CSV = Path(__file__).resolve().parents[3] / "shared" / "data" / "nb201_latency.csv"
#: every 7th row of that CSV, shipped with the tests (tests/data/README.md)
LATENCY_EXTRACT = Path(__file__).resolve().parents[1] / "data" / "nb201_latency_every7.csv.gz"
ALL_CONV3 = Cell((3,) * 6)
ALL_SKIP = Cell((1,) * 6)


def _ctx(cell: Cell, C: int = 8, N: int = 1, device: str = "cpu") -> ScoreContext:
    return ScoreContext(cell, torch.device(device), dataset_spec("cifar10"), C=C, N=N)


def test_latency_score_registered_and_positive() -> None:
    info = get_score("latency")
    assert info.direction == "min" and not info.needs
    settings = make_settings("latency", {"warmup": 1, "repeats": 3})
    assert settings.threads == 1 and settings.batch_size == 1
    value = info(_ctx(ALL_CONV3), settings)
    assert math.isfinite(value) and value > 0


#: what the fake timer below reports for successive repeats (ms): median 5, minimum 1
FAKE_TIMINGS = (7.0, 1.0, 9.0, 5.0, 3.0)


def test_latency_statistic_picks_the_median_or_the_minimum_of_the_repeats(monkeypatch) -> None:
    import evonas.nn.timing as timing

    calls: list[int] = []

    def fake_make_timer(device):
        def timed(step) -> float:
            step()  # the forward pass still runs, only its duration is made up
            calls.append(1)
            return FAKE_TIMINGS[(len(calls) - 1) % len(FAKE_TIMINGS)]
        return timed

    monkeypatch.setattr(timing, "make_timer", fake_make_timer)
    score = get_score("latency")
    values = {}
    for statistic in ("median", "min"):
        calls.clear()
        settings = make_settings("latency", {"warmup": 2, "repeats": len(FAKE_TIMINGS), "statistic": statistic})
        values[statistic] = score(_ctx(ALL_CONV3), settings)
        assert len(calls) == len(FAKE_TIMINGS)  # warm-up passes are not timed
    assert values == {"median": 5.0, "min": 1.0}
    assert score(_ctx(ALL_CONV3), make_settings("latency", {"warmup": 0, "repeats": 5})) == 5.0  # the default


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


def _check_shipped_table_against(rows: list[dict[str, str]]) -> None:
    """Every ``<device>_ms`` column of the source rows equals the shipped table's column at the row's index."""
    from evonas.space.latency_table import latency_columns

    columns = latency_columns()
    names = [k[:-3] for k in rows[0] if k.endswith("_ms")]
    assert sorted(names) == sorted(columns)
    source = np.array([[float(r[f"{n}_ms"]) for n in names] for r in rows])
    shipped = np.stack([columns[n][[int(r["index"]) for r in rows]] for n in names], axis=1)
    np.testing.assert_allclose(shipped, source, rtol=1e-6)


def test_latency_table_matches_the_source_extract() -> None:
    """Every 7th row of the source CSV, all 27 device columns (tests/data/README.md): runs without ../shared."""
    with gzip.open(LATENCY_EXTRACT, "rt", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["index"]) for r in rows] == list(range(0, 15_625, 7))
    _check_shipped_table_against(rows)


@pytest.mark.skipif(not SHARED_LATENCY_CSV.exists(), reason="the source CSV lives in ../shared/data")
def test_latency_table_matches_the_whole_source_csv() -> None:
    with open(SHARED_LATENCY_CSV, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 15_625
    _check_shipped_table_against(rows)


def test_latency_table_unknown_device_lists_choices() -> None:
    with pytest.raises(ConfigError) as err:
        make_settings("latency_table", {"device": "1080t_bs1"})
    text = str(err.value)
    assert "'1080t_bs1'" in text and "did you mean '1080ti_bs1'" in text
    assert "gold_6226" in text and "raspi4" in text and "titan_rtx_bs256" in text

"""gradient_kernel_agg: percentiles against a fixed reference, directions, ties, range, mismatches."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from evonas.datasets import dataset_spec
from evonas.builders.reference import build, sample_cells
from evonas.nn.images import load_images
from evonas.errors import ConfigError
from evonas.scores import SCORES, ScoreContext, make_settings
from evonas.scores.aggregate import aggregate_of, percentile
from evonas.scores.reference import Reference, load_reference, reference_path
from evonas.space.cell import Cell

REF = np.array([1.0, 2.0, 2.0, 5.0])  # m = 4: percentiles are (below + 1 + equal / 2) / 5


def test_percentile_mid_ranks_ties_and_clamps_the_range() -> None:
    assert percentile(3.0, REF) == pytest.approx((3 + 1) / 5)
    assert percentile(2.0, REF) == pytest.approx((1 + 1 + 1) / 5)  # two ties: half of them below
    assert percentile(9.0, REF) == pytest.approx(1.0)  # beyond the largest: 1, log 0
    assert percentile(-9.0, REF) == pytest.approx(1 / 5)  # below the smallest: finite log
    assert percentile(float("nan"), REF) == pytest.approx(1 / 5)


def test_round_off_does_not_move_a_rank() -> None:
    # the same cell computed with another thread count or on another device differs in the last bits
    for value in (np.nextafter(2.0, 3.0), np.nextafter(2.0, 1.0), 2.0 * (1 + 1e-9)):
        assert percentile(float(value), REF) == percentile(2.0, REF)
    assert percentile(2.0 * (1 + 1e-4), REF) == pytest.approx(4 / 5)  # a real difference is ranked


def reference(**values: list[float]) -> Reference:
    return Reference("mem", "cifar10", 16, 5, ("a",) * 4, {k: np.array(v) for k, v in values.items()},
                     {k: {} for k in values})


def test_aggregate_sums_log_percentiles_and_negates_min_members() -> None:
    ref = reference(synflow=[1.0, 2.0, 2.0, 5.0], flops=[10.0, 20.0, 30.0, 40.0])
    values = {"synflow": 3.0, "flops": 25.0}
    # flops is a min score: -25 among -(10, 20, 30, 40) has 2 below (-40, -30)
    assert aggregate_of(values, ("synflow", "flops"), ref) == pytest.approx(math.log(4 / 5) + math.log(3 / 5))
    # flops:max ranks larger FLOPs higher: 25 has 2 below (10, 20)
    assert aggregate_of(values, ("synflow", "flops:max"), ref) == pytest.approx(math.log(4 / 5) + math.log(3 / 5))
    assert aggregate_of({"synflow": 0.0, "flops": 5.0}, ("synflow", "flops:max"), ref) == \
        pytest.approx(2 * math.log(1 / 5))
    assert aggregate_of({"synflow": 0.0, "flops": 5.0}, ("synflow", "flops"), ref) == \
        pytest.approx(math.log(1 / 5) + math.log(1.0))


def test_settings_reject_bad_members() -> None:
    with pytest.raises(ConfigError, match="unknown score"):
        make_settings("gradient_kernel_agg", {"members": ["synflo"]})
    with pytest.raises(ConfigError, match="suffix"):
        make_settings("gradient_kernel_agg", {"members": ["synflow:up"]})
    with pytest.raises(ConfigError, match="itself"):
        make_settings("gradient_kernel_agg", {"members": ["gradient_kernel_agg"]})
    with pytest.raises(ConfigError, match="twice"):
        make_settings("gradient_kernel_agg", {"members": ["flops", "flops:max"]})
    with pytest.raises(ConfigError, match="reference.*nowhere.npz"):
        make_settings("gradient_kernel_agg", {"reference": "/nowhere.npz"})


def test_reference_sample_is_seeded_and_connected() -> None:
    first = sample_cells(5, 7)
    assert first == sample_cells(5, 7) and first != sample_cells(5, 8)
    assert all(Cell.parse(a).is_connected for a in first)


@pytest.fixture(scope="module")
def tiny_reference(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("ref") / "ref.npz"
    return str(build("cifar10", 6, 3, ("synflow", "naswot", "flops"), 1, out, C=8, N=1))


@pytest.fixture(scope="module")
def images():
    return load_images("cifar10", n=64)


def context(cell: Cell, images, C: int = 8, N: int = 1, dataset: str = "cifar10") -> ScoreContext:
    return ScoreContext(cell, torch.device("cpu"), dataset_spec(dataset), images, seed=0, C=C, N=N)


def test_score_ranks_member_values_against_the_stored_reference(tiny_reference, images) -> None:
    ref = load_reference(tiny_reference)
    assert ref.C == 8 and ref.N == 1 and len(ref.arches) == 6
    settings = make_settings("gradient_kernel_agg", {"members": ["synflow", "naswot", "flops:max"],
                                                "reference": tiny_reference})
    cell = Cell.parse(ref.arches[2])
    ctx = context(cell, images)
    value = SCORES["gradient_kernel_agg"](ctx, settings)
    by_hand = sum(math.log(percentile(SCORES[n](ctx, make_settings(n)), ref.values[n])) for n in ("synflow", "naswot")) \
        + math.log(percentile(SCORES["flops"](ctx), ref.values["flops"]))
    assert value == pytest.approx(by_hand)
    assert value == SCORES["gradient_kernel_agg"](ctx, settings)  # fixed reference: no drift between calls


def test_mismatches_are_named(tiny_reference, images) -> None:
    cell = Cell.parse(load_reference(tiny_reference).arches[0])
    settings = make_settings("gradient_kernel_agg", {"members": ["synflow"], "reference": tiny_reference})
    with pytest.warns(UserWarning, match=r"C=8, N=1.*C=4, N=1"):
        SCORES["gradient_kernel_agg"](context(cell, images, C=4), settings)
    with pytest.raises(ConfigError, match="cifar10.*cifar100"):
        SCORES["gradient_kernel_agg"](context(cell, images, dataset="cifar100"), settings)
    missing = make_settings("gradient_kernel_agg", {"members": ["jacob_cov"], "reference": tiny_reference})
    with pytest.raises(ConfigError, match=r"jacob_cov.*\['flops', 'naswot', 'synflow'\]"):
        SCORES["gradient_kernel_agg"](context(cell, images), missing)


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100"])
def test_packaged_reference_matches_the_packaged_defaults(dataset: str) -> None:
    ref = load_reference(str(reference_path(dataset)))
    assert (ref.dataset, ref.C, ref.N) == (dataset, 16, 5) and len(ref.arches) >= 200
    for name in make_settings("gradient_kernel_agg").members:
        name = name.partition(":")[0]
        assert np.isfinite(ref.values[name]).all()
        assert ref.settings_of(name) == make_settings(name), f"{name}: rebuild the reference"

"""az_nas and vkdnw_agg: their members, the sum of log percentiles against a stored reference, extending one."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from evonas.builders.reference import MEMBERS, build, extend
from evonas.errors import ConfigError, EvonasError
from evonas.nn.images import load_images
from evonas.scores import SCORES, ScoreContext, make_settings
from evonas.scores.aggregate import percentile
from evonas.scores.reference import AZ_NAS_MEMBERS, VKDNW_AGG_MEMBERS, load_reference, parse_member, reference_path
from evonas.space.cell import Cell
from evonas.datasets import dataset_spec


def test_default_members_are_the_papers() -> None:
    assert make_settings("az_nas").members == ("az_expressivity", "az_progressivity", "az_trainability", "flops:max")
    assert make_settings("vkdnw_agg").members == ("vkdnw_entropy", "az_expressivity", "az_trainability",
                                                  "flops:max", "jacob_cov")
    assert make_settings("az_nas_gk").members == ("gradient_kernel",) + AZ_NAS_MEMBERS
    assert {parse_member(m)[0] for m in AZ_NAS_MEMBERS + VKDNW_AGG_MEMBERS} <= set(MEMBERS)
    for outer in ("az_nas", "vkdnw_agg", "gradient_kernel_agg", "az_nas_gk"):
        for inner in ("az_nas", "vkdnw_agg", "gradient_kernel_agg", "az_nas_gk"):
            with pytest.raises(ConfigError, match="aggregate"):
                make_settings(outer, {"members": ["flops", inner]})


@pytest.fixture(scope="module")
def small_reference(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("ref") / "ref.npz"
    build("cifar10", 5, 3, ("az_expressivity", "az_progressivity", "az_trainability", "flops"), 1, out, C=8, N=1)
    return str(extend(out, ("vkdnw_entropy", "jacob_cov"), 1))


def test_extend_adds_members_and_keeps_the_cells_and_values(small_reference, tmp_path) -> None:
    ref = load_reference(small_reference)
    assert set(ref.values) == {"az_expressivity", "az_progressivity", "az_trainability", "flops", "vkdnw_entropy",
                               "jacob_cov"}
    assert len(ref.arches) == 5 and all(np.isfinite(v).all() for v in ref.values.values())
    assert ref.settings_of("vkdnw_entropy") == make_settings("vkdnw_entropy")
    with pytest.raises(EvonasError, match="already holds"):
        extend(small_reference, ("flops",), 1, tmp_path / "x.npz")
    # rescoring a held member: its values replaced by today's, every other member kept; one it lacks is refused
    changed = dict(np.load(small_reference))
    changed["values_az_trainability"] = changed["values_az_trainability"] + 1.0
    np.savez(tmp_path / "old.npz", **changed)
    again = load_reference(str(extend(tmp_path / "old.npz", ("az_trainability",), 1, tmp_path / "new.npz",
                                      rescore=True)))
    assert np.array_equal(again.values["az_trainability"], ref.values["az_trainability"])
    assert all(np.array_equal(again.values[m], ref.values[m]) for m in ref.values) and again.arches == ref.arches
    with pytest.raises(EvonasError, match="does not hold"):
        extend(small_reference, ("naswot",), 1, tmp_path / "y.npz", rescore=True)


@pytest.mark.parametrize("score", ["az_nas", "vkdnw_agg"])
def test_registered_aggregate_is_the_sum_of_log_percentiles(small_reference, score: str) -> None:
    ref = load_reference(small_reference)
    images = load_images("cifar10", n=64)
    ctx = ScoreContext(Cell.parse(ref.arches[1]), torch.device("cpu"), dataset_spec("cifar10"), images, seed=0, C=8,
                       N=1)
    settings = make_settings(score, {"reference": small_reference})
    by_hand = 0.0
    for member in settings.members:
        name, sign = parse_member(member)
        value = SCORES[name](ctx, ref.settings_of(name))
        assert value == pytest.approx(ref.values[name][1], rel=1e-9)  # the reference cell scores as it did
        by_hand += math.log(percentile(sign * value, sign * ref.values[name]))
    assert SCORES[score](ctx, settings) == pytest.approx(by_hand)


@pytest.mark.parametrize("dataset, score, half", [("cifar10", "az_nas", False), ("cifar10", "vkdnw_agg", False),
                                                  ("cifar10", "az_nas_gk", False), ("cifar10", "az_nas_gk", True),
                                                  ("cifar100", "az_nas", False), ("cifar100", "az_nas_gk", True),
                                                  ("imagenet16-120", "az_nas", False)])
def test_packaged_reference_holds_the_members_at_their_defaults(dataset: str, score: str, half: bool) -> None:
    """Each aggregate's packaged reference holds its members at their settings: the defaults (the shared reference),
    or az_nas_gk's half_images settings (its own reference: half the images of the defaults)."""
    settings = make_settings(score, {"half_images": True} if half else None)
    path = settings.packaged_reference(dataset)
    assert (path == reference_path(dataset, "az_nas_gk")) == half
    ref = load_reference(str(path))
    assert (ref.dataset, ref.C, ref.N) == (dataset, 16, 5)
    for member in settings.members:
        name = parse_member(member)[0]
        assert np.isfinite(ref.values[name]).all()
        expected = make_settings(name, settings.member_settings.get(name))
        assert ref.settings_of(name) == expected, f"{name}: rebuild the reference"
    if score == "az_nas_gk":
        gk, train = ref.settings_of("gradient_kernel").n_examples, ref.settings_of("az_trainability").batch_size
        assert (gk, train) == ((16, 32) if half else (32, 64))


def test_half_images_against_a_reference_at_the_full_settings_is_one_config_error() -> None:
    """half_images with a reference whose members ran at the defaults would silently score at the defaults."""
    with pytest.raises(ConfigError, match=r"scores\.az_nas_gk: reference: .*rank_reference_cifar10\.npz holds "
                                          r"az_expressivity at other settings .*drop the option or the reference"):
        make_settings("az_nas_gk", {"half_images": True, "reference": str(reference_path("cifar10"))})
    own = str(reference_path("cifar10", "az_nas_gk"))
    assert make_settings("az_nas_gk", {"half_images": True, "reference": own}).member_settings["gradient_kernel"] == {
        "n_examples": 16}


def test_imagenet16_reference_is_data_free_and_rescores_its_cell() -> None:
    """az_nas on ImageNet16-120 needs no images (no sample ships): a reference cell scores as it did."""
    ref = load_reference(str(reference_path("imagenet16-120")))
    with np.load(reference_path("imagenet16-120")) as f:
        assert json.loads(str(f["meta"]))["images"].startswith("none")
    ctx = ScoreContext(Cell.parse(ref.arches[0]), torch.device("cpu"), dataset_spec("imagenet16-120"), None, seed=0,
                       C=16, N=5)
    for name in ("az_expressivity", "az_trainability"):
        assert SCORES[name](ctx, ref.settings_of(name)) == pytest.approx(ref.values[name][0], rel=1e-9)
    assert math.isfinite(SCORES["az_nas"](ctx, make_settings("az_nas")))

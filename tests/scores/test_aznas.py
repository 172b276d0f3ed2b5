"""AZ-NAS terms: the entropy and trainability statistics by hand, the identity block, determinism."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from evonas.scores import SCORES, ScoreContext, make_settings
from evonas.scores.aznas import IDENTITY_BLOCK, _LAST, az_terms, block_trainability, feature_entropy
from evonas.space.cell import Cell
from evonas.datasets import dataset_spec

HADAMARD = torch.tensor([[1.0, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]])


def as_map(rows: torch.Tensor) -> torch.Tensor:
    """A (1, channels, 2, 2) map whose 4 positions hold the rows of ``rows`` (positions x channels)."""
    return rows.T.reshape(1, rows.shape[1], 2, 2)


def test_isotropic_map_has_the_largest_entropy() -> None:
    # 3 centred, orthogonal channels of equal variance: covariance I, entropy log 3
    assert feature_entropy(as_map(HADAMARD[:, 1:])) == pytest.approx(math.log(3), abs=1e-6)
    # variances 1 and 3, no covariance: eigenvalues normalised to (1/4, 3/4)
    feat = as_map(torch.stack([HADAMARD[:, 1], math.sqrt(3) * HADAMARD[:, 2]], dim=1))
    assert feature_entropy(feat) == pytest.approx(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)), abs=1e-6)
    # one direction holds all the variance
    assert feature_entropy(as_map(torch.stack([HADAMARD[:, 1], 2 * HADAMARD[:, 1]], dim=1))) == \
        pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("gain", [0.5, 0.999, 3.0])
def test_block_trainability_of_a_scaled_gradient(gain: float) -> None:
    g_out = as_map(HADAMARD)  # 4 positions x 4 channels with G^T G / 4 = I
    expected = 2 - gain - 1 / (gain + 1e-6)
    assert block_trainability(gain * g_out, g_out) == pytest.approx(expected, abs=1e-6)
    # a reduction: the input is twice the resolution, folded space-to-depth onto the output's
    assert block_trainability(F.pixel_shuffle(gain * g_out, 2), g_out) == pytest.approx(expected, abs=1e-6)


def test_a_block_that_returns_its_gradient_is_the_lowest() -> None:
    g = as_map(HADAMARD)
    assert block_trainability(g.clone(), g) == IDENTITY_BLOCK


def context(arch: str, C: int = 4, N: int = 1, seed: int = 0) -> ScoreContext:
    return ScoreContext(Cell.parse(arch), torch.device("cpu"), dataset_spec("cifar10"), None, seed=seed, C=C, N=N)


ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|"
IDENTITY = "|skip_connect~0|+|none~0|nor_conv_1x1~1|+|none~0|skip_connect~1|none~2|"  # the output is the input


def test_terms_are_deterministic_and_cover_every_block() -> None:
    s = make_settings("az_expressivity", {"batch_size": 8})
    first = az_terms(context(ARCH), s)
    _LAST.clear()
    again = az_terms(context(ARCH), s)
    assert first == again
    assert len(first.entropies) == 3 * 1 + 3 and len(first.blocks) == 3 * 1 + 2
    assert first.expressivity == pytest.approx(sum(first.entropies))
    assert first.progressivity == pytest.approx(min(b - a for a, b in zip(first.entropies, first.entropies[1:])))
    assert all(b <= 1e-9 for b in first.blocks)  # 2 - s - 1/s is at most 0
    other = az_terms(context(ARCH, seed=1), s)
    assert other.expressivity != first.expressivity
    for name, value in [("az_expressivity", first.expressivity), ("az_progressivity", first.progressivity),
                        ("az_trainability", first.trainability)]:
        assert SCORES[name](context(ARCH), s) == value


def test_identity_cells_rank_last_on_trainability() -> None:
    s = make_settings("az_trainability", {"batch_size": 8})
    terms = az_terms(context(IDENTITY), s)
    assert sum(b == IDENTITY_BLOCK for b in terms.blocks) == 3  # the three cells; the reductions are measured
    assert math.isfinite(terms.trainability)
    assert terms.trainability < az_terms(context(ARCH), s).trainability

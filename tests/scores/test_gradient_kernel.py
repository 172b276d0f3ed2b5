"""The gradient kernel's spectral and alignment statistics, on kernels small enough to check by hand."""
from __future__ import annotations

import math

import pytest
import torch

from evonas.datasets import dataset_spec
from evonas.nn.images import load_images
from evonas.errors import ConfigError
from evonas.scores import SCORES, ScoreContext, make_settings
from evonas.scores.gradient_kernel import (TensorGrams, centred_alignment, class_balanced, cosine, decile_entropy,
                                           effective_rank, inverse_condition, kernel_statistic, log_determinant,
                                           spectral_entropy)
from evonas.scores.settings import GradientKernelSettings as S
from evonas.space.cell import Cell

D = torch.float64
ALL_SKIP = Cell.parse("|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|")
ALL_CONV = Cell.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")


def test_log_determinant_of_a_known_3x3_kernel() -> None:
    k = torch.tensor([[2.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, 3.0]], dtype=D)
    assert float(log_determinant(k)) == pytest.approx(math.log(9.0))  # (2*2 - 1) * 3
    assert float(log_determinant(torch.ones(3, 3, dtype=D))) == float("-inf")  # rank 1


def test_cosine_kernel_has_unit_diagonal_and_cosines() -> None:
    g = torch.tensor([[3.0, 4.0], [1.0, 0.0]], dtype=D)
    c = cosine(g @ g.T)
    assert c.flatten().tolist() == pytest.approx([1.0, 0.6, 0.6, 1.0])


def test_entropy_and_effective_rank_of_known_spectra() -> None:
    assert float(spectral_entropy(torch.diag(torch.tensor([1.0, 1.0, 2.0], dtype=D)))) == \
        pytest.approx(1.5 * math.log(2.0))  # p = 1/4, 1/4, 1/2
    q, _ = torch.linalg.qr(torch.randn(5, 5, dtype=D, generator=torch.Generator().manual_seed(0)))
    rank2 = 3.0 * (q[:, :1] @ q[:, :1].T + q[:, 1:2] @ q[:, 1:2].T)  # two equal eigenvalues, three zeros
    assert float(effective_rank(rank2)) == pytest.approx(2.0)
    assert float(effective_rank(torch.eye(4, dtype=D))) == pytest.approx(4.0)


def test_decile_entropy_of_a_known_spectrum() -> None:
    k = torch.diag(torch.arange(11, dtype=D))  # eigenvalues 0..10: deciles 1..9
    p = torch.arange(1, 10, dtype=D) / 45
    assert float(decile_entropy(k)) == pytest.approx(float(-(p * p.log()).sum()))
    assert float(decile_entropy(torch.eye(6, dtype=D))) == pytest.approx(math.log(9.0))


def test_inverse_condition_is_smallest_over_largest_eigenvalue() -> None:
    assert float(inverse_condition(torch.diag(torch.tensor([4.0, 1.0, 2.0], dtype=D)))) == pytest.approx(0.25)


def test_centred_alignment_by_hand() -> None:
    labels = torch.tensor([0, 0, 1, 1])
    target = (labels[:, None] == labels[None, :]).to(D)
    assert float(centred_alignment(target, labels)) == pytest.approx(1.0)
    # H I H = H (norm sqrt 3); H L H = L - 1/2 (entries +-1/2, norm 2); <H, HLH> = trace(HLH) = 2
    assert float(centred_alignment(torch.eye(4, dtype=D), labels)) == pytest.approx(1 / math.sqrt(3))


def test_per_layer_log_sum_and_summed_kernel() -> None:
    a = torch.diag(torch.tensor([2.0, 2.0], dtype=D))
    b = torch.tensor([[4.0, 2.0], [2.0, 4.0]], dtype=D)
    tg = TensorGrams(torch.stack([a, b]), torch.tensor([3.0, 5.0], dtype=D), torch.tensor([True, True]))
    assert kernel_statistic(tg, S(statistic="diag", layers="log_sum")) == pytest.approx(math.log(2) + math.log(4))
    assert kernel_statistic(tg, S(statistic="diag", layers="sum")) == pytest.approx(6.0)  # diagonal mean of a + b
    assert kernel_statistic(tg, S(statistic="logdet", layers="log_sum")) == pytest.approx(math.log(4) + math.log(12))
    assert kernel_statistic(tg, S(statistic="logdet", normalise="norm", layers="sum")) == \
        pytest.approx(math.log(1 - (2 / 6) ** 2))  # cosine of a + b: off-diagonal 2/6
    assert kernel_statistic(tg, S(statistic="inverse_condition", layers="log_sum")) == \
        pytest.approx(math.log(1.0) + math.log(2 / 6))


def test_alignment_needs_labels_and_per_example_gradients() -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        make_settings("gradient_kernel", {"statistic": "alignment", "n_examples": 8, "batch_size": 2})
    tg = TensorGrams(torch.eye(2, dtype=D)[None], torch.tensor([2.0], dtype=D), torch.tensor([True]))
    with pytest.raises(ValueError, match="labels"):
        kernel_statistic(tg, S(statistic="alignment", layers="sum"))


def test_class_balanced_takes_the_first_examples_of_the_first_classes() -> None:
    x = torch.arange(8.0)[:, None]
    y = torch.tensor([3, 3, 1, 3, 5, 1, 5, 1])
    xb, yb = class_balanced(x, y, 4, 2)  # classes 3 and 1, two each, in order of appearance
    assert xb.flatten().tolist() == [0.0, 1.0, 2.0, 5.0] and yb.tolist() == [3, 3, 1, 1]
    with pytest.raises(ConfigError, match="per_class"):
        class_balanced(x, y, 9, 3)  # class 5 has only two examples


@pytest.fixture(scope="module")
def images():
    return load_images("cifar10", n=128)


def context(cell: Cell, images, seed: int = 0) -> ScoreContext:
    return ScoreContext(cell, torch.device("cpu"), dataset_spec("cifar10"), images, seed=seed, C=8, N=1)


@pytest.mark.parametrize("statistic", ["logdet", "entropy", "decile_entropy", "effective_rank",
                                       "inverse_condition", "alignment"])
def test_every_statistic_on_a_network_is_finite_and_deterministic(statistic: str, images) -> None:
    s = make_settings("gradient_kernel", {"statistic": statistic, "normalise": "norm", "n_examples": 16, "layers": "sum"})
    ctx = context(ALL_CONV, images)
    first, second = SCORES["gradient_kernel"](ctx, s), SCORES["gradient_kernel"](ctx, s)
    assert math.isfinite(first) and first == second


def test_per_class_examples_are_read_from_a_larger_pool(images) -> None:
    s = make_settings("gradient_kernel", {"n_examples": 20, "per_class": 2})
    assert s.n_images == 80
    assert math.isfinite(SCORES["gradient_kernel"](context(ALL_CONV, images), s))


def test_default_ranks_convolutions_above_skips(images) -> None:
    s = make_settings("gradient_kernel")
    assert SCORES["gradient_kernel"](context(ALL_CONV, images), s) > SCORES["gradient_kernel"](context(ALL_SKIP, images), s)


def test_default_is_the_per_layer_decile_entropy() -> None:
    a = torch.diag(torch.arange(11, dtype=D))  # decile entropy of 1..9
    b = torch.eye(11, dtype=D)                 # log 9
    tg = TensorGrams(torch.stack([a, b]), torch.tensor([3.0, 5.0], dtype=D), torch.tensor([True, False]))
    p = torch.arange(1, 10, dtype=D) / 45
    assert kernel_statistic(tg, S()) == pytest.approx(float(-(p * p.log()).sum()) + math.log(9.0))

"""VKDNW: the covariance factor, the Fisher information, the decile entropy by hand, the Jacobians, the ranker."""
from __future__ import annotations

import math

import pytest
import torch
from torch.func import functional_call, jacrev

from evonas.scores import SCORES, ScoreContext, make_settings
from evonas.scores.aznas import gaussian_batch
from evonas.scores.vkdnw import (_LAST, ENTROPY_SCALE, categorical_factor, decile_entropy, fisher_information,
                                 logit_jacobians)
from evonas.space.cell import Cell
from evonas.datasets import dataset_spec


def test_factor_is_lower_triangular_and_reproduces_the_covariance() -> None:
    logits = torch.randn(5, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    L = categorical_factor(logits, 0.05)
    p = torch.softmax(logits, 1) * 0.95 + 0.05 / 7
    assert torch.allclose(L @ L.transpose(1, 2), torch.diag_embed(p) - p[:, :, None] * p[:, None, :], atol=1e-12)
    assert torch.equal(torch.triu(L, diagonal=1), torch.zeros_like(L))
    assert torch.equal(L[:, :, -1], torch.zeros(5, 7, dtype=torch.float64))  # rank K - 1


def test_fisher_code_and_exact_forms() -> None:
    g = torch.Generator().manual_seed(1)
    jac = torch.randn(3, 4, 6, generator=g, dtype=torch.float64)
    L = categorical_factor(torch.randn(3, 4, generator=g, dtype=torch.float64), 0.05)
    code = sum(j.T @ l.T @ l @ j for j, l in zip(jac, L)) / 3
    exact = sum(j.T @ l @ l.T @ j for j, l in zip(jac, L)) / 3
    assert torch.allclose(fisher_information(jac, L, "code"), code)
    assert torch.allclose(fisher_information(jac, L, "exact"), exact)


def test_decile_entropy_by_hand() -> None:
    assert decile_entropy(torch.eye(20)) == pytest.approx(math.log(9))  # isotropic: the largest
    # eigenvalues 1..10: the k-th decile is 1 + 0.9 k (linear interpolation), summing to 49.5
    t = [(1 + 0.9 * k) / 49.5 for k in range(1, 10)]
    assert decile_entropy(torch.diag(torch.arange(1.0, 11.0))) == pytest.approx(-sum(x * math.log(x) for x in t))
    assert decile_entropy(torch.diag(torch.tensor([0.0] * 9 + [5.0]))) == pytest.approx(0.0, abs=1e-6)


def context(arch: str, seed: int = 0) -> ScoreContext:
    return ScoreContext(Cell.parse(arch), torch.device("cpu"), dataset_spec("cifar10"), None, seed=seed, C=4, N=1)


ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|"
NO_CONV = "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|none~1|skip_connect~2|"


def test_jacobians_match_autograd_per_image() -> None:
    ctx = context(ARCH)
    net = ctx.network(0, init="fan_in").eval()
    x = gaussian_batch(ctx, 3, 0)
    names = [n for n, _ in net.named_parameters()][:20]
    logits, jac = logit_jacobians(ctx.network(0, init="fan_in"), x, 20)
    params = dict(net.named_parameters())
    for i in range(3):
        def f(entries: dict[str, torch.Tensor]) -> torch.Tensor:
            values = {k: v.detach() for k, v in params.items()}
            for k, e in entries.items():
                values[k] = torch.cat([e.reshape(1), values[k].flatten()[1:]]).reshape(values[k].shape)
            return functional_call(net, values, (x[i:i + 1],))[0]
        full = jacrev(f)({k: params[k].detach().flatten()[0] for k in names})
        expected = torch.stack([full[k] for k in names], dim=1)
        assert torch.allclose(jac[i], expected, atol=1e-5, rtol=1e-4)
    assert logits.shape == (3, 10)


def test_layer_count_and_lexicographic_ranker() -> None:
    # TinyNetwork(C, N=1): stem 3 + 2 reductions x 7 + head 4 = 21 tensors, plus 3 per convolution in each of 3 cells
    assert SCORES["trainable_layers"](context(NO_CONV)) == 21
    assert SCORES["trainable_layers"](context(ARCH)) == 21 + 3 * 3 * 3
    s = make_settings("vkdnw", {"batch_size": 4})
    h = SCORES["vkdnw_entropy"](context(ARCH), s)
    assert 0 < h <= math.log(9) < ENTROPY_SCALE
    assert SCORES["vkdnw"](context(ARCH), s) == pytest.approx(48 + h / ENTROPY_SCALE)
    assert SCORES["vkdnw"](context(NO_CONV), s) < 22 < SCORES["vkdnw"](context(ARCH), s)


def test_entropy_is_deterministic_under_a_seed() -> None:
    s = make_settings("vkdnw_entropy", {"batch_size": 4})
    first = SCORES["vkdnw_entropy"](context(ARCH), s)
    _LAST.clear()
    assert SCORES["vkdnw_entropy"](context(ARCH), s) == first
    assert SCORES["vkdnw_entropy"](context(ARCH, seed=1), s) != first
    exact = SCORES["vkdnw_entropy"](context(ARCH), make_settings("vkdnw_entropy", {"batch_size": 4, "fisher": "exact"}))
    assert exact != first and 0 < exact <= math.log(9)

"""Every registered score: declared direction, determinism, finiteness; hand-checkable cases."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from evonas.datasets import dataset_spec
from evonas.nn.images import ImageSet, load_images
from evonas.errors import ConfigError
from evonas.scores import SCORES, ScoreContext, get_score, make_settings
from evonas.scores.tenas import condition_number, count_patterns, random_crops
from evonas.scores.zero_cost import code_kernel, grasp_of, jacob_cov_from_jacobians, synflow_of
from evonas.space.cell import Cell

CONNECTED = Cell.parse("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|")
ALL_SKIP = Cell.parse("|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|")
ALL_CONV = Cell.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")

#: cheaper settings for scores whose defaults take seconds even on a tiny network
FAST_SETTINGS: dict[str, dict] = {
    "ntk_cond": {"batch_size": 16, "repeats": 1},
    "linear_regions": {"batch_size": 200, "n_batches": 1, "repeats": 1},
}
#: scores that time the network: finite, but not reproducible by nature
MEASURED = {"latency"}


@pytest.fixture(scope="module")
def images():
    return load_images("cifar10", n=256)


def tiny_context(cell: Cell, images, seed: int = 0) -> ScoreContext:
    return ScoreContext(cell, torch.device("cpu"), dataset_spec("cifar10"), images, seed=seed, C=8, N=1)


@pytest.mark.parametrize("name", sorted(SCORES))
def test_score_conformance(name: str, images) -> None:
    info = get_score(name)
    assert info.direction in ("max", "min")
    assert info.reference and info.description
    settings = make_settings(name, FAST_SETTINGS.get(name))
    if "data" in info.needs:
        assert 0 < info.images_needed(settings) <= len(images)
    ctx = tiny_context(CONNECTED, images, seed=3)
    first, second = info(ctx, settings), info(ctx, settings)
    assert math.isfinite(first) and math.isfinite(second)
    if name not in MEASURED:
        assert first == second


#: ranks against a fixed reference: a step function of its members, constant for networks beyond the reference's range
RANKED = {"gradient_kernel_agg"}


@pytest.mark.parametrize("name", sorted(n for n, i in SCORES.items() if "data" in i.needs and n not in RANKED))
def test_score_seed_changes_value(name: str, images) -> None:
    settings = make_settings(name, FAST_SETTINGS.get(name))
    values = {SCORES[name](tiny_context(CONNECTED, images, seed=s), settings) for s in (0, 1)}
    assert len(values) == 2


def test_params_of_index_0() -> None:
    ctx = ScoreContext(Cell.parse(0), torch.device("cpu"), dataset_spec("cifar10"))
    assert SCORES["params"](ctx) == pytest.approx(0.129306, abs=5e-7)


def test_naswot_kernel_by_hand() -> None:
    codes = torch.tensor([[1, 0, 1], [0, 1, 1]], dtype=torch.bool)
    assert code_kernel(codes).tolist() == [[3.0, 1.0], [1.0, 3.0]]


class _Recording(nn.Module):
    """A ReLU that keeps the binary code (output > 0) of each call."""

    def __init__(self, relu: nn.ReLU, codes: list[torch.Tensor]) -> None:
        super().__init__()
        self.relu, self.codes = relu, codes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(x)
        self.codes.append((out > 0).flatten(1).double())
        return out


def _relu_codes_per_call(net: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """Every ReLU call's codes (batch, units), recorded by swapping each ReLU module for a wrapper (no hooks)."""
    codes: list[torch.Tensor] = []
    parents = [(parent, name, child) for parent in net.modules() for name, child in parent.named_children()
               if isinstance(child, nn.ReLU)]
    for parent, name, child in parents:
        setattr(parent, name, _Recording(child, codes))
    with torch.no_grad():
        net(x)
    return codes


def test_naswot_is_the_logdet_of_the_kernel_summed_over_relu_layers(images) -> None:
    settings = make_settings("naswot")
    ctx = tiny_context(CONNECTED, images, seed=2)
    net = ctx.network(settings.seed)
    net.train()  # as the score: train-mode batch norm
    x, _ = ctx.batch(settings.batch_size)
    codes = _relu_codes_per_call(net, x)
    # N=1: 3 cells with 3 convolutions (a ReLU each), 2 residual blocks with 2, the last activation
    assert len(codes) == 3 * 3 + 2 * 2 + 1
    n = settings.batch_size
    kernel = torch.zeros(n, n, dtype=torch.float64)
    for c in codes:  # images i, j agree on a unit when both are on or both are off
        kernel += c @ c.T + (1 - c) @ (1 - c).T
    assert torch.equal(kernel.diagonal(), torch.full((n,), float(sum(c.shape[1] for c in codes)), dtype=torch.float64))
    sign, logdet = torch.linalg.slogdet(kernel)
    assert float(sign) == 1.0
    assert SCORES["naswot"](ctx, settings) == pytest.approx(float(logdet), rel=1e-12, abs=1e-9)
    # no single layer's kernel (nor the last one alone) gives the score: the sum over layers matters
    for c in (codes[0], codes[-1]):
        alone = torch.linalg.slogdet(c @ c.T + (1 - c) @ (1 - c).T)
        assert float(alone.logabsdet) != pytest.approx(float(logdet), rel=1e-6)


def test_naswot_is_minus_inf_when_two_images_share_every_code(images) -> None:
    twins = ImageSet(images.images[[0, 0, 1]], images.labels[[0, 0, 1]], images.dataset, images.source)
    ctx = ScoreContext(CONNECTED, torch.device("cpu"), dataset_spec("cifar10"), twins, C=8, N=1)
    assert SCORES["naswot"](ctx, make_settings("naswot", {"batch_size": 3})) == float("-inf")


def test_synflow_is_layers_times_flow_for_a_linear_chain() -> None:
    net = nn.Sequential(nn.Linear(3, 2, bias=False), nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]]))
        net[1].weight.copy_(torch.tensor([[-2.0, 1.0]]))
    flow = 2.0 * (1 + 2 + 0.5) + 1.0 * (0 + 3 + 1)  # |W2| |W1| 1
    assert synflow_of(net, (3,)) == pytest.approx(2 * flow)


def test_synflow_ranks_convolutions_above_skips(images) -> None:
    settings = make_settings("synflow")
    assert SCORES["synflow"](tiny_context(ALL_CONV, images), settings) > \
        SCORES["synflow"](tiny_context(ALL_SKIP, images), settings)


def test_grasp_is_minus_weights_times_hessian_gradient() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4, bias=False), nn.Tanh(), nn.Linear(4, 2, bias=False)).double()
    x, y = torch.randn(5, 3, dtype=torch.float64), torch.tensor([0, 1, 1, 0, 1])
    weights = [net[0].weight, net[2].weight]
    flat = torch.cat([w.detach().reshape(-1) for w in weights])
    sizes = [w.numel() for w in weights]

    def loss(v: torch.Tensor) -> torch.Tensor:
        w0, w2 = v[:sizes[0]].reshape(4, 3), v[sizes[0]:].reshape(2, 4)
        return nn.functional.cross_entropy(torch.tanh(x @ w0.T) @ w2.T, y)

    g = torch.autograd.functional.jacobian(loss, flat)
    h = torch.autograd.functional.hessian(loss, flat)
    assert grasp_of(net, weights, x, y) == pytest.approx(float(-(flat * (h @ g)).sum()), rel=1e-10)


def test_jacob_cov_of_uncorrelated_jacobians() -> None:
    jac = torch.tensor([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0], [1.0, 1.0, -1.0, -1.0]])
    k = 1e-5
    assert jacob_cov_from_jacobians(jac) == pytest.approx(-3 * (math.log(1 + k) + 1 / (1 + k)))


def test_condition_number_by_hand() -> None:
    assert condition_number(torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])) == pytest.approx(4.0)


def test_count_patterns() -> None:
    codes = torch.tensor([[1, 0, 1], [1, 0, 1], [0, 0, 1], [1, 1, 1]], dtype=torch.bool)
    assert count_patterns(codes) == 3


def test_random_crops_are_image_patches() -> None:
    images = torch.arange(2 * 3 * 5 * 6, dtype=torch.float32).reshape(2, 3, 5, 6)
    crops = random_crops(images, 7, 3, torch.Generator().manual_seed(4))
    gen = torch.Generator().manual_seed(4)
    idx, top, left = (torch.randint(k, (7,), generator=gen) for k in (2, 3, 4))
    for c, i, t, l in zip(crops, idx, top, left):
        assert torch.equal(c, images[i, :, t:t + 3, l:l + 3])


def test_settings_are_validated() -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        make_settings("naswot", {"batch_size": 1})
    with pytest.raises(ConfigError, match="repeat"):
        make_settings("ntk_cond", {"repeat": 2})


def test_ntk_cond_is_a_condition_number_in_both_bn_modes(images) -> None:
    ctx = tiny_context(CONNECTED, images)
    for bn in ("batch", "frozen"):
        value = SCORES["ntk_cond"](ctx, make_settings("ntk_cond", {"batch_size": 8, "repeats": 1, "bn": bn}))
        assert math.isfinite(value) and value >= 1.0


def test_gradient_kernel_statistics_by_hand() -> None:
    from evonas.scores.gradient_kernel import TensorGrams, kernel_statistic
    from evonas.scores.settings import GradientKernelSettings as S

    g = torch.tensor([[1.0, 2.0], [3.0, 0.0]], dtype=torch.float64)  # two examples, one tensor of 2 entries
    tg = TensorGrams((g @ g.T)[None], torch.tensor([2.0], dtype=torch.float64), torch.tensor([True]))
    assert kernel_statistic(tg, S(layers="sum", statistic="mean")) == pytest.approx((5 + 3 + 3 + 9) / 4)
    assert kernel_statistic(tg, S(layers="sum", statistic="diag")) == pytest.approx(7.0)
    assert kernel_statistic(tg, S(layers="sum", statistic="offdiag", normalise="norm")) == pytest.approx(3 / math.sqrt(45))
    assert kernel_statistic(tg, S(layers="sum", statistic="diag", normalise="params")) == pytest.approx(3.5)
    # centred: gradients minus their mean (-1, 1) and (1, -1): squared norms 2 and 2
    assert kernel_statistic(tg, S(layers="sum", statistic="diag", centre=True)) == pytest.approx(2.0)
    with pytest.raises(ConfigError):
        make_settings("gradient_kernel", {"centre": True, "statistic": "mean"})

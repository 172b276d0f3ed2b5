"""The NB201 network: parameter count, shapes, fvcore FLOPs against a hand count, eval mode restored."""
from __future__ import annotations

import pytest
import torch

from evonas.nn.flops import count_flops, count_parameters
from evonas.nn.network import build_network, evaluating, network_for
from evonas.space.cell import Cell
from evonas.datasets import dataset_spec


def test_index0_has_the_reference_parameter_count():
    assert count_parameters(build_network(Cell.from_index(0), C=16, N=5, num_classes=10)) == 129_306


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100", "imagenet16-120"])
def test_logits_shape(dataset):
    spec = dataset_spec(dataset)
    net = build_network(Cell.from_index(1), C=8, N=1, num_classes=spec.num_classes)
    out = net(torch.randn(2, 3, spec.resolution, spec.resolution))
    assert out.shape == (2, spec.num_classes)


def test_same_seed_same_weights_and_no_global_rng_side_effect():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = build_network(Cell.from_index(5), C=8, N=1, seed=7)
    after = torch.rand(1)
    b = build_network(Cell.from_index(5), C=8, N=1, seed=7)
    assert torch.equal(before, after)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def _hand_flops_without_cell_convs(C: int, N: int, res: int, classes: int) -> int:
    """fvcore's count of everything outside the cells: convs and the linear layer in multiply-adds,
    eval-mode affine batch norm 2 per element, adaptive average pooling 1 per input element,
    plain average pooling (a handle fvcore does not have) 0."""
    total = 3 * C * 9 * res * res + 2 * C * res * res           # stem conv + BN
    c, r = C, res
    for _ in range(2):                                            # two residual reductions
        r2 = r // 2
        total += c * 2 * c * 9 * r2 * r2 + 2 * 2 * c * r2 * r2   # conv_a + BN
        total += 2 * c * 2 * c * 9 * r2 * r2 + 2 * 2 * c * r2 * r2   # conv_b + BN
        total += c * 2 * c * r2 * r2                              # downsample 1x1 conv
        c, r = 2 * c, r2
    total += 2 * c * r * r                                        # last BN
    total += c * r * r                                            # global average pool
    total += c * classes                                          # classifier
    return total


def test_fvcore_flops_of_a_conv_free_cell_match_a_hand_count():
    # all-skip cell: the cells add no FLOPs that fvcore counts (identity and additions)
    cell = Cell((1, 1, 1, 1, 1, 1))
    for C, N, res, classes in [(16, 5, 32, 10), (8, 1, 16, 120)]:
        net = build_network(cell, C=C, N=N, num_classes=classes)
        assert count_flops(net, res) == _hand_flops_without_cell_convs(C, N, res, classes)


def test_fvcore_flops_of_index0_and_the_cost_of_one_conv():
    flops0 = count_flops(build_network(Cell.from_index(0)), 32)
    assert flops0 == 16_315_008
    # swapping one 1x1 conv for a 3x3 conv adds 8 * C^2 * H * W per cell, summed over the stages
    a = Cell((1, 2, 1, 1, 1, 1))
    b = Cell((1, 3, 1, 1, 1, 1))
    diff = count_flops(build_network(b), 32) - count_flops(build_network(a), 32)
    per_stage = [8 * (16 * m) ** 2 * (32 // m) ** 2 for m in (1, 2, 4)]
    assert diff == 5 * sum(per_stage)


def test_evaluating_restores_the_mode_even_on_error():
    net = build_network(Cell.from_index(5), C=8, N=1).train()
    with evaluating(net) as inside:
        assert inside is net and not net.training and not any(m.training for m in net.modules())
    assert net.training and all(m.training for m in net.modules())
    with pytest.raises(RuntimeError, match="boom"), evaluating(net):
        raise RuntimeError("boom")
    assert net.training
    with evaluating(net.eval()):
        pass
    assert not net.training
    count_flops(net.train(), 32)  # every eval-mode measurement restores the mode the same way
    assert net.training


def test_network_for_takes_the_class_count_of_the_data_set():
    net = network_for(Cell.from_index(5), "imagenet16-120", C=8, N=1, seed=3)
    same = build_network(Cell.from_index(5), C=8, N=1, num_classes=120, seed=3)
    assert net.classifier.out_features == dataset_spec("imagenet16-120").num_classes == 120
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), same.parameters()))


@pytest.mark.parametrize("arch", [
    "|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+|skip_connect~0|none~1|avg_pool_3x3~2|",  # none edges skipped
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|none~0|none~1|skip_connect~2|",  # node 1 reaches the output via none only
    "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|",  # the output is zeros
])
def test_skipped_none_edges_keep_the_reference_output_and_every_gradient(arch):
    """The cell skips none edges, yet equals the reference sum over every edge, and a branch that only none
    edges follow still gets zero gradients (not None: KNAS and the per-sample hooks read them)."""
    from evonas.nn.network import Zero

    torch.manual_seed(0)
    net = build_network(Cell.parse(arch), C=4, N=1, num_classes=10)
    x = torch.randn(2, 3, 32, 32)
    cell = net.cells[0]
    h = net.stem(x)
    torch.testing.assert_close(cell(h), cell.forward_every_edge(h))
    assert all(cell.computed) == arch.endswith("none~2|")  # only a cell whose output is zeros computes every edge
    net(x).sum().backward()
    for layer in cell.layers:
        if not isinstance(layer, Zero):
            assert all(p.grad is not None for p in layer.parameters())

"""The NAS-Bench-201 network: TinyNetwork(C, N) with a searched cell, as xautodl builds it.

Stem conv3x3+BN; three stages of N cells, joined by ResNet basic blocks that halve the
resolution and double the channels; BN-ReLU-global-pool-linear head. Module and parameter
order follow the reference implementation, so scores that read "the first k parameter
tensors" (KNAS) see the same tensors.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator

import torch
from torch import nn

from evonas.space.cell import EDGES, OPS, Cell
from evonas.datasets import dataset_spec

__all__ = ["TinyNetwork", "InferCell", "build_network", "network_for", "evaluating"]


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv (no bias) -> BatchNorm: NB201's ``nor_conv_kxk``."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Zero(nn.Module):
    """NB201's ``none``: the edge contributes zeros."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


class AvgPool(nn.Module):
    """NB201's ``avg_pool_3x3`` (channels never change inside a cell)."""

    def __init__(self) -> None:
        super().__init__()
        self.op = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


_CELL_OPS: dict[str, Callable[[int], nn.Module]] = {
    "none": lambda c: Zero(),
    "skip_connect": lambda c: nn.Identity(),
    "nor_conv_1x1": lambda c: ReLUConvBN(c, c, 1, 1, 0),
    "nor_conv_3x3": lambda c: ReLUConvBN(c, c, 3, 1, 1),
    "avg_pool_3x3": lambda c: AvgPool(),
}
assert tuple(_CELL_OPS) == OPS


class InferCell(nn.Module):
    """A searched cell: node j is the sum over i<j of op_(j<-i)(node i); the output is node 3.

    A ``none`` edge adds exact zeros, so the forward skips it where that changes nothing but the cost: where
    the node it enters has another edge, and the node it leaves reaches the output through an edge that is not
    ``none``. The edges it keeps keep every node joined to the output as in the reference network (xautodl sums
    every edge), so each parameter still gets a gradient (zeros on a branch that only ``none`` edges follow), and
    the output equals the reference's to round-off in the order gradients accumulate.
    """

    def __init__(self, cell: Cell, channels: int) -> None:
        super().__init__()
        self.edges = EDGES
        self.layers = nn.ModuleList(_CELL_OPS[OPS[op]](channels) for op in cell.ops)
        self.computed = _computed_edges([OPS[op] for op in cell.ops])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for target in range(1, 4):
            node = None
            for layer, (t, s), computed in zip(self.layers, self.edges, self.computed):
                if t == target and computed:
                    y = layer(nodes[s])
                    node = y if node is None else node + y
            nodes.append(node)
        return nodes[-1]

    def forward_every_edge(self, x: torch.Tensor) -> torch.Tensor:
        """The reference network's forward (xautodl's ``InferCell``): every edge computed and summed, ``none``
        edges included; ``forward`` equals it to round-off (benchmarks/authors_speed.py hands it to the authors'
        code, the tests compare the two)."""
        nodes = [x]
        for target in range(1, 4):
            nodes.append(sum(layer(nodes[s]) for layer, (t, s) in zip(self.layers, self.edges) if t == target))
        return nodes[-1]


def _computed_edges(ops: list[str]) -> tuple[bool, ...]:
    """Per edge, whether ``InferCell.forward`` computes it (see there: which ``none`` edges it can skip)."""
    live = {3}  # the nodes joined to the output through edges that are not none
    for node in (2, 1, 0):
        if any(op != "none" and s == node and t in live for op, (t, s) in zip(ops, EDGES)):
            live.add(node)
    has_other = {t for op, (t, _) in zip(ops, EDGES) if op != "none"}
    return tuple(op != "none" or t not in has_other or s not in live for op, (t, s) in zip(ops, EDGES))


class ResNetBasicblock(nn.Module):
    """The reduction block between stages (stride 2, channels doubled)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, kernel_size=1, stride=1, padding=0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class TinyNetwork(nn.Module):
    """NB201's macro skeleton around one searched cell; ``forward`` returns the logits."""

    def __init__(self, cell: Cell, C: int = 16, N: int = 5, num_classes: int = 10) -> None:
        super().__init__()
        self.cell = cell
        self.stem = nn.Sequential(nn.Conv2d(3, C, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(C))
        channels = [C] * N + [2 * C] + [2 * C] * N + [4 * C] + [4 * C] * N
        reductions = [False] * N + [True] + [False] * N + [True] + [False] * N
        self.cells = nn.ModuleList()
        c_prev = C
        for c_curr, reduction in zip(channels, reductions):
            self.cells.append(ResNetBasicblock(c_prev, c_curr, 2) if reduction else InferCell(cell, c_curr))
            c_prev = c_curr
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled penultimate features (batch, 4C)."""
        x = self.stem(x)
        for block in self.cells:
            x = block(x)
        return self.global_pooling(self.lastact(x)).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def build_network(cell: Cell, *, C: int = 16, N: int = 5, num_classes: int = 10,
                  seed: int | None = None) -> TinyNetwork:
    """A freshly initialised TinyNetwork; with ``seed`` the initial weights are reproducible."""
    if seed is None:
        return TinyNetwork(cell, C, N, num_classes)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TinyNetwork(cell, C, N, num_classes)


def network_for(cell: Cell, dataset: str, *, C: int = 16, N: int = 5, seed: int | None = None) -> TinyNetwork:
    """``build_network`` with the class count of ``dataset``."""
    return build_network(cell, C=C, N=N, num_classes=dataset_spec(dataset).num_classes, seed=seed)


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode inside the block; restore its train/eval mode after."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)

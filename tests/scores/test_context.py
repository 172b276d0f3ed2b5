"""What a score is given: one network construction, seeded on the CPU, and the images it asks for."""
from __future__ import annotations

import pytest
import torch

from evonas.errors import ConfigError
from evonas.nn.network import build_network
from evonas.scores import ScoreContext
from evonas.scores._grad import kaiming_normal_init
from evonas.space.cell import Cell
from evonas.datasets import dataset_spec

CELL = Cell.from_index(857)


def _weights(net: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in net.state_dict().values()]


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(_weights(a), _weights(b)))


def test_network_is_the_seeded_build_and_leaves_the_global_generator_alone():
    ctx = ScoreContext(CELL, torch.device("cpu"), dataset_spec("cifar100"), seed=3, C=4, N=1)
    state = torch.random.get_rng_state()
    net = ctx.network()
    assert torch.equal(state, torch.random.get_rng_state())
    assert _same(net, build_network(CELL, C=4, N=1, num_classes=100, seed=3))
    assert _same(ctx.network(5), build_network(CELL, C=4, N=1, num_classes=100, seed=5))
    assert not _same(ctx.network(5), net)


def test_network_of_another_shape_with_te_nas_initialisation():
    ctx = ScoreContext(CELL, torch.device("cpu"), dataset_spec("cifar10"), seed=0, C=16, N=5)
    net = ctx.network(7, C=3, N=1, init="fan_out")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        expected = kaiming_normal_init(build_network(CELL, C=3, N=1, num_classes=10), mode="fan_out")
    assert _same(net, expected)
    assert not _same(net, build_network(CELL, C=3, N=1, num_classes=10, seed=7))


def test_batch_names_what_is_missing():
    ctx = ScoreContext(CELL, torch.device("cpu"), dataset_spec("cifar10"))
    with pytest.raises(ConfigError, match="without data"):
        ctx.batch(4)

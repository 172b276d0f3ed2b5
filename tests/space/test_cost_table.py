"""The shipped fvcore cost table agrees with fvcore run live on the real networks."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from evonas.nn.flops import count_flops, count_parameters
from evonas.datasets import DATASETS
from evonas.scores import SCORES, ScoreContext
from evonas.data import DATA_DIR
from evonas.nn.network import build_network
from evonas.space.table import load_table

pytestmark = pytest.mark.skipif(not (DATA_DIR / "nb201_cost.npz").exists(),
                                reason="nb201_cost.npz not built (python -m evonas.builders.cost)")


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_table_matches_live_fvcore_on_sampled_cells(dataset):
    table = load_table()
    spec = DATASETS[dataset]
    flops, params = table.column(f"flops_{dataset}"), table.column(f"params_{dataset}")
    assert flops.shape == params.shape == (15625,)
    for index in [0, 6111, *np.random.default_rng(1).choice(15625, size=3, replace=False).tolist()]:
        net = build_network(table.cell(index), num_classes=spec.num_classes)
        assert flops[index] == pytest.approx(count_flops(net, spec.resolution) / 1e6, rel=1e-6)
        assert params[index] == pytest.approx(count_parameters(net) / 1e6, rel=1e-6)


def test_index0_values():
    table = load_table()
    assert table.column("flops_cifar10")[0] == pytest.approx(16.315008, rel=1e-6)
    assert table.column("params_cifar10")[0] == pytest.approx(0.129306, rel=1e-6)


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_cost_scores_read_the_table_for_its_shape_and_count_live_otherwise(dataset):
    table, spec = load_table(), DATASETS[dataset]
    index = 9999
    cell = table.cell(index)
    on_table = ScoreContext(cell, torch.device("cpu"), spec)            # C=16, N=5: the table's shape
    assert SCORES["flops"](on_table) == float(table.column(f"flops_{dataset}")[index])
    assert SCORES["params"](on_table) == float(table.column(f"params_{dataset}")[index])
    live = build_network(cell, num_classes=spec.num_classes)
    assert SCORES["flops"](on_table) == pytest.approx(count_flops(live, spec.resolution) / 1e6, rel=1e-6)
    small = ScoreContext(cell, torch.device("cpu"), spec, C=8, N=1)      # not in the table: fvcore live
    net = build_network(cell, C=8, N=1, num_classes=spec.num_classes)
    assert SCORES["flops"](small) == count_flops(net, spec.resolution) / 1e6
    assert SCORES["params"](small) == count_parameters(net) / 1e6
    assert SCORES["flops"](small) < SCORES["flops"](on_table)

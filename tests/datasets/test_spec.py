"""The data set registry: every per-data-set fact in one place, and the table columns it names exist."""
from __future__ import annotations

import pytest

from evonas.errors import ConfigError
from evonas.datasets import DATASETS, dataset_spec
from evonas.space.table import load_table


def test_the_registry_holds_nb201_s_three_data_sets():
    assert list(DATASETS) == ["cifar10", "cifar100", "imagenet16-120"]
    assert [(s.resolution, s.num_classes) for s in DATASETS.values()] == [(32, 10), (32, 100), (16, 120)]
    assert [s.nats_name for s in DATASETS.values()] == ["cifar10", "cifar100", "ImageNet16-120"]
    assert dataset_spec("imagenet16-120").test_column == "imagenet16_test_200ep"
    assert dataset_spec("cifar100").valid_column == "cifar100_valid_12ep"


def test_normalisation_is_nb201_s():
    assert dataset_spec("cifar10").mean == (125.3 / 255, 123.0 / 255, 113.9 / 255)
    assert dataset_spec("imagenet16-120").std == (63.22 / 255, 61.26 / 255, 65.09 / 255)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_column_a_spec_names_is_in_the_shipped_table(name):
    table, spec = load_table(), dataset_spec(name)
    for column in (spec.test_column, spec.valid_column, spec.column("test_12ep"), f"flops_{name}", f"params_{name}"):
        assert column in table.columns


def test_unknown_data_set_names_the_known_ones():
    with pytest.raises(ConfigError, match=r"unknown dataset 'cifar'; choose from \['cifar10', 'cifar100', "):
        dataset_spec("cifar")

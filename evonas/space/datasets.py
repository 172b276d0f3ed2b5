"""The one registry of the data sets evonas accepts, and every per-data-set fact about them.

A ``DatasetSpec`` holds the network's input resolution and class count, the prefix of the
data set's columns in the shipped NB201 table, its name in NATS-Bench and the per-channel
mean and std (0..1 scale) NB201 normalises its images with.
"""
from __future__ import annotations

from dataclasses import dataclass

from evonas.errors import ConfigError

__all__ = ["DatasetSpec", "DATASETS", "dataset_spec"]


@dataclass(frozen=True)
class DatasetSpec:
    """One data set: its network shape, its table columns, its NATS-Bench name, its normalisation."""

    name: str
    resolution: int
    num_classes: int
    table_prefix: str                  # the shipped table's column prefix ("imagenet16")
    nats_name: str                     # the data set's name in NATS-Bench ("ImageNet16-120")
    mean: tuple[float, float, float]   # per channel, 0..1 scale
    std: tuple[float, float, float]

    def column(self, kind: str) -> str:
        """The shipped table's column ``kind`` of this data set, e.g. ``test_200ep`` or ``valid_12ep``."""
        return f"{self.table_prefix}_{kind}"

    @property
    def test_column(self) -> str:
        """The 200-epoch test accuracy column (NB201's ground truth)."""
        return self.column("test_200ep")

    @property
    def valid_column(self) -> str:
        """The 12-epoch validation accuracy column (KNAS's selection signal)."""
        return self.column("valid_12ep")


DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in (
    DatasetSpec("cifar10", 32, 10, "cifar10", "cifar10",
                (125.3 / 255, 123.0 / 255, 113.9 / 255), (63.0 / 255, 62.1 / 255, 66.7 / 255)),
    DatasetSpec("cifar100", 32, 100, "cifar100", "cifar100",
                (129.3 / 255, 124.1 / 255, 112.4 / 255), (68.2 / 255, 65.4 / 255, 70.4 / 255)),
    DatasetSpec("imagenet16-120", 16, 120, "imagenet16", "ImageNet16-120",
                (122.68 / 255, 116.66 / 255, 104.01 / 255), (63.22 / 255, 61.26 / 255, 65.09 / 255)),
)}


def dataset_spec(name: str) -> DatasetSpec:
    """The spec of data set ``name``; ``ConfigError`` naming the known ones otherwise."""
    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}; choose from {sorted(DATASETS)}")
    return DATASETS[name]

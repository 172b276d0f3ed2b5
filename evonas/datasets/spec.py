"""The data sets evonas accepts by name, and every per-data-set fact about them.

A ``DatasetSpec`` holds the network's input resolution and class count, the prefix of the
data set's columns in the shipped NB201 table, its name in NATS-Bench and the per-channel
mean and std (0..1 scale) NB201 normalises its images with.

A user's own data (``dataset: custom``) has no table columns and no NATS-Bench name: its spec
is made from the data when it is read (``evonas.datasets.custom``): the class names, the configured
resolution, the training images' mean and std, where the images come from (``DataSource``) and
a fingerprint of the decoded images (the score cache keys on it). Anything that takes a data
set's name also takes such a spec (``dataset_spec`` hands a spec back as it is).
"""
from __future__ import annotations

from dataclasses import dataclass

from evonas.errors import ConfigError, DataError

__all__ = ["DatasetSpec", "DataSource", "DATASETS", "CUSTOM", "dataset_spec", "check_resolution", "MIN_RESOLUTION",
           "spec_record", "spec_from_record"]

#: the name of a user's own data set in a config (``dataset: custom`` with a ``data:`` section)
CUSTOM = "custom"
#: the smallest input side the network takes: its two stride-2 reductions need a multiple of 4
MIN_RESOLUTION = 8
#: the classes ``DatasetSpec.summary`` names with their counts (the rest are counted)
_SHOWN = 12


def check_resolution(resolution: int, where: str) -> None:
    """``ConfigError`` unless the network's two stride-2 reductions take ``resolution`` (a multiple of 4, >= 8)."""
    if resolution < MIN_RESOLUTION or resolution % 4:
        near = max(MIN_RESOLUTION, 4 * round(resolution / 4))
        raise ConfigError(f"{where}: {resolution} does not suit the network's two stride-2 reductions; "
                          f"use a multiple of 4, at least {MIN_RESOLUTION} (e.g. {near})")


@dataclass(frozen=True)
class DataSource:
    """Where a user's own images come from: the ``data:`` keys (a format, its root, size and split)."""

    format: str                        # a user format of ``evonas.datasets.formats``: "folder", "npz", ...
    root: str                          # the folder (train/, val/ or class folders) or the .npz file
    resolution: int | None             # side of the square input; None: the .npz arrays' own
    val_split: float | None = None     # a folder of class folders only: this share of each class is the test split
    split_seed: int = 0


@dataclass(frozen=True)
class DatasetSpec:
    """One data set: its network shape, its table columns, its NATS-Bench name, its normalisation."""

    name: str
    resolution: int
    num_classes: int
    table_prefix: str | None           # the shipped table's column prefix ("imagenet16"); None: not in the table
    nats_name: str | None              # the data set's name in NATS-Bench ("ImageNet16-120"); None: not in it
    mean: tuple[float, float, float]   # per channel, 0..1 scale
    std: tuple[float, float, float]
    classes: tuple[str, ...] = ()      # class names, by label (a user's data set)
    source: DataSource | None = None   # where a user's images come from; None: an NB201 data set
    fingerprint: str = ""              # hash of a user's decoded images and labels ("" for NB201's)
    n_train: int = 0                   # a user's training images (0: not counted, NB201's)
    n_test: int = 0                    # a user's test images
    counts: tuple[tuple[int, int], ...] = ()  # a user's (train, test) images of each class, by label

    def __str__(self) -> str:
        return self.name

    @property
    def custom(self) -> bool:
        """A user's own data (no table columns, no NATS-Bench figures)."""
        return self.source is not None

    def column(self, kind: str) -> str:
        """The shipped table's column ``kind`` of this data set, e.g. ``test_200ep`` or ``valid_12ep``."""
        if self.table_prefix is None:
            raise DataError(f"the {self.name} data set has no benchmark table columns ({kind}): the table holds "
                            f"NB201's data sets only; use trained accuracies")
        return f"{self.table_prefix}_{kind}"

    def summary(self) -> str:
        """What the data set was read as, in one line for a run's log: a user's classes with their train/val
        image counts, the resolution, the split sizes, the format and path; NB201's name, classes and size."""
        size = f"{self.resolution}x{self.resolution}"
        if self.source is None:
            return f"data set {self.name} (NB201's): {self.num_classes} classes at {size}"
        shown = [f"{c} {a}/{b}" for c, (a, b) in zip(self.classes, self.counts)] or list(self.classes)
        more = f", ... {len(shown) - _SHOWN} more" if len(shown) > _SHOWN else ""
        src = self.source
        held = (f" (val: data.val_split {src.val_split:g} of each class, split_seed {src.split_seed})"
                if src.val_split is not None else "")
        return (f"data set custom: {self.num_classes} classes ({'train/val images: ' if self.counts else ''}"
                f"{', '.join(shown[:_SHOWN])}{more}) at {size}, {self.n_train} train / {self.n_test} val "
                f"images{held}; data.format {src.format}, {src.root} (fingerprint {self.fingerprint})")

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


def dataset_spec(name: "str | DatasetSpec") -> DatasetSpec:
    """The spec of data set ``name`` (a spec comes back as it is); ``ConfigError`` naming the known ones otherwise."""
    if isinstance(name, DatasetSpec):
        return name
    if name == CUSTOM:
        raise ConfigError("dataset custom: its spec is made from the data (config.dataset_spec, or "
                          "evonas.datasets.resolve(config)); pass that spec instead of the name")
    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}; choose from {sorted([*DATASETS, CUSTOM])}")
    return DATASETS[name]


def spec_record(spec: DatasetSpec) -> dict:
    """A user's data set spec as plain JSON data (a run's ``dataset.json``); ``spec_from_record`` reads it back."""
    return {"name": spec.name, "classes": list(spec.classes), "num_classes": spec.num_classes,
            "resolution": spec.resolution, "mean": list(spec.mean), "std": list(spec.std),
            "fingerprint": spec.fingerprint, "n_train": spec.n_train, "n_test": spec.n_test,
            "counts": [list(c) for c in spec.counts], "source": None if spec.source is None else {
                "format": spec.source.format, "root": spec.source.root, "resolution": spec.source.resolution,
                "val_split": spec.source.val_split, "split_seed": spec.source.split_seed}}


def spec_from_record(record: dict) -> DatasetSpec:
    """The spec ``spec_record`` wrote (its images are read from its source only when loaded)."""
    source = record.get("source")
    return DatasetSpec(record["name"], int(record["resolution"]), int(record["num_classes"]), None, None,
                       tuple(record["mean"]), tuple(record["std"]), classes=tuple(record.get("classes", ())),
                       source=DataSource(**source) if source else None, fingerprint=record.get("fingerprint", ""),
                       n_train=int(record.get("n_train", 0)), n_test=int(record.get("n_test", 0)),
                       counts=tuple((int(a), int(b)) for a, b in record.get("counts", ())))

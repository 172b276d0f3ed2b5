"""Cost of a network: FLOPs and parameters counted by fvcore on NB201's input sizes."""
from __future__ import annotations

import warnings

import torch
from torch import nn

with warnings.catch_warnings():  # fvcore.nn scripts its focal losses at import, which torch now deprecates
    warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", module=r"torch\.jit")
    from fvcore.nn import FlopCountAnalysis

from evonas.errors import ConfigError

__all__ = ["DATASETS", "DatasetSpec", "dataset_spec", "count_flops", "count_parameters"]


class DatasetSpec(tuple):
    """(name, input resolution, number of classes)."""

    __slots__ = ()

    def __new__(cls, name: str, resolution: int, num_classes: int) -> "DatasetSpec":
        return super().__new__(cls, (name, resolution, num_classes))

    name = property(lambda self: self[0])
    resolution = property(lambda self: self[1])
    num_classes = property(lambda self: self[2])


DATASETS: dict[str, DatasetSpec] = {
    "cifar10": DatasetSpec("cifar10", 32, 10),
    "cifar100": DatasetSpec("cifar100", 32, 100),
    "imagenet16-120": DatasetSpec("imagenet16-120", 16, 120),
}


def dataset_spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}; choose from {sorted(DATASETS)}")
    return DATASETS[name]


def count_flops(model: nn.Module, resolution: int) -> float:
    """fvcore's FLOP count (one fused multiply-add = one FLOP) for a single image, in FLOPs."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        analysis = FlopCountAnalysis(model, torch.zeros(1, 3, resolution, resolution, device=device))
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        analysis.tracer_warnings("none")
        return float(analysis.total())
    finally:
        model.train(was_training)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

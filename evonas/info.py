"""What evonas knows about one architecture (the ``info`` command)."""
from __future__ import annotations

from typing import Any

from evonas.cost import count_flops, count_parameters, dataset_spec
from evonas.model import build_network
from evonas.space import Cell
from evonas.table import ACCURACY_COLUMNS, load_table

__all__ = ["arch_info", "format_info"]


def arch_info(arch: str | int, dataset: str = "cifar10", C: int = 16, N: int = 5) -> dict[str, Any]:
    """Index, canonical form, connectivity, fvcore params/FLOPs and the benchmark accuracies."""
    cell = Cell.parse(arch)
    spec = dataset_spec(dataset)
    net = build_network(cell, C=C, N=N, num_classes=spec.num_classes)
    info: dict[str, Any] = {
        "index": cell.index, "arch": cell.arch, "encoding": list(cell.ops), "canonical": cell.canonical,
        "connected": cell.is_connected, "dataset": dataset,
        "params_M": count_parameters(net) / 1e6, "flops_M": count_flops(net, spec.resolution) / 1e6,
    }
    row = load_table().row(cell.index)
    info.update({k: row[k] for k in ACCURACY_COLUMNS})
    return info


def format_info(info: dict[str, Any]) -> str:
    width = max(map(len, info))
    lines = []
    for key, value in info.items():
        text = f"{value:.6g}" if isinstance(value, float) else str(value)
        lines.append(f"{key:<{width}}  {text}")
    return "\n".join(lines)

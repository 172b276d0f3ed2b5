"""What evonas knows about one architecture (the ``info`` command)."""
from __future__ import annotations

from typing import Any

from evonas.nn.flops import count_flops, count_parameters
from evonas.nn.network import network_for
from evonas.space.cell import Cell
from evonas.datasets import dataset_spec
from evonas.space.table import ACCURACY_COLUMNS, load_table

__all__ = ["arch_info", "format_info"]


def _cost(cell: Cell, dataset: str, C: int, N: int) -> tuple[float, float]:
    """(params in millions, MFLOPs) counted by fvcore."""
    net = network_for(cell, dataset, C=C, N=N)
    return count_parameters(net) / 1e6, count_flops(net, dataset_spec(dataset).resolution) / 1e6


def _saving(before: float, after: float, unit: str) -> str:
    return f"{before:.4g} -> {after:.4g} {unit} (-{100 * (before - after) / before:.0f}%)" if before else ""


def arch_info(arch: str | int, dataset: str = "cifar10", C: int = 16, N: int = 5) -> dict[str, Any]:
    """Index, canonical form, connectivity, fvcore params/FLOPs, the reduced cell and the benchmark accuracies.

    The reduced cell (``Cell.reduced``) is the cheapest of the isomorphism class: the one evonas
    scores, reports and exports in place of this one.
    """
    cell = Cell.parse(arch)
    reduced = cell.reduced
    params, flops = _cost(cell, dataset, C, N)
    info: dict[str, Any] = {
        "index": cell.index, "arch": cell.arch, "encoding": list(cell.ops), "canonical": cell.canonical,
        "connected": cell.is_connected, "dataset": dataset, "params_M": params, "flops_M": flops,
        "dead_edges": cell.dead_edges_text or "none",
    }
    r_params, r_flops = (params, flops) if reduced == cell else _cost(reduced, dataset, C, N)
    info.update({"reduced": reduced.arch, "reduced_index": reduced.index,
                 "reduced_params_M": r_params, "reduced_flops_M": r_flops})
    if reduced == cell:
        info["saving"] = "none: this is already the cheapest cell of its isomorphism class"
    else:
        parts = [_saving(flops, r_flops, "MFLOPs"), _saving(params, r_params, "M params")]
        info["saving"] = ("; ".join(p for p in parts if p) or "none in FLOPs or params") + \
            " (evonas scores, reports and exports the reduced cell)"
    if reduced.dead_edges:
        info["reduced_dead_edges"] = (f"{reduced.dead_edges_text} (their input is always zero, "
                                      f"but NAS-Bench-201 counts the cell without them as another cell)")
    row = load_table().row(cell.index)
    info.update({k: row[k] for k in ACCURACY_COLUMNS})
    return info


def format_info(info: dict[str, Any]) -> str:
    """``arch_info``'s answer as aligned ``key  value`` lines."""
    width = max(map(len, info))
    lines = []
    for key, value in info.items():
        text = f"{value:.6g}" if isinstance(value, float) else str(value)
        lines.append(f"{key:<{width}}  {text}")
    return "\n".join(lines)

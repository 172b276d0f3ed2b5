"""The trained-model file format: weights with the arch string and what rebuilding the network needs.

A model file (``evonas-model-1``) is a ``torch.save`` dict: ``format``, ``arch``, ``dataset`` (its
name), ``C``, ``N``, ``num_classes``, ``metrics`` and the CPU ``state_dict``, and what a user needs to
feed it: ``resolution``, the per-channel ``mean`` and ``std`` (0..1 scale) its inputs are normalised
with and the ``classes`` (names, by label; empty for NB201's data sets); it loads with
``weights_only=True`` (no pickled code).
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch
from torch import nn

from evonas.errors import DataError
from evonas.files import atomic_write
from evonas.nn.network import build_network
from evonas.space.cell import Cell
from evonas.datasets import DatasetSpec, dataset_spec

__all__ = ["save_model", "read_model_file", "load_model_file"]

_MODEL_FORMAT = "evonas-model-1"


def save_model(path: Path | str, model: nn.Module, cell: Cell, *, dataset: str | DatasetSpec, C: int, N: int,
               metrics: dict[str, Any] | None = None) -> Path:
    """Write the weights with the arch string and what rebuilding the network and feeding it need."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    spec = dataset_spec(dataset)
    blob = {"format": _MODEL_FORMAT, "arch": cell.arch, "dataset": spec.name, "C": C, "N": N,
            "num_classes": spec.num_classes, "resolution": spec.resolution, "mean": list(spec.mean),
            "std": list(spec.std), "classes": list(spec.classes), "metrics": dict(metrics or {}), "state_dict": state}
    return atomic_write(path, lambda tmp: torch.save(blob, tmp))


def read_model_file(path: Path | str) -> dict[str, Any]:
    """The contents of a ``save_model`` file; ``DataError`` when missing, unreadable or of another format."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"model file {str(path)!r} does not exist; it is written by training (save_model)")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError) as err:
        raise DataError(f"model file {str(path)!r} cannot be read: {err}") from None
    if not isinstance(blob, dict) or blob.get("format") != _MODEL_FORMAT:
        raise DataError(f"{str(path)!r} is not an evonas model file ({_MODEL_FORMAT})")
    return blob


def load_model_file(path: Path | str, *, device: torch.device | str = "cpu") -> nn.Module:
    """Rebuild the network a ``save_model`` file describes, with its weights, in eval mode."""
    blob = read_model_file(path)
    model = build_network(Cell.parse(blob["arch"]), C=blob["C"], N=blob["N"], num_classes=blob["num_classes"])
    model.load_state_dict(blob["state_dict"])
    return model.to(device).eval()

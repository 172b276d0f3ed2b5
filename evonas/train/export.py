"""Export an architecture of a run as a model file (its trained weights, or a fresh network) and TorchScript.

``export_arch`` writes ``save_model``'s format (state dict, arch string, data set, C, N; read
back with ``evonas.train.models.load_model_file``) and optionally a TorchScript file next to it.
A front member trained by the training stage (``RUN_DIR/models/<id>.pt``) is exported with
its trained weights; anything else is a freshly initialised network (seeded by the run's
seed), which the result says plainly. A fresh network is built for the cell's cheapest
equivalent (``Cell.reduced``, what the run scored and reported), never with dead convolutions
the user is not told of.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from evonas.errors import EvonasError
from evonas.files import atomic_write
from evonas.nn.network import evaluating, network_for
from evonas.run.rundir import RunDir
from evonas.space.cell import Cell
from evonas.space.datasets import dataset_spec
from evonas.train.models import load_model_file, read_model_file, save_model

__all__ = ["Exported", "export_arch", "export_torchscript", "find_member", "torchscript_path"]


@dataclass(frozen=True)
class Exported:
    """What ``export_arch`` wrote, and where its weights came from."""

    path: Path
    arch: str
    trained: bool                 # False: freshly initialised weights
    source: str                   # models/<id>.pt, or "fresh (seed N)"
    torchscript: Path | None = None
    hint: str = ""                # how to get trained weights
    note: str = ""                # the reduction made, or dead edges the cell keeps

    def describe(self) -> str:
        what = (f"trained weights from {self.source}" if self.trained else
                f"a FRESHLY INITIALISED network ({self.source}): it was not trained; {self.hint}")
        lines = [f"wrote {self.path}: {self.arch}", f"  weights: {what}",
                 f"  load:    evonas.train.models.load_model_file({str(self.path)!r})"]
        if self.note:
            lines.insert(1, f"  note:    {self.note}")
        if self.torchscript is not None:
            lines.append(f"  TorchScript: {self.torchscript} (torch.jit.load)")
        return "\n".join(lines)


def torchscript_path(out: Path) -> Path:
    """``model.pt`` -> ``model.torchscript.pt``."""
    return out.with_name(f"{out.stem}.torchscript{out.suffix or '.pt'}")


def find_member(front: Sequence[Mapping[str, Any]], *, id: int | None = None,
                arch: str | None = None) -> tuple[int | None, Cell]:
    """The front id (None when not on the front) and cell of ``--id`` or ``--arch``."""
    if (id is None) == (arch is None):
        raise EvonasError("export needs exactly one of --id N (a front member) or --arch ARCH (string or index)")
    if id is not None:
        row = next((r for r in front if int(r["id"]) == id), None)
        if row is None:
            ids = [int(r["id"]) for r in front]
            raise EvonasError(f"--id {id} is not on the front; ids are "
                              f"{f'{min(ids)}..{max(ids)}' if ids else 'none (empty front)'}")
        return id, Cell.from_string(row["arch"])
    cell = Cell.parse(arch)
    same = next((r for r in front if Cell.from_string(r["arch"]).canonical == cell.canonical), None)
    return (int(same["id"]) if same is not None else None), cell


def reduction_note(asked: Cell, built: Cell) -> str:
    """What the user must know about the exported cell: the reduction made, dead edges it keeps."""
    notes = []
    if built != asked:
        how = (f"dead edges {asked.dead_edges_text} dropped" if asked.dead_edges else
               "the cheapest cell of its isomorphism class")
        notes.append(f"{asked.arch} was reduced to its cheapest equivalent (same function; {how})")
    if built.dead_edges:
        notes.append(f"the cell keeps dead edges {built.dead_edges_text} (their input is always "
                     f"zero; NAS-Bench-201 counts the cell without them as another cell)")
    return "; ".join(notes)


def export_arch(run: RunDir, out: Path | str, *, id: int | None = None, arch: str | None = None,
                torchscript: bool = False) -> Exported:
    """Write the model file of front member ``id`` (or of ``arch``) to ``out``."""
    config = run.config()
    member, cell = find_member(run.pareto(), id=id, arch=arch)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    weights = run.path / "models" / f"{member}.pt"
    if member is not None and weights.is_file():
        model = load_model_file(weights)
        blob = read_model_file(weights)
        save_model(out, model, Cell.parse(blob["arch"]), dataset=blob["dataset"], C=blob["C"], N=blob["N"],
                   metrics=blob.get("metrics"))
        trained, source, dataset = True, str(weights), blob["dataset"]
        built = Cell.parse(blob["arch"])
        note = reduction_note(cell if cell.canonical == built.canonical else built, built)
    else:
        built = cell.reduced
        note = reduction_note(cell, built)
        dataset = config.train.dataset or config.dataset
        model = network_for(built, dataset, C=config.network.C, N=config.network.N, seed=config.seed).eval()
        save_model(out, model, built, dataset=dataset, C=config.network.C, N=config.network.N,
                   metrics={"trained": False})
        trained, source = False, f"seed {config.seed}, C={config.network.C}, N={config.network.N}"
    ts = export_torchscript(model, dataset_spec(dataset).resolution, torchscript_path(out)) if torchscript else None
    hint = (f"train it with python -m evonas train {run.path} --ids {member} and export again" if member is not None
            else "it is not on the front: train it yourself (evonas.train.loop.train_cell)")
    return Exported(out, built.arch, trained, source, ts, hint, note)


def export_torchscript(model: nn.Module, resolution: int, path: Path | str) -> Path:
    """Trace ``model`` (eval mode) on one ``resolution``-sized image and save it as TorchScript.

    TorchScript is deprecated in current torch; its notices are silenced here.
    """
    device = next(model.parameters()).device
    with evaluating(model), torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
        traced = torch.jit.trace(model, torch.zeros(1, 3, resolution, resolution, device=device))
        return atomic_write(path, lambda tmp: traced.save(str(tmp)))

"""Export an architecture of a run: a model file (its trained weights, or a fresh network), and files
that deployment tools read.

``export_arch`` writes ``save_model``'s format (state dict, arch string, data set, C, N; read
back with ``evonas.train.models.load_model_file``) and, on request, next to it:

- ``program``: a ``torch.export`` program (``OUT-stem.pt2``; ``torch.export.load(path).module()``),
  any batch size;
- ``onnx``: an ONNX model (``OUT-stem.onnx``; input ``images``, output ``logits``, any batch size),
  checked with ``onnx.checker`` and run under ``onnxruntime`` on real test images: its logits must
  equal the torch model's within ``ONNX_ATOL`` with the same argmax. Needs ``pip install 'evonas[export]'``;
- ``torchscript``: TorchScript (``OUT-stem.torchscript.pt``), deprecated by torch and kept only while
  torch has it; ``program`` replaces it.

A front member trained by the training stage (``RUN_DIR/models/<id>.pt``) is exported with
its trained weights; anything else is a freshly initialised network (seeded by the run's
seed), which the result says plainly. A fresh network is built for the cell's cheapest
equivalent (``Cell.reduced``, what the run scored and reported), never with dead convolutions
the user is not told of.
"""
from __future__ import annotations

import contextlib
import importlib.util
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import torch
from torch import nn

from evonas.errors import DataError, EvonasError
from evonas.files import atomic_write
from evonas.nn.images import load_images
from evonas.nn.network import evaluating, network_for
from evonas.run.rundir import RunDir
from evonas.space.cell import Cell
from evonas.datasets import DatasetSpec, dataset_spec
from evonas.train.models import load_model_file, read_model_file, save_model

__all__ = ["FORMATS", "ONNX_ATOL", "Deployable", "Exported", "export_arch", "export_onnx", "export_program",
           "export_torchscript", "find_member", "format_path", "has_torchscript"]

#: the formats ``export_arch`` writes beside the model file
FORMATS = ("program", "onnx", "torchscript")
#: the largest difference allowed between onnxruntime's and torch's float32 logits
ONNX_ATOL = 1e-4
#: the test images an ONNX export is checked on
_CHECK_IMAGES = 16
_SUFFIX = {"program": ".pt2", "onnx": ".onnx", "torchscript": ".torchscript.pt"}
_EXPORT_EXTRA = "pip install 'evonas[export]'"


@dataclass(frozen=True)
class Deployable:
    """One file for deployment that ``export_arch`` wrote beside the model file."""

    format: str                   # one of FORMATS
    path: Path
    load: str                     # how to load it
    check: str = ""               # what was verified


@dataclass(frozen=True)
class Exported:
    """What ``export_arch`` wrote, and where its weights came from."""

    path: Path
    arch: str
    trained: bool                 # False: freshly initialised weights
    source: str                   # models/<id>.pt, or "fresh (seed N)"
    files: tuple[Deployable, ...] = ()
    hint: str = ""                # how to get trained weights
    note: str = ""                # the reduction made, or dead edges the cell keeps
    inputs: str = ""              # what the model takes and what its outputs mean

    def describe(self) -> str:
        what = (f"trained weights from {self.source}" if self.trained else
                f"a FRESHLY INITIALISED network ({self.source}): it was not trained; {self.hint}")
        lines = [f"wrote {self.path}: {self.arch}", f"  weights: {what}",
                 f"  load:    evonas.train.models.load_model_file({str(self.path)!r})"]
        if self.note:
            lines.insert(1, f"  note:    {self.note}")
        if self.inputs:
            lines.append(f"  input:   {self.inputs}")
        for f in self.files:
            lines.append(f"  {f.format + ':':8} {f.path}  (load: {f.load})")
            if f.check:
                lines.append(f"           {f.check}")
        return "\n".join(lines)


def format_path(out: Path, format: str) -> Path:
    """Where ``format`` is written beside the model file ``out``: ``model.pt`` -> ``model.pt2``,
    ``model.onnx``, ``model.torchscript.pt``."""
    return out.with_name(out.stem + _SUFFIX[format])


def has_torchscript() -> bool:
    """Whether this torch still has TorchScript tracing."""
    return callable(getattr(getattr(torch, "jit", None), "trace", None))


def find_member(front: Sequence[Mapping[str, Any]], *, id: int | None = None,
                arch: str | None = None) -> tuple[int | None, Cell]:
    """The id (None when neither on the front nor shortlisted) and cell of ``--id`` or ``--arch``.

    ``front``: the rows with ids, the front's and the training stage's shortlist (``RunDir.members``).
    """
    if (id is None) == (arch is None):
        raise EvonasError("export needs exactly one of --id N (a front member) or --arch ARCH (string or index)")
    if id is not None:
        row = next((r for r in front if int(r["id"]) == id), None)
        if row is None:
            ids = [int(r["id"]) for r in front]
            raise EvonasError(f"--id {id} is not on the front (nor shortlisted for training); ids are "
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
                formats: Sequence[str] = ()) -> Exported:
    """Write the model file of front member ``id`` (or of ``arch``) to ``out``, and each of ``formats``
    (see ``FORMATS``) beside it."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise EvonasError(f"unknown export format {unknown[0]!r}; choose from {list(FORMATS)}")
    if "onnx" in formats:
        _need_onnx()
    if "torchscript" in formats and not has_torchscript():
        raise EvonasError(f"this torch ({torch.__version__}) has no TorchScript; export a torch.export "
                          f"program instead (--format program)")
    config = run.config()
    own = run.dataset_spec()  # a user's data set (dataset.json): its classes, resolution and normalisation
    member, cell = find_member(run.members(), id=id, arch=arch)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    weights = run.path / "models" / f"{member}.pt"
    if member is not None and weights.is_file():
        model = load_model_file(weights)
        blob = read_model_file(weights)
        dataset = own if own is not None and blob["dataset"] == own.name else blob["dataset"]
        save_model(out, model, Cell.parse(blob["arch"]), dataset=dataset, C=blob["C"], N=blob["N"],
                   metrics=blob.get("metrics"))
        trained, source = True, str(weights)
        built = Cell.parse(blob["arch"])
        note = reduction_note(cell if cell.canonical == built.canonical else built, built)
    else:
        built = cell.reduced
        note = reduction_note(cell, built)
        dataset = config.train.dataset or own or config.dataset
        model = network_for(built, dataset, C=config.network.C, N=config.network.N, seed=config.seed).eval()
        save_model(out, model, built, dataset=dataset, C=config.network.C, N=config.network.N,
                   metrics={"trained": False})
        trained, source = False, f"seed {config.seed}, C={config.network.C}, N={config.network.N}"
    resolution = dataset_spec(dataset).resolution
    files = []
    for fmt in dict.fromkeys(formats):
        path = format_path(out, fmt)
        if fmt == "program":
            files.append(Deployable(fmt, export_program(model, resolution, path),
                                    f"torch.export.load({str(path)!r}).module()(images)"))
        elif fmt == "onnx":
            root = config.train.data_root if config.train.data_root is not None else config.data.root
            path, check = export_onnx(model, resolution, path, images=_check_images(dataset, root))
            files.append(Deployable(fmt, path, f"onnxruntime.InferenceSession({str(path)!r})"
                                               ".run(None, {'images': images})", check))
        else:
            files.append(Deployable(fmt, export_torchscript(model, resolution, path), f"torch.jit.load({str(path)!r})",
                                    "TorchScript is deprecated by torch: prefer --format program (torch.export)"))
    hint = (f"train it with python -m evonas train {run.path} --ids {member} and export again" if member is not None
            else "it is not on the front: train it yourself (evonas.train.loop.train_cell)")
    spec = dataset_spec(dataset)
    inputs = (f"float32 (n, 3, {resolution}, {resolution}) RGB in 0..1, minus mean "
              f"({', '.join(f'{v:.4f}' for v in spec.mean)}), over std ({', '.join(f'{v:.4f}' for v in spec.std)})"
              + (f"; logits of {spec.num_classes} classes: {', '.join(spec.classes)}" if spec.classes else ""))
    return Exported(out, built.arch, trained, source, tuple(files), hint, note, inputs)


def _example(model: nn.Module, resolution: int) -> torch.Tensor:
    """Two images (a batch of one would fix the batch size at 1) on the model's device."""
    return torch.zeros(2, 3, resolution, resolution, device=next(model.parameters()).device)


def _any_batch() -> tuple[dict[int, Any]]:
    return ({0: torch.export.Dim("batch", min=1)},)


def export_program(model: nn.Module, resolution: int, path: Path | str) -> Path:
    """Export ``model`` (eval mode) with ``torch.export`` for any batch of ``resolution``-sized images,
    and save the program (``torch.export.load(path).module()`` runs it)."""
    with evaluating(model), torch.no_grad():
        program = torch.export.export(model, (_example(model, resolution),), dynamic_shapes=_any_batch())
    return atomic_write(path, lambda tmp: torch.export.save(program, tmp), suffix=".tmp.pt2")


def _need_onnx() -> None:
    """Fail before any work when a package the ONNX export needs is missing, naming the extra."""
    missing = [m for m in ("onnx", "onnxruntime", "onnxscript") if importlib.util.find_spec(m) is None]
    if missing:
        raise EvonasError(f"--format onnx needs {', '.join(missing)}: {_EXPORT_EXTRA}")


@contextlib.contextmanager
def _quiet_onnx_exporter() -> Iterator[None]:
    """Silence what torch's ONNX exporter says that is no concern of the user's: a deprecation inside
    torch's own ``run_decompositions`` (torch 2.13) and the torchvision operators it skips."""
    registration = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration.level
    registration.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
                                    category=FutureWarning)
            yield
    finally:
        registration.setLevel(level)


def _check_images(dataset: str | DatasetSpec, root: str | Path | None) -> tuple[torch.Tensor, str]:
    """Images to check an export on, and what they are: test images of ``dataset`` (the packaged
    sample, else those under ``root``), else seeded random ones."""
    have = dataset_spec(dataset).n_test  # a user's data set may hold fewer test images than the check takes
    n = min(_CHECK_IMAGES, have) if have else _CHECK_IMAGES
    for where in dict.fromkeys((None, root)):
        try:
            return load_images(dataset, root=where, split="test", n=n).images, "test images"
        except DataError:
            continue
    size = dataset_spec(dataset).resolution
    images = torch.randn(_CHECK_IMAGES, 3, size, size, generator=torch.Generator().manual_seed(0))
    return images, f"random images (no test images of {dataset} found)"


def export_onnx(model: nn.Module, resolution: int, path: Path | str, *,
                images: tuple[torch.Tensor, str]) -> tuple[Path, str]:
    """Export ``model`` (eval mode) to ONNX (input ``images``, output ``logits``, any batch size) with
    torch's ``torch.export``-based exporter; check the file with ``onnx.checker``, and its logits on
    ``images`` (the images and what they are) under onnxruntime against the torch model's
    (``ONNX_ATOL``, same argmax).

    Returns the path and a line saying what was checked; ``EvonasError`` when a check fails.
    """
    _need_onnx()
    import numpy as np
    import onnx
    import onnxruntime

    images, what = images
    with evaluating(model), torch.no_grad(), _quiet_onnx_exporter():
        program = torch.onnx.export(model, (_example(model, resolution),), dynamo=True, external_data=False,
                                    input_names=["images"], output_names=["logits"],
                                    dynamic_shapes=_any_batch(), verbose=False)
        expected = model(images.to(next(model.parameters()).device)).float().cpu().numpy()
    path = atomic_write(path, lambda tmp: program.save(str(tmp), external_data=False), suffix=".tmp.onnx")
    try:
        onnx.checker.check_model(str(path), full_check=True)
    except onnx.checker.ValidationError as err:
        raise EvonasError(f"{path}: onnx.checker rejects the exported model: {err}") from None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"images": images.cpu().numpy()})
    diff = float(np.abs(logits - expected).max())
    same = bool((logits.argmax(1) == expected.argmax(1)).all())
    said = f"{len(images)} {what}: max |logit difference| {diff:.1e} (at most {ONNX_ATOL:g})"
    if not diff <= ONNX_ATOL or not same:
        raise EvonasError(f"{path}: onnxruntime disagrees with torch on {said}"
                          + ("" if same else "; the predicted classes differ"))
    return path, f"checked: onnx.checker; onnxruntime equals torch on {said}, same classes"


def export_torchscript(model: nn.Module, resolution: int, path: Path | str) -> Path:
    """Trace ``model`` (eval mode) on one ``resolution``-sized image and save it as TorchScript.

    TorchScript is deprecated in current torch (``export_program`` replaces it); kept while torch has
    it, its notices silenced here: the user is told once, by ``export_arch``.
    """
    device = next(model.parameters()).device
    with evaluating(model), torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
        traced = torch.jit.trace(model, torch.zeros(1, 3, resolution, resolution, device=device))
        return atomic_write(path, lambda tmp: traced.save(str(tmp)))

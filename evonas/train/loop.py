"""Train one NB201 cell for real: NB201's recipe, checkpointed every epoch, resumable.

The recipe defaults are NAS-Bench-201's: 200 epochs of SGD (lr 0.1, momentum 0.9,
Nesterov, weight decay 5e-4, batch 256), the learning rate annealed to 0 by a cosine over
every iteration, random crop (zero padding 4 on 32x32 inputs, 2 on 16x16) and horizontal
flip. Augmentation runs in torch on the image tensors. Shuffling and augmentation draw
from generators seeded by ``(seed, epoch)``, so a run resumed from a checkpoint repeats
the uninterrupted run exactly (on the CPU; cuDNN kernels may differ in the last bits).

On CUDA the defaults are bf16 autocast, channels-last tensors, TF32 and cuDNN autotuning
(``evonas.nn.devices.training_numerics``, restored afterwards). An epoch's shuffling and
augmentation draws are made on the CPU up front and copied to the GPU once, and the loss and
accuracy are summed on the device, so no batch waits for the host; the CPU path computes
the same numbers as before.
"""
from __future__ import annotations

import math
import os
import pickle
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from evonas.nn.flops import dataset_spec
from evonas.nn.images import MEAN_STD, ImageSet
from evonas.nn.devices import device_name, resolve_device, training_numerics
from evonas.errors import DataError, RunDirError
from evonas.nn.network import build_network
from evonas.config.strict import check, to_mapping
from evonas.space.cell import Cell

__all__ = ["TrainSettings", "TrainResult", "Progress", "train_cell", "evaluate",
           "augment", "padding_fill", "peak_train_memory", "save_model", "load_model_file", "export_torchscript",
           "export_program"]

_CHECKPOINT_FORMAT = "evonas-train-checkpoint-1"
_MODEL_FORMAT = "evonas-model-1"
#: settings that may differ between a checkpoint and the run resuming it (they change no weight)
_RESUMABLE_KEYS = ("eval_every", "num_workers")

#: ``progress(epoch, n_epochs, loss, train_acc, test_acc, seconds_per_epoch, eta_s)``;
#: ``epoch`` counts from 1, ``test_acc`` is None on epochs without an evaluation.
Progress = Callable[[int, int, float, float, "float | None", float, float], None]


@dataclass(frozen=True)
class TrainSettings:
    """NB201's training recipe (``epochs: 200`` is the benchmark's; configs choose fewer)."""

    epochs: int = field(default=200, metadata=check(lambda v: v >= 1, ">= 1"))
    batch_size: int = field(default=256, metadata=check(lambda v: v >= 1, ">= 1"))
    lr: float = field(default=0.1, metadata=check(lambda v: v > 0, "> 0"))
    momentum: float = field(default=0.9, metadata=check(lambda v: 0 <= v < 1, "in [0, 1)"))
    nesterov: bool = True
    weight_decay: float = field(default=5e-4, metadata=check(lambda v: v >= 0, ">= 0"))
    warmup_epochs: int = field(default=0, metadata=check(lambda v: v >= 0, ">= 0"))
    #: zero padding of the random crop; None: 4 for 32x32 inputs, 2 for 16x16 (NB201's)
    crop_padding: int | None = field(default=None, metadata=check(lambda v: v >= 0, ">= 0 or null"))
    flip: bool = True
    label_smoothing: float = field(default=0.0, metadata=check(lambda v: 0 <= v < 1, "in [0, 1)"))
    #: mixed precision on CUDA ("fp16" adds a gradient scaler); ignored on the CPU
    amp: Literal["none", "bf16", "fp16"] = "bf16"
    #: channels-last memory format on CUDA (faster convolutions under AMP); ignored on the CPU
    channels_last: bool = True
    num_workers: int = field(default=0, metadata=check(lambda v: v >= 0, ">= 0"))
    seed: int = 0
    #: evaluate every k epochs (the last epoch always)
    eval_every: int = field(default=1, metadata=check(lambda v: v >= 1, ">= 1"))

    def __post_init__(self) -> None:
        from evonas.errors import ConfigError

        if self.warmup_epochs >= self.epochs:
            raise ConfigError(f"warmup_epochs ({self.warmup_epochs}) must be below epochs ({self.epochs})")


@dataclass(frozen=True)
class TrainResult:
    """Final metrics (accuracies in %), the per-epoch history and the trained network."""

    arch: str
    dataset: str
    epochs: int
    train_acc: float
    train_loss: float
    valid_acc: float | None
    test_acc: float
    wall_time_s: float
    device: str
    history: tuple[dict[str, Any], ...]
    model: nn.Module = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready metrics (everything but the model)."""
        return {k: (list(v) if k == "history" else v) for k, v in self.__dict__.items() if k != "model"}


# -- augmentation and schedule ---------------------------------------------------------
def padding_fill(dataset: str) -> torch.Tensor:
    """The normalised value (per channel) of a black pixel: what the random crop pads with."""
    mean, std = MEAN_STD[dataset]
    return -torch.tensor(mean) / torch.tensor(std)


def _draw(n: int, padding: int, flip: bool, generator: torch.Generator
          ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """One batch's crop offsets (dy, dx) and flip mask, drawn on the CPU in a fixed order."""
    dy = dx = mask = None
    if padding > 0:
        dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
        dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    if flip:
        mask = torch.rand(n, generator=generator) < 0.5
    return dy, dx, mask


def _apply(images: torch.Tensor, padding: int, fill: torch.Tensor, dy: torch.Tensor | None,
           dx: torch.Tensor | None, mask: torch.Tensor | None) -> torch.Tensor:
    """Crop the ``padding``-padded images at (dy, dx) and flip where ``mask``; the draws on ``images``' device."""
    n, c, h, w = images.shape
    device = images.device
    if dy is not None and dx is not None:
        padded = fill.to(images).view(1, c, 1, 1).expand(n, c, h + 2 * padding, w + 2 * padding).clone()
        padded[:, :, padding:padding + h, padding:padding + w] = images
        rows = (dy[:, None] + torch.arange(h, device=device))[:, None, :, None]
        cols = (dx[:, None] + torch.arange(w, device=device))[:, None, None, :]
        images = padded[torch.arange(n, device=device)[:, None, None, None],
                        torch.arange(c, device=device)[None, :, None, None], rows, cols]
    if mask is not None:
        images = torch.where(mask[:, None, None, None], images.flip(3), images)
    return images


def augment(images: torch.Tensor, padding: int, flip: bool, fill: torch.Tensor,
            generator: torch.Generator) -> torch.Tensor:
    """Random crop of the ``padding``-padded images and random horizontal flip, per image.

    ``fill`` (3,) is the padding value per channel: the normalised value of a black pixel
    (``padding_fill``), so the padding matches a crop of the raw image padded with zeros.
    """
    dy, dx, mask = _draw(len(images), padding, flip, generator)
    move = (lambda t: None if t is None else t.to(images.device))  # noqa: E731
    return _apply(images, padding, fill, move(dy), move(dx), move(mask))


@dataclass(frozen=True)
class _EpochPlan:
    """An epoch's index batches and augmentation draws, on the training device."""

    batches: tuple[torch.Tensor, ...]
    draws: tuple[tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None], ...]


def _epoch_plan(n: int, batch_size: int, padding: int, flip: bool, generator: torch.Generator,
                device: torch.device) -> _EpochPlan:
    """Draw the permutation, then each batch's augmentation, in the order ``augment`` draws them
    batch by batch; copy everything to ``device`` in one transfer."""
    cpu_batches = _batches(n, batch_size, generator)
    cpu_draws = [_draw(len(b), padding, flip, generator) for b in cpu_batches]
    sizes = [len(b) for b in cpu_batches]
    parts = [torch.cat(cpu_batches)]
    kinds = [d is not None for d in cpu_draws[0]]
    parts += [torch.cat([d[k] for d in cpu_draws]).long() for k in range(3) if kinds[k]]
    packed = torch.stack(parts)
    moved = packed.pin_memory().to(device, non_blocking=True) if device.type == "cuda" else packed.to(device)
    rows = iter(moved)
    batches = tuple(next(rows).split(sizes))
    columns = [tuple(next(rows).split(sizes)) if kinds[k] else (None,) * len(sizes) for k in range(3)]
    draws = tuple((dy, dx, None if m is None else m.bool()) for dy, dx, m in zip(*columns))
    return _EpochPlan(batches, draws)


def _lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warmup, then a cosine from 1 down to 0 at ``total`` steps."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def _epoch_generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 100_003 + epoch)


# -- evaluation --------------------------------------------------------------------------
def _autocast(device: torch.device, amp: str):
    enabled = device.type == "cuda" and amp != "none"
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype, enabled=enabled)


@torch.no_grad()
def evaluate(model: nn.Module, data: ImageSet, *, batch_size: int = 512, amp: str = "none",
             channels_last: bool = False) -> tuple[float, float]:
    """(mean cross-entropy, top-1 accuracy in %) of ``model`` in eval mode over ``data``.

    Sums stay on the device until the end (one host sync per call).
    """
    device = next(model.parameters()).device
    fmt = torch.channels_last if channels_last and device.type == "cuda" else torch.contiguous_format
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    correct = torch.zeros((), device=device, dtype=torch.int64)
    try:
        for start in range(0, len(data), batch_size):
            x = data.images[start:start + batch_size].to(device, non_blocking=True).contiguous(memory_format=fmt)
            y = data.labels[start:start + batch_size].to(device, non_blocking=True)
            with _autocast(device, amp):
                logits = model(x)
            loss_sum += F.cross_entropy(logits.float(), y, reduction="sum")
            correct += (logits.argmax(1) == y).sum()
    finally:
        model.train(was_training)
    return float(loss_sum) / len(data), 100.0 * int(correct) / len(data)


# -- checkpoints ------------------------------------------------------------------------
def _atomic_save(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _fingerprint(cell: Cell, settings: TrainSettings, dataset: str, C: int, N: int, n_train: int,
                 device: torch.device) -> dict[str, Any]:
    """What the weights depend on. CUDA-only switches enter with the value in effect on
    ``device``, and ``channels_last`` only when in effect, so CPU checkpoints written before
    these switches existed still resume."""
    recipe = {k: v for k, v in to_mapping(settings).items() if k not in _RESUMABLE_KEYS}
    recipe["amp"] = settings.amp if device.type == "cuda" else "none"
    if not (settings.channels_last and device.type == "cuda"):
        recipe.pop("channels_last")
    return {"arch": cell.arch, "dataset": dataset, "C": C, "N": N, "n_train": n_train, **recipe}


def _load_checkpoint(path: Path, expected: dict[str, Any]) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError) as err:
        raise RunDirError(f"checkpoint {str(path)!r} cannot be read ({err}); delete it to start afresh") from None
    if not isinstance(state, dict) or state.get("format") != _CHECKPOINT_FORMAT:
        raise RunDirError(f"{str(path)!r} is not an evonas training checkpoint ({_CHECKPOINT_FORMAT}); "
                          f"delete it or choose another checkpoint path")
    found = state["fingerprint"]
    diff = [f"{k}: checkpoint {found.get(k)!r} vs requested {v!r}" for k, v in expected.items() if found.get(k) != v]
    if diff:
        raise RunDirError(f"checkpoint {str(path)!r} belongs to another training run ({'; '.join(diff)}); "
                          f"delete it, or use another run directory, or train with the checkpoint's settings")
    return state


def _rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


# -- training ---------------------------------------------------------------------------
def _check_sets(train: ImageSet, others: dict[str, ImageSet | None]) -> int:
    num_classes = dataset_spec(train.dataset).num_classes
    for name, data in {"train": train, **others}.items():
        if data is None:
            continue
        if data.dataset != train.dataset:
            raise DataError(f"the {name} images are {data.dataset!r} but the train images are {train.dataset!r}")
        if len(data) == 0:
            raise DataError(f"the {name} set of {data.dataset} ({data.source}) is empty")
        if int(data.labels.min()) < 0 or int(data.labels.max()) >= num_classes:
            raise DataError(f"the {name} labels of {data.dataset} must lie in 0..{num_classes - 1}, "
                            f"got {int(data.labels.min())}..{int(data.labels.max())}")
    return num_classes


def _batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """One epoch's shuffled index batches (the last, smaller one kept, as NB201 does)."""
    return list(torch.randperm(n, generator=generator).split(batch_size))


def _train_epoch(model: nn.Module, stream: Iterable[tuple[torch.Tensor, torch.Tensor]],
                 optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler,
                 scaler: torch.amp.GradScaler, *, device: torch.device, amp: str, label_smoothing: float,
                 augmentation: Callable[[int, torch.Tensor], torch.Tensor],
                 memory_format: torch.memory_format = torch.contiguous_format) -> tuple[float, float]:
    """One pass of SGD over ``stream``; (mean loss, accuracy in %) on the augmented batches.

    ``augmentation(k, x)`` augments batch ``k``. Loss and accuracy are summed on the device
    and read once at the end.
    """
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    correct = torch.zeros((), device=device, dtype=torch.int64)
    seen = 0
    for k, (x, y) in enumerate(stream):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        x = augmentation(k, x).contiguous(memory_format=memory_format)
        with _autocast(device, amp):
            logits = model(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        loss_sum += loss.detach() * len(y)  # summed on the device: no host sync per step
        correct += (logits.detach().argmax(1) == y).sum()
        seen += len(y)
    return float(loss_sum) / seen, 100.0 * int(correct) / seen


def train_cell(cell: Cell, *, train: ImageSet, test: ImageSet, valid: ImageSet | None = None,
               settings: TrainSettings = TrainSettings(), C: int = 16, N: int = 5,
               device: torch.device | str = "auto", checkpoint_path: Path | str | None = None,
               progress: Progress | None = None) -> TrainResult:
    """Train ``cell``'s TinyNetwork(C, N) on ``train``; report accuracy on ``test`` (and ``valid``).

    With ``checkpoint_path`` the state is saved after every epoch; an existing checkpoint of
    the same run is resumed, one of another run raises ``RunDirError``.
    """
    _check_sets(train, {"test": test, "valid": valid})
    device = resolve_device(device) if isinstance(device, str) else torch.device(device)
    with training_numerics(device):
        return _train(cell, train, test, valid, settings, C, N, device, checkpoint_path, progress)


def _train(cell: Cell, train: ImageSet, test: ImageSet, valid: ImageSet | None, s: TrainSettings, C: int, N: int,
           device: torch.device, checkpoint_path: Path | str | None, progress: Progress | None) -> TrainResult:
    num_classes = dataset_spec(train.dataset).num_classes
    resolution = train.images.shape[-1]
    padding = s.crop_padding if s.crop_padding is not None else resolution // 8
    fill = padding_fill(train.dataset).to(device)
    amp = s.amp if device.type == "cuda" else "none"
    channels_last = s.channels_last and device.type == "cuda"
    fmt = torch.channels_last if channels_last else torch.contiguous_format

    model = build_network(cell, C=C, N=N, num_classes=num_classes, seed=s.seed).to(device, memory_format=fmt)
    optimizer = torch.optim.SGD(model.parameters(), lr=s.lr, momentum=s.momentum, nesterov=s.nesterov,
                                weight_decay=s.weight_decay)
    steps_per_epoch = math.ceil(len(train) / s.batch_size)
    total, warmup = s.epochs * steps_per_epoch, s.warmup_epochs * steps_per_epoch
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: _lr_factor(step, total, warmup))
    scaler = torch.amp.GradScaler(device.type, enabled=amp == "fp16")

    path = Path(checkpoint_path) if checkpoint_path is not None else None
    fingerprint = _fingerprint(cell, s, train.dataset, C, N, len(train), device)
    start_epoch, history, elapsed = 0, [], 0.0
    if path is not None and path.exists():
        state = _load_checkpoint(path, fingerprint)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        _set_rng_state(state["rng"])
        start_epoch, history, elapsed = state["epoch"], list(state["history"]), state["elapsed_s"]

    if s.num_workers == 0:
        train_x, train_y = train.images.to(device), train.labels.to(device)
    else:
        loader_set = TensorDataset(train.images.cpu(), train.labels.cpu())

    model.train()
    for epoch in range(start_epoch, s.epochs):
        tic = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        plan = _epoch_plan(len(train), s.batch_size, padding, s.flip, _epoch_generator(s.seed, epoch), device)
        if s.num_workers == 0:
            stream = ((train_x[idx], train_y[idx]) for idx in plan.batches)
        else:
            stream = DataLoader(loader_set, batch_sampler=[b.tolist() for b in plan.batches],
                                num_workers=s.num_workers, pin_memory=device.type == "cuda")
        train_loss, train_acc = _train_epoch(model, stream, optimizer, scheduler, scaler, device=device, amp=amp,
                                             label_smoothing=s.label_smoothing, memory_format=fmt,
                                             augmentation=lambda k, x: _apply(x, padding, fill, *plan.draws[k]))
        last = epoch + 1 == s.epochs
        evaluated = last or (epoch + 1) % s.eval_every == 0
        test_acc = (evaluate(model, test, batch_size=s.batch_size, amp=amp, channels_last=channels_last)[1]
                    if evaluated else None)
        valid_acc = None
        if evaluated and valid is not None:
            valid_acc = evaluate(model, valid, batch_size=s.batch_size, amp=amp, channels_last=channels_last)[1]
        seconds = time.perf_counter() - tic
        elapsed += seconds
        history.append({"epoch": epoch + 1, "lr": lr, "train_loss": train_loss,
                        "train_acc": train_acc, "valid_acc": valid_acc, "test_acc": test_acc,
                        "seconds": seconds})
        if path is not None:
            _atomic_save({"format": _CHECKPOINT_FORMAT, "fingerprint": fingerprint, "epoch": epoch + 1,
                          "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                          "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
                          "rng": _rng_state(), "history": history, "elapsed_s": elapsed}, path)
        if progress is not None:
            done = epoch + 1 - start_epoch
            per_epoch = (sum(h["seconds"] for h in history[start_epoch:])) / done
            progress(epoch + 1, s.epochs, history[-1]["train_loss"], history[-1]["train_acc"], test_acc,
                     per_epoch, per_epoch * (s.epochs - epoch - 1))

    model.eval()
    final = history[-1]
    return TrainResult(arch=cell.arch, dataset=train.dataset, epochs=s.epochs, train_acc=final["train_acc"],
                       train_loss=final["train_loss"], valid_acc=final["valid_acc"], test_acc=final["test_acc"],
                       wall_time_s=elapsed, device=device_name(device), history=tuple(history), model=model)


def peak_train_memory(cell: Cell, *, num_classes: int, resolution: int, batch_size: int, C: int = 16, N: int = 5,
                      device: torch.device | str = "cuda", amp: str = "bf16", channels_last: bool = True) -> int | None:
    """Peak GPU memory (bytes) of one training step of ``cell`` at ``batch_size``; None off CUDA.

    The basis for how many training tasks share a GPU (``evonas.nn.devices.per_gpu_from_memory``):
    measure the largest candidate once.
    """
    device = torch.device(device)
    if device.type != "cuda":
        return None
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    with training_numerics(device), torch.cuda.device(device):
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        model = build_network(cell, C=C, N=N, num_classes=num_classes).to(device, memory_format=fmt).train()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        x = torch.randn(batch_size, 3, resolution, resolution, device=device).contiguous(memory_format=fmt)
        y = torch.randint(0, num_classes, (batch_size,), device=device)
        for _ in range(2):  # the second step holds the momentum buffers too
            with _autocast(device, amp):
                loss = F.cross_entropy(model(x).float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) - base
        del model, optimizer, x, y, loss
    return int(peak)


# -- trained model files ----------------------------------------------------------------
def save_model(path: Path | str, model: nn.Module, cell: Cell, *, dataset: str, C: int, N: int,
               metrics: dict[str, Any] | None = None) -> Path:
    """Write the weights with the arch string and what rebuilding the network needs."""
    path = Path(path)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    _atomic_save({"format": _MODEL_FORMAT, "arch": cell.arch, "dataset": dataset, "C": C, "N": N,
                  "num_classes": dataset_spec(dataset).num_classes, "metrics": dict(metrics or {}),
                  "state_dict": state}, path)
    return path


def load_model_file(path: Path | str, *, device: torch.device | str = "cpu") -> nn.Module:
    """Rebuild the network a ``save_model`` file describes, with its weights, in eval mode."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"model file {str(path)!r} does not exist; it is written by training (save_model)")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError) as err:
        raise DataError(f"model file {str(path)!r} cannot be read: {err}") from None
    if not isinstance(blob, dict) or blob.get("format") != _MODEL_FORMAT:
        raise DataError(f"{str(path)!r} is not an evonas model file ({_MODEL_FORMAT})")
    model = build_network(Cell.parse(blob["arch"]), C=blob["C"], N=blob["N"], num_classes=blob["num_classes"])
    model.load_state_dict(blob["state_dict"])
    return model.to(device).eval()


def _replace_with(path: Path, write: Callable[[str], None]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    write(str(tmp))
    os.replace(tmp, path)
    return path


def export_torchscript(model: nn.Module, resolution: int, path: Path | str) -> Path:
    """Trace ``model`` (eval mode) on one ``resolution``-sized image and save it as TorchScript.

    TorchScript is deprecated in current torch (its notices are silenced here); prefer
    ``export_program`` where the reader has torch >= 2.6.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
            traced = torch.jit.trace(model, torch.zeros(1, 3, resolution, resolution, device=device))
            return _replace_with(Path(path), traced.save)
    finally:
        model.train(was_training)


def export_program(model: nn.Module, resolution: int, path: Path | str) -> Path:
    """Save ``model`` (eval mode) as a ``torch.export`` program (``.pt2``) with a dynamic batch size.

    Read it back with ``torch.export.load(path).module()``.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        example = torch.zeros(2, 3, resolution, resolution, device=device)
        program = torch.export.export(model, (example,), dynamic_shapes=({0: torch.export.Dim.AUTO},))
        return _replace_with(Path(path), lambda p: torch.export.save(program, p))
    finally:
        model.train(was_training)

"""The training loop: NB201's recipe on one cell, evaluated, checkpointed every epoch, resumable.

The recipe defaults are NAS-Bench-201's: 200 epochs of SGD (lr 0.1, momentum 0.9,
Nesterov, weight decay 5e-4, batch 256), the learning rate annealed to 0 by a cosine over
every iteration, random crop (zero padding 4 on 32x32 inputs, 2 on 16x16) and horizontal
flip (``evonas.train.augment``). Shuffling and augmentation draw from generators seeded by
``(seed, epoch)``, so a run resumed from a checkpoint (``evonas.train.checkpoints``) repeats
the uninterrupted run exactly (on the CPU; cuDNN kernels may differ in the last bits).

On CUDA the defaults are bf16 autocast, channels-last tensors, TF32 and cuDNN autotuning
(``evonas.nn.devices.training_numerics``, restored afterwards). An epoch's shuffling and
augmentation draws are made on the CPU up front and copied to the GPU once, and the loss and
accuracy are summed on the device, so no batch waits for the host; the CPU path computes
the same numbers as before.

``train_cell`` keeps its checkpoint in a file; ``train_epochs`` is the same training as a generator
of epochs, which can also hand over each epoch's checkpoint as bytes and write nothing (a training
on a Ray worker, whose driver keeps the files).
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Generator, Iterable

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from evonas.config.schema import TrainSettings
from evonas.errors import DataError
from evonas.nn.devices import device_name, resolve_device, training_numerics
from evonas.nn.images import ImageSet
from evonas.nn.network import build_network, evaluating, network_for
from evonas.space.cell import Cell
from evonas.datasets import dataset_spec
from evonas.train.augment import apply_draws, epoch_generator, epoch_plan, padding_fill
from evonas.train.checkpoints import checkpoint_bytes, fingerprint, resume_checkpoint, save_checkpoint

__all__ = ["TrainResult", "Progress", "Epoch", "train_cell", "train_epochs", "evaluate", "peak_train_memory"]

#: ``progress(epoch, n_epochs, loss, train_acc, test_acc, seconds_per_epoch, eta_s)``;
#: ``epoch`` counts from 1, ``test_acc`` is None on epochs without an evaluation.
Progress = Callable[[int, int, float, float, "float | None", float, float], None]


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


@dataclass(frozen=True)
class Epoch:
    """One finished epoch (counting from 1): its metrics, the mean seconds per epoch so far, the ETA,
    and the checkpoint after it as bytes (``train_epochs``; None where it went to a file)."""

    epoch: int
    epochs: int
    train_loss: float
    train_acc: float
    test_acc: float | None
    seconds_per_epoch: float
    eta_s: float
    checkpoint: bytes | None = field(default=None, repr=False)


# -- schedule and evaluation -------------------------------------------------------------
def _lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warmup, then a cosine from 1 down to 0 at ``total`` steps."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def _autocast(device: torch.device, amp: str) -> torch.autocast:
    """Autocast to ``amp`` (bf16 or fp16) on CUDA; a no-op on the CPU or with ``amp`` none."""
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
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    correct = torch.zeros((), device=device, dtype=torch.int64)
    with evaluating(model):
        for start in range(0, len(data), batch_size):
            x = data.images[start:start + batch_size].to(device, non_blocking=True).contiguous(memory_format=fmt)
            y = data.labels[start:start + batch_size].to(device, non_blocking=True)
            with _autocast(device, amp):
                logits = model(x)
            loss_sum += F.cross_entropy(logits.float(), y, reduction="sum")
            correct += (logits.argmax(1) == y).sum()
    return float(loss_sum) / len(data), 100.0 * int(correct) / len(data)


# -- training ---------------------------------------------------------------------------
def _check_sets(train: ImageSet, others: dict[str, ImageSet | None]) -> None:
    """``DataError`` unless every set is non-empty, of the train set's data set, with labels in range."""
    num_classes = dataset_spec(train.dataset).num_classes
    for name, data in {"train": train, **others}.items():
        if data is None:
            continue
        if data.dataset != train.dataset:
            raise DataError(f"the {name} images are {str(data.dataset)!r} but the train images are "
                            f"{str(train.dataset)!r}")
        if len(data) == 0:
            raise DataError(f"the {name} set of {data.dataset} ({data.source}) is empty")
        if int(data.labels.min()) < 0 or int(data.labels.max()) >= num_classes:
            raise DataError(f"the {name} labels of {data.dataset} must lie in 0..{num_classes - 1}, "
                            f"got {int(data.labels.min())}..{int(data.labels.max())}")


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
    epochs = train_epochs(cell, train=train, test=test, valid=valid, settings=settings, C=C, N=N, device=device,
                          checkpoint_path=checkpoint_path)
    with contextlib.closing(epochs):  # a progress callback that raises leaves the device's numerics as found
        while True:
            try:
                e = next(epochs)
            except StopIteration as finished:
                return finished.value
            if progress is not None:
                progress(e.epoch, e.epochs, e.train_loss, e.train_acc, e.test_acc, e.seconds_per_epoch, e.eta_s)


def train_epochs(cell: Cell, *, train: ImageSet, test: ImageSet, valid: ImageSet | None = None,
                 settings: TrainSettings = TrainSettings(), C: int = 16, N: int = 5,
                 device: torch.device | str = "auto", checkpoint_path: Path | str | None = None,
                 resume: bytes | None = None, resume_name: str | None = None,
                 stop_at: int | None = None) -> Generator[Epoch, None, TrainResult]:
    """``train_cell`` as a generator: it yields each finished ``Epoch`` and returns the ``TrainResult``.

    ``stop_at``: stop after this epoch of the recipe's ``settings.epochs`` (the learning rate where the full
    recipe has it then; a later call resumes the same training from its checkpoint); None: the whole recipe.

    With ``checkpoint_path`` the checkpoint is that file, as for ``train_cell``. Without it nothing
    is written: each ``Epoch`` carries the checkpoint after it as bytes, and the training goes on
    from ``resume``, the bytes of a checkpoint (one of another run raises ``RunDirError`` naming
    ``resume_name``, where its file is kept).
    """
    if checkpoint_path is not None and resume is not None:
        raise ValueError("train_epochs takes a checkpoint_path or the bytes to resume from, not both")
    _check_sets(train, {"test": test, "valid": valid})
    device = resolve_device(device) if isinstance(device, str) else torch.device(device)
    path = Path(checkpoint_path) if checkpoint_path is not None else None
    with training_numerics(device):
        return (yield from _epochs(cell, train, test, valid, settings, C, N, device, resume=path or resume,
                                   save_to=path, resume_name=resume_name, stop_at=stop_at))


def _epochs(cell: Cell, train: ImageSet, test: ImageSet, valid: ImageSet | None, s: TrainSettings, C: int, N: int,
            device: torch.device, *, resume: Path | bytes | None, save_to: Path | None,
            resume_name: str | None, stop_at: int | None = None) -> Generator[Epoch, None, TrainResult]:
    """The training, from the checkpoint ``resume`` to the end of epoch ``stop_at`` (None: ``s.epochs``): each
    epoch's state saved to ``save_to``, or with no ``save_to`` yielded as the checkpoint's bytes."""
    resolution = train.images.shape[-1]
    padding = s.crop_padding if s.crop_padding is not None else resolution // 8
    fill = padding_fill(train.dataset).to(device)
    amp = s.amp if device.type == "cuda" else "none"
    channels_last = s.channels_last and device.type == "cuda"
    fmt = torch.channels_last if channels_last else torch.contiguous_format

    model = network_for(cell, train.dataset, C=C, N=N, seed=s.seed).to(device, memory_format=fmt)
    optimizer = torch.optim.SGD(model.parameters(), lr=s.lr, momentum=s.momentum, nesterov=s.nesterov,
                                weight_decay=s.weight_decay)
    steps_per_epoch = math.ceil(len(train) / s.batch_size)
    total, warmup = s.epochs * steps_per_epoch, s.warmup_epochs * steps_per_epoch
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: _lr_factor(step, total, warmup))
    scaler = torch.amp.GradScaler(device.type, enabled=amp == "fp16")

    expected = fingerprint(cell, s, train.dataset, C, N, len(train), device)
    parts = {"model": model, "optimizer": optimizer, "scheduler": scheduler, "scaler": scaler}
    start_epoch, history, elapsed = resume_checkpoint(resume, expected, parts, name=resume_name)
    stop = s.epochs if stop_at is None else min(stop_at, s.epochs)
    if start_epoch > stop:
        raise ValueError(f"the checkpoint is at epoch {start_epoch}, past the epoch {stop} this training stops at")

    if s.num_workers == 0:
        train_x, train_y = train.images.to(device), train.labels.to(device)
    else:
        loader_set = TensorDataset(train.images.cpu(), train.labels.cpu())

    model.train()
    for epoch in range(start_epoch, stop):
        tic = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        plan = epoch_plan(len(train), s.batch_size, padding, s.flip, epoch_generator(s.seed, epoch), device)
        if s.num_workers == 0:
            stream = ((train_x[idx], train_y[idx]) for idx in plan.batches)
        else:
            stream = DataLoader(loader_set, batch_sampler=[b.tolist() for b in plan.batches],
                                num_workers=s.num_workers, pin_memory=device.type == "cuda")
        train_loss, train_acc = _train_epoch(model, stream, optimizer, scheduler, scaler, device=device, amp=amp,
                                             label_smoothing=s.label_smoothing, memory_format=fmt,
                                             augmentation=lambda k, x: apply_draws(x, padding, fill, *plan.draws[k]))
        last = epoch + 1 == stop
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
        state = {"epoch": epoch + 1, "history": history, "elapsed_s": elapsed}
        if save_to is not None:
            save_checkpoint(save_to, expected, parts, **state)
        blob = checkpoint_bytes(expected, parts, **state) if save_to is None else None
        done = epoch + 1 - start_epoch
        per_epoch = (sum(h["seconds"] for h in history[start_epoch:])) / done
        yield Epoch(epoch + 1, stop, train_loss, train_acc, test_acc, per_epoch, per_epoch * (stop - epoch - 1), blob)

    model.eval()
    final = history[-1]
    return TrainResult(arch=cell.arch, dataset=str(train.dataset), epochs=stop, train_acc=final["train_acc"],
                       train_loss=final["train_loss"], valid_acc=final["valid_acc"], test_acc=final["test_acc"],
                       wall_time_s=elapsed, device=device_name(device), history=tuple(history), model=model)


def peak_train_memory(cell: Cell, *, num_classes: int, resolution: int, batch_size: int, C: int = 16, N: int = 5,
                      device: torch.device | str = "cuda", amp: str = "bf16", channels_last: bool = True) -> int | None:
    """Peak GPU memory (bytes) of one training step of ``cell`` at ``batch_size``; None off CUDA.

    The basis for how many training tasks share a GPU (``evonas.engine.placement.per_gpu_from_memory``):
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

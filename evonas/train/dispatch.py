"""Running the training stage's trainings: in this process, or as Ray tasks that stream their epochs back.

The driver keeps every file; a training on a Ray worker, on whichever node, writes none. It is
sent the last checkpoint the driver holds (the bytes of ``RUN_DIR/checkpoints/<id>.pt``), yields
each finished epoch with the checkpoint after it, and at the end the trained weights. The driver
writes the checkpoint and ``checkpoints/<id>.progress.json`` atomically (``evonas.files``) into
its own run directory and logs one line per epoch. A training whose worker or node is lost is
submitted again, up to ``ray.max_retries`` times, from the last checkpoint the driver holds,
wherever Ray places it; an error raised by the training itself fails that candidate alone. The
trainings spread over the cluster's nodes, each asking for one CPU and its share of a GPU
(``evonas.engine.placement.gpu_share``). The data a training reads (``data_root``, a user's
images) is named by an absolute path, which every node must have.
"""
from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch

from evonas.config.schema import TrainSettings
from evonas.datasets import DatasetSpec
from evonas.engine.ray_start import first_line
from evonas.files import atomic_write, atomic_write_text
from evonas.nn.images import load_images
from evonas.space.cell import Cell
from evonas.train.loop import Epoch, train_epochs

__all__ = ["TrainJob", "Trained", "RunFiles", "run_training", "train_here", "train_on_ray"]

log = logging.getLogger("evonas")
#: how long the driver waits for a message before it looks again (keeps Ctrl-C prompt)
_POLL_S = 1.0


@dataclass(frozen=True)
class TrainJob:
    """One candidate's training: what to train and on which data (a plain value sent to a worker)."""

    id: int
    arch: str
    dataset: str | DatasetSpec  # a name, or the spec of a user's data set
    data_root: str | None       # absolute, or None for the packaged images
    n_train: int | None
    C: int
    N: int
    device: str
    rung: int = 0                 # the rung of ``train.schedule`` this training is
    stop_at: int | None = None    # stop after this epoch of the recipe (None: at its end)
    stem: str = ""                # its files under ``checkpoints/``: ``<stem>.pt``, ``<stem>.progress.json`` ("": the id)
    seed: int = 0                 # added to the recipe's seed (``train.seeds``: one training per seed)

    def __post_init__(self) -> None:
        if not self.stem:
            object.__setattr__(self, "stem", str(self.id))

    @property
    def label(self) -> str:
        """How the log names this training: ``id 7``, or ``id 7 (rung 2)`` past the first rung."""
        where = ", ".join([*([f"rung {self.rung + 1}"] if self.rung else []),
                           *([f"seed +{self.seed}"] if self.seed else [])])
        return f"id {self.id}" + (f" ({where})" if where else "")


@dataclass(frozen=True)
class Trained:
    """A finished training: its metrics (``TrainResult.to_dict``, and ``test_n``: the test images its accuracy
    counts), its CPU weights, the node it ran on."""

    metrics: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    node: str


class RunFiles:
    """The driver's files of each training under ``root`` (the run's ``checkpoints/``, made absolute):
    ``<id>.pt``, the last checkpoint, and ``<id>.progress.json``, the last epoch's metrics."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def checkpoint(self, stem: int | str) -> Path:
        return self.root / f"{stem}.pt"

    def progress(self, stem: int | str) -> Path:
        return self.root / f"{stem}.progress.json"

    def last_checkpoint(self, stem: int | str) -> bytes | None:
        """The bytes of the checkpoint kept under ``stem`` (None: none yet, the training starts afresh)."""
        path = self.checkpoint(stem)
        return path.read_bytes() if path.is_file() else None

    def keep(self, stem: int | str, epoch: Epoch) -> None:
        """Write the checkpoint after ``epoch`` (when it came as bytes) and its progress, each atomically."""
        if epoch.checkpoint is not None:
            atomic_write(self.checkpoint(stem), lambda tmp: tmp.write_bytes(epoch.checkpoint))
        atomic_write_text(self.progress(stem), json.dumps(
            {"epoch": epoch.epoch, "epochs": epoch.epochs, "loss": epoch.train_loss, "train_acc": epoch.train_acc,
             "test_acc": epoch.test_acc, "eta_s": epoch.eta_s}))


def run_training(job: TrainJob, settings: TrainSettings, resume: bytes | None = None,
                 resume_name: str | None = None, node: str = "local") -> Iterator[Epoch | Trained]:
    """The training of ``job``, writing no file: each ``Epoch`` with its checkpoint's bytes, then ``Trained``.

    ``resume``: the bytes of the checkpoint to go on from; ``resume_name`` where the driver keeps it
    (named by a checkpoint error).
    """
    train = load_images(job.dataset, root=job.data_root, split="train", n=job.n_train, seed=settings.seed)
    test = load_images(job.dataset, root=job.data_root, split="test")
    if job.seed:  # another seed of the same candidate: its own initialisation and data order, the same images
        settings = dataclasses.replace(settings, seed=settings.seed + job.seed)
    result = yield from train_epochs(Cell.from_string(job.arch), train=train, test=test, settings=settings, C=job.C,
                                     N=job.N, device=job.device, resume=resume, resume_name=resume_name,
                                     stop_at=job.stop_at)
    metrics = {**result.to_dict(), "test_n": len(test)}  # the test accuracy's sample size: its noise
    yield Trained(metrics, {k: v.detach().cpu() for k, v in result.model.state_dict().items()}, node)


def _on_worker(job: TrainJob, settings: TrainSettings, resume: bytes | None,
               resume_name: str | None) -> Iterator[Epoch | Trained]:
    """``run_training`` as a Ray task (a streaming generator): one thread, and the node's address."""
    import ray

    torch.set_num_threads(1)
    yield from run_training(job, settings, resume, resume_name, node=ray.util.get_node_ip_address())


def _log_epoch(job: TrainJob, e: Epoch) -> None:
    test = "-" if e.test_acc is None else f"{e.test_acc:.1f}%"
    log.info(f"train {job.label}: epoch {e.epoch}/{e.epochs} | loss {e.train_loss:.3f} | train acc "
             f"{e.train_acc:.1f}% | test acc {test} | ETA {e.eta_s:.0f}s")


def train_here(jobs: Sequence[TrainJob], settings: TrainSettings,
               files: RunFiles) -> Iterator[tuple[TrainJob, Trained | Exception]]:
    """Train ``jobs`` one after another in this process (``ray.backend: serial``): each job with its
    ``Trained`` or the error that stopped it, as each finishes."""
    for job in jobs:
        outcome: Trained | Exception = RuntimeError(f"the training of {job.label} ended without its weights")
        messages = run_training(job, settings, files.last_checkpoint(job.stem), str(files.checkpoint(job.stem)))
        try:
            for message in messages:
                if isinstance(message, Epoch):
                    files.keep(job.stem, message)
                    _log_epoch(job, message)
                else:
                    outcome = message
        except Exception as err:  # one candidate's failure is recorded, the others go on
            outcome = err
        finally:
            messages.close()
        yield job, outcome


def train_on_ray(jobs: Sequence[TrainJob], settings: TrainSettings, files: RunFiles, *, gpu_share: float,
                 retries: int) -> Iterator[tuple[TrainJob, Trained | Exception]]:
    """Train ``jobs`` as Ray tasks spread over the cluster (each one CPU and ``gpu_share`` of a GPU): each job
    with its ``Trained`` or the error that stopped it, as each finishes. A lost worker or node is retried
    up to ``retries`` times from the driver's last checkpoint; tasks still running when this stops are cancelled."""
    import ray
    from ray.exceptions import RayError, RayTaskError

    task = ray.remote(num_cpus=1, num_gpus=gpu_share, max_retries=0, scheduling_strategy="SPREAD")(_on_worker)

    def submit(job: TrainJob) -> Any:
        return task.remote(job, settings, files.last_checkpoint(job.stem), str(files.checkpoint(job.stem)))

    pending = {submit(job): (job, 0) for job in jobs}
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=_POLL_S)
            for stream in ready:
                job, attempt = pending[stream]
                try:
                    message = ray.get(next(stream))
                except StopIteration:
                    del pending[stream]
                    yield job, RuntimeError(f"the training of {job.label} ended without its weights")
                    continue
                except RayTaskError as err:  # raised by the training itself: retrying would raise it again
                    del pending[stream]
                    yield job, err
                    continue
                except RayError as err:  # the worker, its node or an object was lost
                    del pending[stream]
                    if attempt >= retries:
                        yield job, err
                        continue
                    kept = files.checkpoint(job.stem)
                    log.info(f"train {job.label}: {type(err).__name__} ({first_line(err)}); retry {attempt + 1} of "
                             f"{retries} " + (f"from {kept}" if kept.is_file() else "from the start"))
                    pending[submit(job)] = (job, attempt + 1)
                    continue
                if isinstance(message, Epoch):
                    files.keep(job.stem, message)
                    _log_epoch(job, message)
                else:
                    del pending[stream]
                    yield job, message
    finally:
        for stream in pending:
            try:
                ray.cancel(stream, force=True)
            except Exception:  # already finished or gone: nothing left to stop
                pass

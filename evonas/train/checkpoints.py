"""Training checkpoints: what a run's weights depend on, and its full state saved and resumed each epoch.

A checkpoint holds the model, optimizer, scheduler and gradient-scaler states, the torch RNG
states, the history so far and the time spent, under a fingerprint of everything the weights
depend on; a checkpoint of another run is refused rather than resumed. It is a file
(``save_checkpoint``) or that file's bytes (``checkpoint_bytes``: what a training on a Ray
worker sends back to the driver, which keeps the file); ``resume_checkpoint`` takes either.
"""
from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any, Mapping

import torch

from evonas.config.schema import TrainSettings
from evonas.strict import to_mapping
from evonas.errors import RunDirError
from evonas.files import atomic_write
from evonas.space.cell import Cell
from evonas.datasets import DatasetSpec, dataset_spec

__all__ = ["fingerprint", "save_checkpoint", "checkpoint_bytes", "resume_checkpoint", "Resumed"]

_CHECKPOINT_FORMAT = "evonas-train-checkpoint-1"
#: settings that may differ between a checkpoint and the run resuming it (they change no weight)
_RESUMABLE_KEYS = ("eval_every", "num_workers")

#: (epochs done, the history of those epochs, seconds spent on them)
Resumed = tuple[int, list[dict[str, Any]], float]


def fingerprint(cell: Cell, settings: TrainSettings, dataset: str | DatasetSpec, C: int, N: int, n_train: int,
                device: torch.device) -> dict[str, Any]:
    """What the weights depend on. CUDA-only switches enter with the value in effect on
    ``device``, and ``channels_last`` only when in effect, so CPU checkpoints written before
    these switches existed still resume."""
    recipe = {k: v for k, v in to_mapping(settings).items() if k not in _RESUMABLE_KEYS}
    recipe["amp"] = settings.amp if device.type == "cuda" else "none"
    if not (settings.channels_last and device.type == "cuda"):
        recipe.pop("channels_last")
    spec = dataset_spec(dataset)  # a user's data set: its name and the fingerprint of its images
    name = f"{spec.name}:{spec.fingerprint}" if spec.custom else spec.name
    return {"arch": cell.arch, "dataset": name, "C": C, "N": N, "n_train": n_train, **recipe}


def _rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def _state(expected: dict[str, Any], parts: Mapping[str, Any], epoch: int, history: list[dict[str, Any]],
           elapsed_s: float) -> dict[str, Any]:
    return {"format": _CHECKPOINT_FORMAT, "fingerprint": expected, "epoch": epoch,
            **{name: part.state_dict() for name, part in parts.items()},
            "rng": _rng_state(), "history": history, "elapsed_s": elapsed_s}


def save_checkpoint(path: Path, expected: dict[str, Any], parts: Mapping[str, Any], *, epoch: int,
                    history: list[dict[str, Any]], elapsed_s: float) -> None:
    """Write the state after ``epoch`` epochs atomically; ``parts``: model, optimizer, scheduler, scaler by name."""
    state = _state(expected, parts, epoch, history, elapsed_s)
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def checkpoint_bytes(expected: dict[str, Any], parts: Mapping[str, Any], *, epoch: int,
                     history: list[dict[str, Any]], elapsed_s: float) -> bytes:
    """The bytes of the file ``save_checkpoint`` would write, written nowhere."""
    buffer = io.BytesIO()
    torch.save(_state(expected, parts, epoch, history, elapsed_s), buffer)
    return buffer.getvalue()


def _load(source: Path | bytes, expected: dict[str, Any], name: str) -> dict[str, Any]:
    """The checkpoint in ``source`` (a file or its bytes), called ``name`` in errors; ``RunDirError`` when
    unreadable, not a checkpoint, or of another run."""
    try:
        state = torch.load(io.BytesIO(source) if isinstance(source, bytes) else source, map_location="cpu",
                           weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError) as err:
        raise RunDirError(f"checkpoint {name!r} cannot be read ({err}); delete it to start afresh") from None
    if not isinstance(state, dict) or state.get("format") != _CHECKPOINT_FORMAT:
        raise RunDirError(f"{name!r} is not an evonas training checkpoint ({_CHECKPOINT_FORMAT}); "
                          f"delete it or choose another checkpoint path")
    found = state["fingerprint"]
    diff = [f"{k}: checkpoint {found.get(k)!r} vs requested {v!r}" for k, v in expected.items() if found.get(k) != v]
    if diff:
        raise RunDirError(f"checkpoint {name!r} belongs to another training run ({'; '.join(diff)}); "
                          f"delete it, or use another run directory, or train with the checkpoint's settings")
    return state


def resume_checkpoint(source: Path | str | bytes | None, expected: dict[str, Any], parts: Mapping[str, Any], *,
                      name: str | None = None) -> Resumed:
    """Load the checkpoint in ``source`` (a path, or the bytes of a checkpoint file; None or a missing file:
    start afresh) into ``parts`` and the RNGs; where to go on from. ``name`` says in errors which checkpoint
    it is (default: the path; bytes: where the driver keeps them)."""
    source = Path(source) if isinstance(source, str) else source
    if source is None or isinstance(source, Path) and not source.exists():
        return 0, [], 0.0
    state = _load(source, expected, name or (str(source) if isinstance(source, Path) else "sent checkpoint"))
    for part_name, part in parts.items():
        part.load_state_dict(state[part_name])
    _set_rng_state(state["rng"])
    return state["epoch"], list(state["history"]), state["elapsed_s"]

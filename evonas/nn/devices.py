"""Torch devices: the choice (``auto|cpu|cuda``), a readable name, the CUDA numerics of scoring and training.

Scores must not depend on where they run: ``configure_scoring`` turns TF32 off for matmuls
and cuDNN convolutions (TF32 keeps 10 mantissa bits, and gradient-kernel scores amplify
float32 round-off) and asks cuDNN for deterministic kernels without autotuning. Training
wants speed instead: ``training_numerics`` allows TF32 and cuDNN autotuning inside a block
and restores the previous flags afterwards.
"""
from __future__ import annotations

import contextlib
import platform
from functools import lru_cache
from typing import Iterator

import torch

from evonas.errors import ConfigError

__all__ = ["resolve_device", "device_name", "DEVICE_CHOICES", "configure_scoring", "scoring_flags",
           "training_numerics"]

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(choice: str = "auto") -> torch.device:
    """``auto``: the (first visible) GPU when there is one, else the CPU; ``cuda`` without a GPU fails."""
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cpu":
        return torch.device("cpu")
    if choice == "cuda" or choice.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device: {choice!r} was requested but torch sees no CUDA GPU here; "
                              f"use device: auto or cpu")
        return torch.device(choice)
    raise ConfigError(f"device: unknown value {choice!r}; choose from {list(DEVICE_CHOICES)}")


@lru_cache(maxsize=None)
def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def device_name(device: torch.device | str) -> str:
    """E.g. ``NVIDIA H100 80GB HBM3`` or the CPU model string."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return _cpu_name()


# -- CUDA numerics ------------------------------------------------------------------------
def _set_tf32(enabled: bool) -> None:
    """TF32 for cuBLAS matmuls and cuDNN convolutions through the ``allow_tf32`` switches.

    torch >= 2.9 also has per-backend ``fp32_precision`` settings; its legacy switches set those
    too and keep both views consistent, while setting only the new ones makes every later read
    of ``allow_tf32`` (``torch.backends.cudnn.flags()``, used by ``torch.jit.trace``) fail.
    """
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled


def _tf32() -> tuple[bool, bool]:
    """(matmul, cuDNN conv) TF32 allowed."""
    return bool(torch.backends.cuda.matmul.allow_tf32), bool(torch.backends.cudnn.allow_tf32)


def scoring_flags() -> dict[str, bool]:
    """The process-wide flags that change CUDA results: TF32 for matmul and conv, cuDNN determinism."""
    matmul, conv = _tf32()
    return {"tf32_matmul": matmul, "tf32_conv": conv,
            "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
            "cudnn_benchmark": bool(torch.backends.cudnn.benchmark)}


def configure_scoring(device: torch.device | str | None = None) -> dict[str, bool]:
    """Full float32 and deterministic cuDNN kernels for scores; returns the flags now in force.

    Call once where a scorer starts (it sets process-wide flags). Safe on a CPU-only build:
    the flags exist there and change nothing. ``device`` is accepted for symmetry and ignored:
    the flags hold for every GPU of the process.
    """
    del device
    _set_tf32(False)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    return scoring_flags()


@contextlib.contextmanager
def training_numerics(device: torch.device | str) -> Iterator[None]:
    """On CUDA: TF32 and cuDNN autotuning inside the block, the previous flags restored after.

    On the CPU nothing changes.
    """
    if torch.device(device).type != "cuda":
        yield
        return
    matmul, conv = _tf32()
    deterministic, benchmark = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    _set_tf32(True)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = False, True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, conv
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = deterministic, benchmark

"""Device choice (``auto|cpu|cuda``) and a readable name for the device a number came from."""
from __future__ import annotations

import platform
from functools import lru_cache

import torch

from evonas.errors import ConfigError

__all__ = ["resolve_device", "device_name", "DEVICE_CHOICES"]

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

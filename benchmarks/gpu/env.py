"""The ``env`` section: device, library versions and scoring flags, where the figures come from."""
from __future__ import annotations

import os
import platform
import subprocess
from typing import Any

import torch

from evonas.nn.devices import configure_scoring, device_name
from gpu.plan import REPO, Budget, Context


def _version(module: str) -> str | None:
    try:
        return __import__(module).__version__
    except Exception:  # noqa: BLE001 - absent or broken: reported as missing
        return None


def section_env(ctx: Context, out: dict[str, Any], budget: Budget) -> None:
    """Where the figures come from."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                text=True).stdout.strip()
    except OSError:  # no git on the machine
        commit = ""
    out.update({
        "device": str(ctx.device), "device_name": device_name(ctx.device), "cpu": device_name("cpu"),
        "cpu_count": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version(),
        "torch": torch.__version__, "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "gpu_memory_gib": (round(torch.cuda.get_device_properties(ctx.device).total_memory / 2**30, 1)
                           if ctx.on_gpu else None),
        "ray": _version("ray"), "pymoo": _version("pymoo"), "fvcore": _version("fvcore"),
        "commit": commit or None, "scoring_flags": configure_scoring(ctx.device),
        "quick": ctx.plan.quick,
    })

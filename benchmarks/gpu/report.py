"""The report on disk: its JSON and markdown, rewritten atomically as sections progress."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from gpu.markdown import markdown


class Report:
    """The JSON on disk, rewritten atomically after each section and at most every few seconds inside one."""

    def __init__(self, path: Path, md_path: Path) -> None:
        self.path, self.md_path = path, md_path
        self.data: dict[str, Any] = {"format": "evonas-gpu-report-1", "finished": False, "sections": {}}
        self._last = 0.0

    def section(self, name: str) -> dict[str, Any]:
        self.data["sections"][name] = out = {"status": "running"}
        return out

    def save(self, force: bool = False) -> None:
        if not force and time.perf_counter() - self._last < 5.0:
            return
        self._last = time.perf_counter()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, default=_json_default) + "\n")
        os.replace(tmp, self.path)
        tmp = self.md_path.with_name(self.md_path.name + ".tmp")
        tmp.write_text(markdown(self.data))
        os.replace(tmp, self.md_path)


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)

"""The CSV files of evonas: written atomically, read back as rows of strings, and the ``score`` command's table."""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Sequence

from evonas.engine.records import Evaluation
from evonas.errors import RunDirError
from evonas.files import atomic_write

__all__ = ["csv_value", "read_csv", "write_csv", "write_scores"]


def csv_value(value: Any) -> Any:
    """A value as written to a CSV cell: floats by repr (round-trip exact), non-finite ones by name."""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return value


def write_csv(path: Path, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """Write ``rows`` under a header of ``columns`` atomically (a reader never sees half a file)."""
    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                writer.writerow({k: csv_value(v) for k, v in row.items()})

    atomic_write(path, write)


def read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise RunDirError(f"{path} does not exist")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_scores(path: str | Path, evaluations: Sequence[Evaluation], scores: Sequence[str]) -> None:
    """The ``evonas score`` table: one row per cell, its scores, status, time and device."""
    rows: list[dict[str, Any]] = []
    for ev in evaluations:
        row: dict[str, Any] = {"arch": ev.arch, "index": ev.index, **ev.values, "status": ev.status,
                               "wall_time_s": round(ev.wall_time, 4), "device": ev.device,
                               "error": ev.error.strip().splitlines()[0] if ev.error else ""}
        rows.append(row)
    write_csv(Path(path), rows, ["arch", "index", *scores, "status", "wall_time_s", "device", "error"])

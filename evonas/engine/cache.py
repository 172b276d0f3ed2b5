"""A score cache shared across runs: a score is never recomputed for the same inputs.

One file per (score, its version, its settings, seed, data set, data source (a user's data set: the
fingerprint of its images), network shape,
device kind, the versions of the libraries that change values) under ``cache.dir``; its first line is a JSON header with that key, each further line
``arch<TAB>value``: the value of that cell, a reduced one (``Cell.reduced``) when the search writes it. Files whose header does not match (foreign) or lines that do not
parse (corrupt, e.g. cut by a crash) are ignored with one warning, never fatal.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Mapping

from evonas.engine.records import ScorerSpec
from evonas.scores import get_score
from evonas.datasets import DatasetSpec, dataset_spec

__all__ = ["ScoreCache", "cache_key", "library_versions", "open_caches"]

log = logging.getLogger("evonas")
MAGIC = "evonas-score-cache-v3"  # v2: lines keyed by the (reduced) arch string; v3: versions in the key


def library_versions() -> dict[str, str]:
    """Versions of the libraries whose releases can change a score's value: torch (major.minor) and fvcore."""
    from importlib.metadata import PackageNotFoundError, version

    import torch

    try:
        fvcore = version("fvcore")
    except PackageNotFoundError:
        fvcore = "absent"
    return {"torch": ".".join(str(torch.__version__).split("+")[0].split(".")[:2]), "fvcore": fvcore}


def cache_key(score: str, settings: Mapping[str, Any], *, seed: int, dataset: str | DatasetSpec,
              data_root: str | None, C: int, N: int, device_kind: str) -> dict[str, Any]:
    """Everything a cached value depends on, the score's registered ``version`` and the library versions included.

    A user's data set (its spec) is keyed by the fingerprint of its decoded images, never by its name
    or folder: two data sets of one name never share a value, and the same images moved elsewhere do.
    """
    spec = dataset_spec(dataset)
    data = f"fingerprint:{spec.fingerprint}" if spec.custom else data_root or "packaged"
    return {"magic": MAGIC, "score": score, "version": get_score(score).version,
            "settings": dict(sorted(settings.items())), "seed": seed, "dataset": spec.name,
            "data": data, "C": C, "N": N, "device": device_kind, "libraries": library_versions()}


def _file_name(key: Mapping[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return f"{key['score']}-{digest}.tsv"


class ScoreCache:
    """Values of one score under one key, by arch string; appended and flushed per value."""

    def __init__(self, directory: str | Path, key: Mapping[str, Any]) -> None:
        self.key = json.loads(json.dumps(dict(key), sort_keys=True))
        self.path = Path(directory).expanduser() / _file_name(self.key)
        self.values: dict[str, float] = {}
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        bad = 0
        with open(self.path, encoding="utf-8", errors="replace") as f:
            try:
                header = json.loads(f.readline())
            except json.JSONDecodeError:
                header = None
            if header != self.key:
                aside = self.path.with_name(self.path.name + ".ignored")
                log.warning(f"score cache {self.path} is corrupt or belongs to other settings; "
                            f"moved aside to {aside.name} and ignored")
                f.close()
                os.replace(self.path, aside)
                return
            for line in f:
                parts = line.rstrip("\n").split("\t")
                try:
                    arch, value = parts[0], float(parts[1])
                    if len(parts) != 2 or not arch:
                        raise ValueError
                except (IndexError, ValueError):
                    bad += 1
                    continue
                self.values[arch] = value
        if bad:
            log.warning(f"score cache {self.path}: ignored {bad} unreadable line(s)")

    def get(self, arch: str) -> float | None:
        return self.values.get(arch)

    def put(self, arch: str, value: float) -> None:
        """Record ``value``; a new value for an arch already held is appended and wins on the next load."""
        if arch in self.values and self.values[arch] == value:
            return
        self.values[arch] = value
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists() or self.path.stat().st_size == 0
        with open(self.path, "a", encoding="utf-8") as f:
            if new:
                f.write(json.dumps(self.key, sort_keys=True) + "\n")
            elif not _ends_with_newline(self.path):
                f.write("\n")
            f.write(f"{arch}\t{value!r}\n" if math.isfinite(value) else f"{arch}\t{value}\n")
            f.flush()
            os.fsync(f.fileno())


def open_caches(directory: str | Path | None, spec: ScorerSpec,
                device_kind: str | Callable[[str], str]) -> dict[str, ScoreCache]:
    """One cache per score of ``spec`` under ``directory`` (a config's ``cache.dir``; none when it is None),
    keyed by the spec's settings and by the device that computes the score (``device_kind``: one name,
    or a pool's ``device_for``)."""
    if directory is None:
        return {}
    device = device_kind if callable(device_kind) else (lambda name: device_kind)
    return {name: ScoreCache(directory, cache_key(
        name, asdict(spec.settings[name]), seed=spec.seed, dataset=spec.dataset, data_root=spec.data_root,
        C=spec.C, N=spec.N, device_kind=device(name))) for name in spec.scores}


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"

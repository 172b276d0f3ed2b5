"""The rank reference of the rank aggregates (``gradient_kernel_agg``, ``az_nas``, ``vkdnw_agg``): the packaged
sample of member values, and the member syntax.

A reference (``evonas/data/rank_reference_<dataset>.npz``, built by ``python -m
evonas.builders.reference``) holds each member score's values on a fixed sample of cells
and the settings they were computed with. Members are score names, optionally suffixed
``:max`` or ``:min`` to override the registered direction. No torch here: the aggregate's
settings are checked with it when a config is read.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evonas.data import DATA_DIR
from evonas.errors import ConfigError, DataError
from evonas.scores.registry import get_score, make_settings, minimise_sign

__all__ = ["DEFAULT_MEMBERS", "AZ_NAS_MEMBERS", "VKDNW_AGG_MEMBERS", "AZ_NAS_GK_MEMBERS", "parse_member", "Reference",
           "reference_path", "load_reference"]

DEFAULT_MEMBERS = ("gradient_kernel", "naswot", "synflow", "flops:max")
#: AZ-NAS (Lee and Ham, CVPR 2024): expressivity, progressivity, trainability and complexity (more FLOPs rank higher)
AZ_NAS_MEMBERS = ("az_expressivity", "az_progressivity", "az_trainability", "flops:max")
#: VKDNW_agg (Tybl and Neumann, CVPR 2025): VKDNW's entropy, AZ-NAS's expressivity and trainability, FLOPs and
#: jacob_cov (the entropy, not the lexicographic single ranker: the authors' ImageNet search aggregates the
#: entropy, and it reproduces the paper's tau where ``vkdnw`` falls 0.02 short; docs/benchmarks_scores.md)
VKDNW_AGG_MEMBERS = ("vkdnw_entropy", "az_expressivity", "az_trainability", "flops:max", "jacob_cov")
#: evonas's: the gradient kernel with AZ-NAS's four terms (the best of three sets on 300 cells, confirmed held out)
AZ_NAS_GK_MEMBERS = ("gradient_kernel",) + AZ_NAS_MEMBERS


def parse_member(member: str) -> tuple[str, float]:
    """(score name, sign): +1 when larger member values rank higher, -1 when smaller do."""
    name, _, direction = member.partition(":")
    if direction not in ("", "max", "min"):
        raise ConfigError(f"member {member!r}: the suffix must be ':max' or ':min'")
    info = get_score(name)
    return name, -minimise_sign(direction or info.direction)


@dataclass(frozen=True)
class Reference:
    """Member values (raw, registered direction) of a fixed sample of cells, and how they were computed."""

    path: str
    dataset: str
    C: int
    N: int
    arches: tuple[str, ...]
    values: dict[str, np.ndarray]
    settings: dict[str, dict[str, Any]]

    def settings_of(self, name: str) -> Any:
        if name not in self.values:
            raise ConfigError(f"member {name!r} is not in the reference {self.path}; it holds {sorted(self.values)} "
                              f"(build another with python -m evonas.builders.reference --members ...)")
        return make_settings(name, self.settings[name])


def reference_path(dataset: str) -> Path:
    return DATA_DIR / f"rank_reference_{dataset}.npz"


@functools.lru_cache(maxsize=8)
def load_reference(path: str) -> Reference:
    """The reference sample stored at ``path`` (see ``evonas.builders.reference``)."""
    if not Path(path).is_file():
        raise DataError(f"no rank reference at {path}; build one with python -m evonas.builders.reference")
    with np.load(path, allow_pickle=False) as f:
        meta = json.loads(str(f["meta"]))
        values = {k.removeprefix("values_"): np.asarray(f[k], dtype=float) for k in f.files if k.startswith("values_")}
        arches = tuple(str(a) for a in f["arches"])
    return Reference(path, meta["dataset"], int(meta["C"]), int(meta["N"]), arches, values, meta["settings"])

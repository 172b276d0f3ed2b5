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
import shlex
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from evonas.data import DATA_DIR
from evonas.datasets import DatasetSpec
from evonas.errors import ConfigError, DataError
from evonas.scores.registry import get_score, make_settings, minimise_sign

__all__ = ["DEFAULT_MEMBERS", "AZ_NAS_MEMBERS", "VKDNW_AGG_MEMBERS", "AZ_NAS_GK_MEMBERS", "parse_member", "Reference",
           "reference_path", "read_reference", "load_reference", "build_command"]

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


def reference_path(dataset: str, aggregate: str = "") -> Path:
    """The packaged reference of ``dataset``: the one the aggregates share, or ``aggregate``'s own (its members at
    its own settings, ``RankAggregateSettings.member_settings``)."""
    return DATA_DIR / (f"rank_reference_{dataset}_{aggregate}.npz" if aggregate else f"rank_reference_{dataset}.npz")


#: how to make a reference file (the builder without --out would rewrite a packaged one)
BUILD = "build one with python -m evonas.builders.reference --out PATH (see its --help)"


def read_reference(path: str | Path) -> tuple[dict[str, Any], tuple[str, ...], dict[str, np.ndarray]]:
    """(``meta``, ``arches``, member values by name) of the reference file at ``path``, checked: a file that
    is not one (a text file, a data set's .npz, a reference missing a part) is a ``DataError`` naming it and
    what is wrong. The one reader of reference files (``load_reference``, the builder's ``--add``)."""
    def bad(why: str) -> DataError:
        return DataError(f"{path} is not a rank reference: {why}; {BUILD}")

    if not Path(path).is_file():
        raise DataError(f"no rank reference at {path}; {BUILD}")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        raise bad("not a NumPy .npz archive") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise bad("a single NumPy array, not an .npz archive")
    with archive as f:
        missing = [k for k in ("meta", "arches") if k not in f.files]
        if missing or not any(k.startswith("values_") for k in f.files):
            raise bad(f"it holds {sorted(f.files)[:6]}, not meta, arches and values_<member>")
        try:
            text = str(f["meta"])
            arches = tuple(str(a) for a in f["arches"])
            values = {k.removeprefix("values_"): np.asarray(f[k], dtype=float) for k in f.files
                      if k.startswith("values_")}
        except (ValueError, TypeError, OSError, zipfile.BadZipFile) as err:
            raise bad(f"its arrays cannot be read ({type(err).__name__}: {err})") from None
    try:
        meta = json.loads(text)
    except ValueError:
        raise bad("its meta is not JSON") from None
    lacking = [k for k in ("dataset", "C", "N", "settings") if k not in meta] if isinstance(meta, dict) else ["all"]
    if lacking:
        raise bad(f"its meta lacks {lacking}")
    uneven = sorted(m for m, v in values.items() if v.shape != (len(arches),))
    unset = sorted(set(values) - set(meta["settings"]))
    if uneven or unset:
        raise bad(f"members {uneven} do not hold one value per cell" if uneven else f"members {unset} have no settings")
    return meta, arches, values


@functools.lru_cache(maxsize=8)
def load_reference(path: str) -> Reference:
    """The reference sample stored at ``path`` (see ``evonas.builders.reference``), checked (``read_reference``)."""
    meta, arches, values = read_reference(path)
    return Reference(path, meta["dataset"], int(meta["C"]), int(meta["N"]), arches, values, meta["settings"])


def build_command(dataset: DatasetSpec, members: Sequence[str], out: str = "ref.npz") -> str:
    """The builder's command line that makes a reference of ``members`` on a user's images (``dataset.source``),
    as the ``score`` command reads them (its ``--data-root``, ``--resolution``, ``--val-split``)."""
    src = dataset.source
    if src is None:
        raise ValueError(f"{dataset.name} is not a user's data set")
    flags = ["--dataset", "custom", "--data-root", src.root]
    flags += ["--resolution", str(src.resolution)] if src.resolution is not None else []
    flags += ["--val-split", f"{src.val_split:g}"] if src.val_split is not None else []
    names = ",".join(dict.fromkeys(m.partition(":")[0] for m in members))
    return shlex.join(["python", "-m", "evonas.builders.reference", *flags, "--members", names, "--out", out])

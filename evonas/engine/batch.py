"""Scoring a list of architectures with any registered scores (the ``score`` command).

``score_command`` is the command's body: its flags in, the evaluations out (the CLI writes them
with ``run.tables.write_scores``). ``check_references`` refuses, before any scoring, a rank
aggregate's reference sample built on other images than a user's data set (the search checks it too).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import yaml

from evonas.config.schema import RayConfig
from evonas.errors import ArchError, DataError, EvonasError
from evonas.engine.pool import make_pool
from evonas.engine.records import Evaluation, ScorerSpec
from evonas.space.cell import Cell
from evonas.datasets import DatasetSpec, dataset_spec, resolve
from evonas.space.table import sample_uniform

__all__ = ["read_archs", "sample_archs", "score_archs", "score_command", "check_references"]


def read_archs(path: str | Path) -> list[Cell]:
    """One arch string or NB201 index per line (blank lines and ``#`` comments skipped)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"--archs {str(path)!r} does not exist; give a file with one arch string or index per line")
    cells = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            cells.append(Cell.parse(text))
        except ArchError as err:
            raise ArchError(f"{path}:{n}: {err}") from None
    if not cells:
        raise DataError(f"--archs {str(path)!r} lists no architecture")
    return cells


def sample_archs(n: int, seed: int = 0, connected_only: bool = True) -> list[Cell]:
    """``n`` distinct NB201 cells drawn uniformly by index (connected ones only by default), in index order."""
    return sorted(sample_uniform(n, seed, connected_only=connected_only), key=lambda cell: cell.index)


def score_archs(cells: Sequence[Cell], spec: ScorerSpec, ray_config: RayConfig = RayConfig(), *,
                progress: Callable[[int, int, float], None] | None = None) -> list[Evaluation]:
    """Score every cell (in the given order) through the pool ``ray_config`` describes (``make_pool``);
    device-timing scores (latency) after each cell's others, with the device to themselves."""
    by_arch: dict[str, Evaluation] = {}
    t0 = time.perf_counter()
    with make_pool(spec, ray_config) as pool:
        for ev in pool.map_unordered(list(dict.fromkeys(cells))):
            by_arch[ev.arch] = ev
            if progress is not None:
                progress(len(by_arch), len(cells), time.perf_counter() - t0)
    return [by_arch[c.arch] for c in cells]


def check_references(scores: Mapping[str, Any], names: Sequence[str], dataset: DatasetSpec) -> None:
    """A rank aggregate's reference built on other images than the user's fails now, not on every cell.

    ``scores``: the per-score settings (as a config's ``scores``); ``names``: the scores to compute.
    """
    if not dataset.custom:
        return
    from evonas.scores.reference import load_reference
    from evonas.scores.registry import make_settings

    want = f"{dataset.name}:{dataset.fingerprint}"
    for name in names:
        path = getattr(make_settings(name, scores.get(name)), "reference", "")
        held = load_reference(path).dataset if path else want
        if held != want:
            raise EvonasError(f"scores.{name}.reference: {path} was built on {held}, not on these images ({want}); "
                              f"build one for them with python -m evonas.builders.reference --config CONFIG "
                              f"--out PATH")


def _print_progress(done: int, total: int, seconds: float) -> None:
    print(f"\r{done}/{total} scored, {done / max(seconds, 1e-9):.2f} archs/s", end="", file=sys.stderr)


def score_command(scores: str, *, archs: Path | None = None, n: int | None = None, seed: int = 0,
                  dataset: str = "cifar10", data_root: str | None = None, resolution: int | None = None,
                  val_split: float | None = None, device: str = "auto", settings: str | None = None,
                  backend: str = "ray", actors: int | None = None, address: str | None = None,
                  connect_timeout: float = 10.0, progress: Callable[[int, int, float], None] | None = _print_progress
                  ) -> tuple[tuple[str, ...], list[Evaluation]]:
    """``evonas score``'s body, its flags as arguments: (the score names, every cell's evaluation).

    ``scores``: comma-separated names; the cells are read from ``archs`` or ``n`` are sampled;
    ``settings``: a YAML mapping of per-score settings; ``dataset`` custom reads the user's images at
    ``data_root`` (``resolution``, ``val_split``). A bad flag is an ``EvonasError`` before any scoring;
    ``progress`` (default: a line on stderr) hears of every cell scored.
    """
    names = tuple(s.strip() for s in scores.split(",") if s.strip())
    per_score = yaml.safe_load(settings) if settings else {}
    if not isinstance(per_score, dict):
        raise EvonasError(f"--settings must be a YAML mapping, got {settings!r}")
    data: str | DatasetSpec = dataset
    if dataset == "custom":
        from evonas.config.load import config_from_mapping

        where = {"root": data_root, "resolution": resolution, "val_split": val_split}
        data = resolve(config_from_mapping({"dataset": "custom", "data": where}))  # read and checked here
        check_references(per_score, names, data)
    elif resolution is not None or val_split is not None:
        raise EvonasError("--resolution and --val-split are for --dataset custom (your own images)")
    spec = ScorerSpec(scores=names, settings=per_score, dataset=dataset_spec(data), data_root=data_root, seed=seed,
                      device=device)
    if n is None and archs is None:
        raise EvonasError("give --archs FILE or --n N")
    cells = read_archs(archs) if archs is not None else sample_archs(n, seed)
    if address is not None and backend == "ray":
        from evonas.engine.cluster import check_ray_address

        if not connect_timeout > 0:
            raise EvonasError(f"--connect-timeout {connect_timeout:g}: must be > 0 seconds")
        check_ray_address(address, connect_timeout, name="--address")
    ray_config = RayConfig(backend=backend, num_actors=actors, address=address, connect_timeout_s=connect_timeout)
    return names, score_archs(cells, spec, ray_config, progress=progress)

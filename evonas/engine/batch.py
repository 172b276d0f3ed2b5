"""Scoring a list of architectures with any registered scores (the ``score`` command)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Sequence

from evonas.errors import ArchError, DataError
from evonas.engine.pool import make_pool, map_phased
from evonas.engine.records import Evaluation, ScorerSpec
from evonas.space.cell import Cell
from evonas.space.table import sample_uniform

__all__ = ["read_archs", "sample_archs", "score_archs"]


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


def score_archs(cells: Sequence[Cell], spec: ScorerSpec, *, backend: str = "ray", num_actors: int | None = None,
                address: str | None = None, progress: Callable[[int, int, float], None] | None = None
                ) -> list[Evaluation]:
    """Score every cell (in the given order) through a pool; device-timing scores (latency) in a
    phase of their own, with the device to themselves (``map_phased``)."""
    by_arch: dict[str, Evaluation] = {}
    t0 = time.perf_counter()
    with make_pool(spec, backend=backend, num_actors=num_actors, address=address) as pool:
        for ev in map_phased(pool, list(dict.fromkeys(cells)), scores=spec.scores):
            by_arch[ev.arch] = ev
            if progress is not None:
                progress(len(by_arch), len(cells), time.perf_counter() - t0)
    return [by_arch[c.arch] for c in cells]

"""What must happen to each cell a pool scores: its parts, merged back as they come (no Ray, no torch).

A cell's scores are split by the kind of actor that runs them (GPU actors, and CPU actors beside
them for the scores ``beside`` names); the scores that time the device (``exclusive``) become a
part of their own, due once every other part is in, so that they are timed with the device to
themselves; a failed part fails the cell. ``evonas.engine.scheduler`` decides who does each part
and when; this module only keeps the books.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

from evonas.engine.records import Evaluation
from evonas.scores import split_exclusive
from evonas.space.cell import Cell

__all__ = ["CellWork", "Job"]


@dataclass
class Job:
    """Part of a cell's scoring for one kind of actor; ``scores`` None: all of the spec's."""

    cell: Cell
    kind: str
    scores: tuple[str, ...] | None
    exclusive: bool = False
    attempt: int = 1


class CellWork:
    """The cells submitted and not yet handed back: each one's parts still to come, the parts that came,
    its device-timing scores still to run; the evaluations finished (``take_done``)."""

    def __init__(self, scores: Iterable[str], target_kind: str, split: bool, beside: Callable[[str], bool]) -> None:
        self.scores, self.target_kind, self.split, self.beside = tuple(scores), target_kind, split, beside
        self.parts_left: dict[str, int] = {}             # arch -> parts still to come
        self.merged: dict[str, Evaluation] = {}          # arch -> the parts that have come
        self.then_time: dict[str, tuple[str, ...]] = {}  # arch -> exclusive scores once the rest is in
        self.done: list[Evaluation] = []

    @property
    def outstanding(self) -> int:
        """Cells planned and not yet taken back."""
        return len(self.parts_left) + len(self.done)

    def plan(self, cells: Iterable[Cell], only: Mapping[str, tuple[str, ...]] | None = None, *,
             exclusive: bool = False) -> list[Job]:
        """The first parts of ``cells`` (``only[arch]``: just these scores); ``exclusive``: every score times the
        device. A cell still outstanding is an error."""
        jobs: list[Job] = []
        for cell in cells:
            arch = cell.arch
            if arch in self.parts_left:
                raise ValueError(f"{arch} is already being scored")
            names = tuple((only or {}).get(arch) or self.scores)
            shared, timed = ((), names) if exclusive else split_exclusive(names)
            parts = self._parts(cell, shared) if shared else []
            if not parts:
                parts, timed = [Job(cell, self.target_kind, timed, exclusive=True)], ()
            self.parts_left[arch] = len(parts)
            if timed:
                self.then_time[arch] = timed
            jobs += parts
        return jobs

    def _parts(self, cell: Cell, names: tuple[str, ...]) -> list[Job]:
        if not self.split:
            return [Job(cell, self.target_kind, names)]
        parts = {"gpu": tuple(n for n in names if not self.beside(n)), "cpu": tuple(n for n in names if self.beside(n))}
        return [Job(cell, kind, part) for kind, part in parts.items() if part]

    def settle(self, job: Job, ev: Evaluation) -> Job | None:
        """Merge one part into its cell. The cell is done once every part is in, or one failed; the part that
        times the device is returned when it falls due (every other part in)."""
        arch = job.cell.arch
        if arch not in self.parts_left:  # the cell already failed through another part
            return None
        ev = self.merged.pop(arch).merge(ev) if arch in self.merged else ev
        self.parts_left[arch] -= 1
        if ev.ok and self.parts_left[arch] > 0:
            self.merged[arch] = ev
            return None
        timed = self.then_time.pop(arch, ())
        if ev.ok and timed:
            self.merged[arch], self.parts_left[arch] = ev, 1
            return Job(job.cell, self.target_kind, timed, exclusive=True)
        del self.parts_left[arch]
        self.done.append(ev)
        return None

    def take_done(self) -> list[Evaluation]:
        """The evaluations finished since the last call."""
        out, self.done = self.done, []
        return out

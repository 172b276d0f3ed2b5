"""The NAS-Bench-201 cell space: encoding, arch strings, connectivity, canonical form, reduction.

One encoding is used everywhere in evonas: a tuple of 6 ints, one per edge, in the
order the arch string lists them, ``(1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2)``; each int
indexes ``OPS``. Other libraries (NASLib) order ops and edges differently: convert at
the boundary, never here.

Isomorphic cells (equal ``canonical``) compute the same function but not at the same cost:
the network still runs edges whose output never reaches the cell output, or whose input is
always zero. ``Cell.reduced`` is the cheapest member of a cell's isomorphism class, one per
class; evonas scores, reports and exports that cell.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Iterator, Sequence

import numpy as np

from evonas.errors import ArchError
from evonas.space.numbering import index_of, ops_at

__all__ = ["OPS", "EDGES", "N_EDGES", "N_OPS", "N_ARCHS", "Cell", "all_cells"]

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
N_EDGES = len(EDGES)
N_OPS = len(OPS)
N_ARCHS = N_OPS**N_EDGES  # 15,625
_N_NODES = 4
_TOKEN = re.compile(r"^([a-z0-9_]+)~(\d+)$")


@dataclass(frozen=True, order=True)
class Cell:
    """A NAS-Bench-201 cell as its 6 op indices (see module docstring for the order)."""

    ops: tuple[int, ...]

    def __post_init__(self) -> None:
        ops = tuple(int(o) for o in self.ops)
        if len(ops) != N_EDGES:
            raise ArchError(f"a cell encoding has {N_EDGES} ints, got {len(ops)}: {list(self.ops)}")
        bad = [o for o in ops if not 0 <= o < N_OPS]
        if bad:
            raise ArchError(
                f"cell encoding {list(ops)} is out of range: each op index must be in 0..{N_OPS - 1} "
                f"({', '.join(f'{i}={n}' for i, n in enumerate(OPS))})"
            )
        object.__setattr__(self, "ops", ops)

    # -- construction -------------------------------------------------------------
    @classmethod
    def from_string(cls, arch: str) -> "Cell":
        """Parse ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``; raise ``ArchError`` naming the fault."""
        text = arch.strip()
        if not (text.startswith("|") and text.endswith("|")):
            raise ArchError(f"malformed arch string {arch!r}: it must start and end with '|'")
        nodes = text[1:-1].split("|+|")
        if len(nodes) != _N_NODES - 1:
            raise ArchError(
                f"malformed arch string {arch!r}: expected {_N_NODES - 1} nodes separated by '+', got {len(nodes)}"
            )
        ops: list[int] = []
        for target, node in enumerate(nodes, start=1):
            tokens = node.split("|")
            if len(tokens) != target:
                raise ArchError(f"malformed arch string {arch!r}: node {target} needs {target} inputs, got {len(tokens)}")
            for source, token in enumerate(tokens):
                match = _TOKEN.match(token)
                if match is None:
                    raise ArchError(f"malformed arch string {arch!r}: token {token!r} is not 'op~input'")
                name, src = match.group(1), int(match.group(2))
                if name not in OPS:
                    raise ArchError(f"malformed arch string {arch!r}: unknown op {name!r}; choose from {list(OPS)}")
                if src != source:
                    raise ArchError(
                        f"malformed arch string {arch!r}: node {target}'s input {source} is written as ~{src}"
                    )
                ops.append(OPS.index(name))
        return cls(tuple(ops))

    @classmethod
    def from_index(cls, index: int) -> "Cell":
        """The cell NAS-Bench-201 numbers ``index`` (0..15624), from the shipped table."""
        return cls(ops_at(index))

    @classmethod
    def parse(cls, value: "str | int | Sequence[int] | Cell") -> "Cell":
        """Accept an arch string, an NB201 index (int or digit string), 6 ints or a Cell."""
        if isinstance(value, Cell):
            return value
        if isinstance(value, (int, np.integer)):
            return cls.from_index(int(value))
        if isinstance(value, str):
            text = value.strip()
            if text.lstrip("-").isdigit():
                return cls.from_index(int(text))
            return cls.from_string(text)
        return cls(tuple(value))

    # -- views ----------------------------------------------------------------------
    def __str__(self) -> str:
        return self.arch

    @cached_property
    def arch(self) -> str:
        """The NB201 arch string."""
        parts = []
        for target in range(1, _N_NODES):
            tokens = [f"{OPS[self.ops[e]]}~{s}" for e, (t, s) in enumerate(EDGES) if t == target]
            parts.append("|" + "|".join(tokens) + "|")
        return "+".join(parts)

    @property
    def index(self) -> int:
        """NAS-Bench-201's index of this cell."""
        return index_of(self.ops)

    @cached_property
    def _reached(self) -> frozenset[int]:
        """The nodes the input reaches through non-``none`` edges."""
        reach = {0}
        for e, (target, source) in enumerate(EDGES):  # EDGES is topologically ordered
            if source in reach and self.ops[e] != 0:
                reach.add(target)
        return frozenset(reach)

    @cached_property
    def is_connected(self) -> bool:
        """True when the output node is reachable from the input through non-``none`` edges."""
        return _N_NODES - 1 in self._reached

    @cached_property
    def dead_edges(self) -> tuple[int, ...]:
        """Non-``none`` edges on no input->output path: their output never reaches node 3, or
        their input is never reached from node 0 (it is always zero)."""
        forward, backward = self._reached, {_N_NODES - 1}
        for e, (target, source) in reversed(list(enumerate(EDGES))):
            if target in backward and self.ops[e] != 0:
                backward.add(source)
        return tuple(e for e, (target, source) in enumerate(EDGES)
                     if self.ops[e] != 0 and not (source in forward and target in backward))

    @cached_property
    def reduced(self) -> "Cell":
        """The cheapest cell of this cell's isomorphism class (the same ``canonical``).

        Cheapest by the count of 3x3 convolutions, then 1x1 convolutions, then pools, then
        non-``none`` edges (the encoding breaks the remaining ties): every op costs the same
        wherever it sits in the cell, so this is the class's minimum of fvcore FLOPs and of
        parameters for every network shape (tested over all cells against the shipped table).
        Dead edges are dropped unless NB201's class keeps them apart: ``(#+#)@op`` (an op on a
        node that sums only zeros) is a class of its own, so such an edge stays (see ``dead_edges``).
        """
        return Cell(_cheapest_of_class()[self.canonical])

    @property
    def dead_edges_text(self) -> str:
        """The dead edges as ``"3<-2 nor_conv_3x3, 2<-0 skip_connect"`` ("" when there are none)."""
        return ", ".join(f"{EDGES[e][0]}<-{EDGES[e][1]} {OPS[self.ops[e]]}" for e in self.dead_edges)

    @cached_property
    def canonical(self) -> str:
        """A string equal for cells NAS-Bench-201 deems isomorphic (its ``isomorph_key``).

        Each node is the sorted ``+``-join of its input terms: ``#`` for a ``none`` edge or a
        zero input, the input's own string for ``skip_connect``, ``(input)@op`` otherwise.
        """
        nodes = {0: "0"}
        for target in range(1, _N_NODES):
            terms = []
            for e, (t, source) in enumerate(EDGES):
                if t != target:
                    continue
                op, value = OPS[self.ops[e]], nodes[source]
                if op == "none" or value == "#":
                    terms.append("#")
                elif op == "skip_connect":
                    terms.append(value)
                else:
                    terms.append(f"({value})@{op}")
            nodes[target] = "+".join(sorted(terms))
        return nodes[_N_NODES - 1]


_COST_ORDER = (OPS.index("nor_conv_3x3"), OPS.index("nor_conv_1x1"), OPS.index("avg_pool_3x3"))


def _cost_key(ops: tuple[int, ...]) -> tuple:
    return (*(ops.count(op) for op in _COST_ORDER), sum(o != 0 for o in ops), ops)


@lru_cache(maxsize=1)
def _cheapest_of_class() -> dict[str, tuple[int, ...]]:
    """canonical -> encoding of the cheapest member of that class (built once, about 0.2 s)."""
    best: dict[str, tuple[int, ...]] = {}
    for cell in all_cells():
        known = best.get(cell.canonical)
        if known is None or _cost_key(cell.ops) < _cost_key(known):
            best[cell.canonical] = cell.ops
    return best


def all_cells() -> Iterator[Cell]:
    """Every cell of the space in lexicographic encoding order (not NB201 index order)."""
    for code in range(N_ARCHS):
        ops = []
        for _ in range(N_EDGES):
            code, op = divmod(code, N_OPS)
            ops.append(op)
        yield Cell(tuple(reversed(ops)))

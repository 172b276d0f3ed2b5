"""The encoding, arch strings, NB201 indices, connectivity and canonical form, over all 15,625 cells."""
from __future__ import annotations

import csv
import gzip
import itertools
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED_DATA
from evonas.errors import ArchError
from evonas.space.cell import EDGES, N_ARCHS, OPS, Cell, all_cells
from evonas.space.table import load_table


def _reachable(ops: tuple[int, ...]) -> bool:
    """Independent check: depth-first search from node 0 over non-none edges."""
    adj = defaultdict(list)
    for (t, s), op in zip(EDGES, ops):
        if op != 0:
            adj[s].append(t)
    stack, seen = [0], {0}
    while stack:
        for nxt in adj[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return 3 in seen


def test_all_cells_are_distinct_and_complete():
    cells = list(all_cells())
    assert len(cells) == N_ARCHS == 15625
    assert len({c.ops for c in cells}) == N_ARCHS


def test_arch_string_round_trip_and_index_round_trip_for_every_cell():
    table = load_table()
    seen = set()
    for cell in all_cells():
        assert Cell.from_string(cell.arch) == cell
        i = cell.index
        seen.add(i)
        assert table.cell(i) == cell
    assert seen == set(range(N_ARCHS))


#: ``index,arch,isomorph_key`` of every row of the source table (../shared/data/nb201_accuracy.csv; tests/data/README.md)
ARCH_KEYS = Path(__file__).resolve().parents[1] / "data" / "nb201_arch_keys.csv.gz"
SOURCE_ACCURACY_CSV = SHARED_DATA / "nb201_accuracy.csv"


def _arch_keys() -> list[dict[str, str]]:
    with gzip.open(ARCH_KEYS, "rt", newline="") as f:
        return list(csv.DictReader(f))


def test_index_and_partition_match_the_source_table_exactly():
    rows = _arch_keys()
    assert [int(r["index"]) for r in rows] == list(range(N_ARCHS))
    key_of_canonical: dict[str, str] = {}
    canonical_of_key: dict[str, str] = {}
    for row in rows:
        cell = Cell.from_string(row["arch"])
        assert cell.index == int(row["index"])
        assert cell.arch == row["arch"]
        # the two partitions are identical: the maps both ways are functions
        assert key_of_canonical.setdefault(cell.canonical, row["isomorph_key"]) == row["isomorph_key"]
        assert canonical_of_key.setdefault(row["isomorph_key"], cell.canonical) == cell.canonical
    assert len(key_of_canonical) == 6466


@pytest.mark.skipif(not SOURCE_ACCURACY_CSV.exists(), reason="the source table lives in ../shared/data")
def test_the_extract_is_the_source_tables_columns():
    with open(SOURCE_ACCURACY_CSV, newline="") as f:
        source = [{k: r[k] for k in ("index", "arch", "isomorph_key")} for r in csv.DictReader(f)]
    assert _arch_keys() == source


def test_canonical_partition_matches_the_shipped_classes():
    table = load_table()
    canon = [table.cell(i).canonical for i in range(N_ARCHS)]
    pairs = set(zip(canon, table.isomorph_class.tolist()))
    assert len(pairs) == len(set(canon)) == len(set(table.isomorph_class.tolist()))


def test_connectivity_against_search_and_ground_truth():
    table = load_table()
    acc = table.column("cifar10_test_200ep")
    for i in range(N_ARCHS):
        cell = table.cell(i)
        assert cell.is_connected == _reachable(cell.ops)
        # a disconnected cell outputs a constant: chance accuracy in the benchmark
        assert (acc[i] <= 10.01) == (not cell.is_connected)


def test_examples():
    cell = Cell.from_string("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")
    assert cell.ops == (3, 3, 4, 1, 3, 1)
    assert cell.index == 1
    assert Cell.parse("1") == cell == Cell.parse(1) == Cell.parse([3, 3, 4, 1, 3, 1])
    assert not Cell((0,) * 6).is_connected
    assert not Cell((1, 0, 0, 0, 0, 1)).is_connected  # 2<-1 is none: node 2 is cut off
    assert Cell((1, 0, 1, 0, 0, 1)).is_connected
    # isomorphic: the skip from 0 to 1 then 1 to 3 equals a direct skip 0 to 3 (with zero elsewhere)
    assert Cell((1, 0, 0, 0, 1, 0)).canonical == Cell((0, 0, 0, 1, 0, 0)).canonical
    assert Cell((3, 0, 0, 0, 1, 0)).canonical != Cell((2, 0, 0, 0, 1, 0)).canonical


@pytest.mark.parametrize("bad,needle", [
    ("nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", "start and end"),
    ("|nor_conv_3x3~0|+|none~0|none~1|", "3 nodes"),
    ("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'conv'"),
    ("|nor_conv_3x3~1|+|none~0|none~1|+|none~0|none~1|none~2|", "written as ~1"),
    ("|nor_conv_3x3~0|+|none~0|+|none~0|none~1|none~2|", "node 2 needs 2 inputs"),
    ("|nor_conv_3x3|+|none~0|none~1|+|none~0|none~1|none~2|", "not 'op~input'"),
])
def test_malformed_strings_name_the_fault(bad, needle):
    with pytest.raises(ArchError, match=needle.replace("(", r"\(").replace("'", "'")):
        Cell.from_string(bad)


@pytest.mark.parametrize("ops", [(0, 1, 2, 3, 4), (0, 1, 2, 3, 4, 5), (-1, 0, 0, 0, 0, 0)])
def test_out_of_range_encodings_raise(ops):
    with pytest.raises(ArchError):
        Cell(ops)


@pytest.mark.parametrize("index", [-1, 15625])
def test_out_of_range_index_raises(index):
    with pytest.raises(ArchError, match="out of range"):
        Cell.from_index(index)


def test_table_indices_vectorised_agree_with_scalar():
    table = load_table()
    ops = np.array(list(itertools.islice((c.ops for c in all_cells()), 0, 15625, 97)))
    assert table.indices(ops).tolist() == [Cell(tuple(o)).index for o in ops]
    assert OPS[3] == "nor_conv_3x3"


# -- the cheapest equivalent of a cell (what evonas scores, reports and exports) --------------------
ISSUE_CHEAP = "|skip_connect~0|+|skip_connect~0|avg_pool_3x3~1|+|none~0|skip_connect~1|none~2|"
ISSUE_DEAR = "|none~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"


def _live_edges(ops: tuple[int, ...]) -> set[int]:
    """Independent check: edges on some input->output path of non-none edges."""
    fwd, back = {0}, {3}
    for e, (t, s) in enumerate(EDGES):
        if s in fwd and ops[e]:
            fwd.add(t)
    for e, (t, s) in reversed(list(enumerate(EDGES))):
        if t in back and ops[e]:
            back.add(s)
    return {e for e, (t, s) in enumerate(EDGES) if ops[e] and s in fwd and t in back}


def test_the_issues_two_isomorphs_reduce_to_one_cell_at_the_lower_cost():
    table = load_table()
    flops = table.column("flops_cifar10")
    cheap, dear = Cell.from_string(ISSUE_CHEAP), Cell.from_string(ISSUE_DEAR)
    assert cheap.canonical == dear.canonical
    assert round(float(flops[cheap.index]), 1) == 7.9 and round(float(flops[dear.index]), 1) == 114.9
    assert cheap.reduced == dear.reduced
    assert float(flops[dear.reduced.index]) <= float(flops[cheap.index])
    assert dear.reduced.reduced == dear.reduced and dear.reduced != dear
    assert set(dear.dead_edges) == {1, 2, 4}  # 2<-0, 2<-1 never reach node 3; 3<-1 reads the zero node 1
    assert dear.reduced.dead_edges == ()


def test_every_cell_reduces_within_its_class_to_the_class_minimum_of_flops_and_params():
    """Over all 15,625 cells and the three data sets of the shipped fvcore table."""
    table = load_table()
    members: dict[str, list[int]] = defaultdict(list)
    for i in range(N_ARCHS):
        members[table.cell(i).canonical].append(i)
    kinds = [f"{k}_{d}" for d in ("cifar10", "cifar100", "imagenet16-120") for k in ("flops", "params")]
    for canonical, indices in members.items():
        cells = [table.cell(i) for i in indices]
        reduced = {c.reduced for c in cells}
        assert len(reduced) == 1, canonical          # a function of the class: one representative
        rep = reduced.pop()
        assert rep.canonical == canonical and rep.is_connected == cells[0].is_connected
        assert rep.index in indices
        for kind in kinds:
            column = table.column(kind)
            assert column[rep.index] == column[indices].min(), (canonical, kind)
        if rep.is_connected:
            # no dead edge is left that could go without leaving the class
            for e in rep.dead_edges:
                ops = list(rep.ops)
                ops[e] = 0
                assert Cell(tuple(ops)).canonical != canonical


def test_dead_edges_against_an_independent_path_search():
    for cell in itertools.islice(all_cells(), 0, N_ARCHS, 7):
        live = _live_edges(cell.ops)
        assert set(cell.dead_edges) == {e for e in range(6) if cell.ops[e] and e not in live}


def test_unavoidable_dead_edges_are_named():
    # node 2 sums two zeros: NB201 keeps '(#+#)@nor_conv_3x3' apart from a cell without that conv
    cell = Cell.from_string("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|")
    assert cell.reduced == cell and cell.dead_edges == (5,)
    assert cell.dead_edges_text == "3<-2 nor_conv_3x3"


def test_info_shows_the_reduced_cell_and_the_saving():
    from evonas.nn.info import arch_info, format_info

    info = arch_info(ISSUE_DEAR)
    reduced = Cell.from_string(ISSUE_DEAR).reduced
    assert info["arch"] == ISSUE_DEAR and round(info["flops_M"], 1) == 114.9
    assert info["dead_edges"] == "2<-0 nor_conv_3x3, 2<-1 nor_conv_3x3, 3<-1 nor_conv_3x3"
    assert info["reduced"] == reduced.arch and info["reduced_index"] == reduced.index
    table = load_table()
    assert info["reduced_flops_M"] == pytest.approx(float(table.column("flops_cifar10")[reduced.index]), rel=1e-6)
    assert info["reduced_params_M"] == pytest.approx(float(table.column("params_cifar10")[reduced.index]), rel=1e-6)
    text = format_info(info)
    assert "114.9 -> 7.877 MFLOPs" in text and "evonas scores, reports and exports the reduced cell" in text
    cheapest = arch_info(reduced.index)
    assert cheapest["reduced"] == reduced.arch and "already the cheapest" in format_info(cheapest)


def test_the_readme_figures_on_isomorphs_and_their_costs():
    """573 of 6,461 connected classes differ in FLOPs, up to 14.6x; 217 reduced cells keep dead edges."""
    table = load_table()
    flops = table.column("flops_cifar10")
    by_class: dict[str, list[float]] = defaultdict(list)
    for i in range(N_ARCHS):
        cell = table.cell(i)
        if cell.is_connected:
            by_class[cell.canonical].append(float(flops[i]))
    varied = [max(v) / min(v) for v in by_class.values() if max(v) > min(v) * (1 + 1e-6)]
    assert len(by_class) == 6461 and len(varied) == 573 and round(max(varied), 1) == 14.6
    reduced = {Cell.from_string(table.cell(i).arch).reduced for i in range(N_ARCHS) if table.cell(i).is_connected}
    assert len(reduced) == 6461 and sum(bool(c.dead_edges) for c in reduced) == 217

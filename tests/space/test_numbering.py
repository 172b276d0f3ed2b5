"""NB201's numbering: index <-> encoding without the table module, and the space layer without torch."""
from __future__ import annotations

import subprocess
import sys

import numpy as np

from evonas.space.numbering import index_of, indices_of, ops_at, table_ops


def test_index_and_encoding_are_inverse():
    ops = table_ops()
    assert ops.shape == (15_625, 6)
    for i in (0, 1, 857, 15_624):
        assert index_of(ops_at(i)) == i
    assert indices_of(ops).tolist() == list(range(15_625))
    assert indices_of(np.asarray([ops_at(5), ops_at(3)])).tolist() == [5, 3]


def test_the_cell_needs_neither_the_table_module_nor_torch(subprocess_env):
    code = ("import sys; from evonas.space.cell import Cell; assert Cell.from_index(7).index == 7; "
            "bad = {'evonas.space.table', 'torch'} & set(sys.modules); assert not bad, bad; "
            "import evonas.datasets, evonas.space.latency_table, evonas.space.table; "
            "assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, env=subprocess_env)

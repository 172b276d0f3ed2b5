"""Evaluation records: parts of a cell merge into one evaluation; reading them loads no torch."""
from __future__ import annotations

import subprocess
import sys

import pytest

from evonas.engine.records import Evaluation
from evonas.space.cell import Cell

CELLS = [Cell.from_index(i) for i in (0, 1, 2, 6111)]


def test_parts_of_a_cell_merge_into_one_evaluation_and_a_failed_part_fails_it():
    arch = CELLS[0].arch
    a = Evaluation(arch, 0, {"knas": 1.0}, {"knas": 0.5}, wall_time=0.5, device="GPU", attempts=2)
    b = Evaluation(arch, 0, {"flops": 3.0}, {"flops": 0.1}, wall_time=0.1, device="CPU")
    ab = a.merge(b)
    assert ab.ok and ab.values == {"knas": 1.0, "flops": 3.0} and ab.attempts == 2 and ab.device == "GPU + CPU"
    bad = a.merge(Evaluation(arch, 0, status="failed", error="flops: boom"))
    assert not bad.ok and bad.error == "flops: boom"
    with pytest.raises(ValueError):
        a.merge(Evaluation(CELLS[1].arch, 1))


def test_the_records_import_no_torch_ray_or_pymoo(subprocess_env):
    code = ("import sys, evonas.engine.records; "
            "print(sorted(m for m in ('torch', 'ray', 'pymoo', 'fvcore') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], env=subprocess_env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"

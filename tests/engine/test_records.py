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


def test_a_spec_holds_settings_objects_and_a_resolved_data_set_checked_once_when_made(monkeypatch):
    import dataclasses
    import pickle

    import evonas.engine.records as records
    from evonas.engine.records import ScorerSpec
    from evonas.errors import ConfigError
    from evonas.scores.settings import KnasSettings
    from evonas.datasets import dataset_spec

    calls = []
    make = records.make_settings
    monkeypatch.setattr(records, "make_settings", lambda name, values=None: calls.append(name) or make(name, values))
    spec = ScorerSpec(scores=["knas", "flops"], settings={"knas": {"n_batches": 6}}, dataset=dataset_spec("cifar100"))
    assert calls == ["knas", "flops"]  # every score's settings made once, defaults included
    assert spec.scores == ("knas", "flops") and spec.settings["knas"] == KnasSettings(n_batches=6)
    assert spec.dataset.name == "cifar100" and spec.images_needed() == 6
    assert pickle.loads(pickle.dumps(spec)) == spec  # plain data for Ray; unpickling checks nothing again
    cpu = dataclasses.replace(spec, device="cpu")  # the pool's CPU actors: the settings objects are kept
    assert cpu.settings == spec.settings and calls == ["knas", "flops"]
    with pytest.raises(TypeError, match="give a DatasetSpec"):
        ScorerSpec(scores=("flops",), dataset="cifar10")
    with pytest.raises(ConfigError, match="settings given for \\['knas'\\]"):
        ScorerSpec(scores=("flops",), settings={"knas": {}})
    with pytest.raises(ConfigError, match="data.n_images: 2 is too few; the scores read 6 images"):
        ScorerSpec(scores=("knas",), settings={"knas": {"n_batches": 6}}, n_images=2)
    with pytest.raises(ConfigError, match="n_batches"):
        ScorerSpec(scores=("knas",), settings={"knas": {"n_batches": "many"}})
